// CNI DEL: release the pod's addresses through the agent.
//
// DEL must be idempotent and may come more than once, without a netns and without prevResult, so:
// - no pod identity in CNI_ARGS: ADD refuses such calls, so nothing can be held; success.
// - agent absent (no socket file, connection refused, no answer to the health check): retried for
//   ABSENT_AGENT_WAIT_MS in all, then success with a warning in the log, leaving the pod's records to
//   the garbage collector (docs/garbage-collection.md). Failing instead would keep the pod Terminating
//   for as long as the agent is gone.
// - agent unhealthy (it answers, but not ready): an error, so that kubelet retries (as Spiderpool does).
// - release answered 2xx, or 404 (the agent knows no such pod or endpoint, so nothing is left to
//   release): success.
// - any other failure (timeout, reset, 5xx, other 4xx): code 11 so that kubelet retries. Spiderpool
//   logs these and reports success, leaving the address to its garbage collector; retrying frees the
//   address as soon as the agent can, instead of holding it for a GC cycle, and the agent's release is
//   idempotent so a repeated DEL is harmless.
import { AGENT_PATHS, CNI_ERROR, type IpamDelArgs } from '../../lib/agent-api.ts';
import { AgentClient, answerError, awaitAgent } from '../skel/agent-client.ts';
import type { CniEnv } from '../skel/env.ts';
import { CniError } from '../skel/errors.ts';
import type { Logger } from '../skel/log.ts';
import type { NetConf } from './netconf.ts';

const NOTHING_TO_RELEASE = 404;
const DEL_TIMEOUT_MS = 30_000;
const ABSENT_AGENT_WAIT_MS = 3_000;

export async function cmdDel(env: CniEnv, conf: NetConf, log: Logger): Promise<void> {
  const { pod } = env;
  if (!pod) {
    log.info('no Kubernetes pod in CNI_ARGS, nothing to release');
    return;
  }
  const client = new AgentClient(conf.ipam.socketPath);
  if (await awaitAgent(client, ABSENT_AGENT_WAIT_MS)) {
    log.warn(
      `spiderpool-agent absent for ${ABSENT_AGENT_WAIT_MS / 1000} s: the pod's IP records are left to the garbage collector`,
      { socket: client.socketPath },
    );
    return;
  }
  const args: IpamDelArgs = {
    containerID: env.containerId,
    ifName: env.ifName,
    ...(env.netns ? { netNamespace: env.netns } : {}),
    podNamespace: pod.namespace,
    podName: pod.name,
    podUID: pod.uid,
  };
  const what = `DELETE ${AGENT_PATHS.ip}`;
  const answer = await client
    .call({ method: 'DELETE', path: AGENT_PATHS.ip, body: args, timeoutMs: DEL_TIMEOUT_MS })
    .catch((err: unknown) => {
      throw err instanceof CniError ? retry(err) : err;
    });
  if (answer.ok) {
    log.info('released');
    return;
  }
  if (answer.status === NOTHING_TO_RELEASE) {
    log.info('nothing to release', { reason: answer.error?.reason, message: answer.error?.message });
    return;
  }
  throw retry(
    answerError(answer, `failed to release the IPs of pod ${pod.namespace}/${pod.name} interface ${env.ifName}`, what),
  );
}

const retry = (err: CniError): CniError => new CniError(CNI_ERROR.tryAgainLater, err.message, err.details);
