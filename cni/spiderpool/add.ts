// CNI ADD: ask the agent for this pod's addresses and print the ones of the interface being added.
import { AGENT_PATHS, type IpamAddArgs } from '../../lib/agent-api.ts';
import { AgentClient, answerError, awaitAgent } from '../skel/agent-client.ts';
import { requirePod, type CniEnv } from '../skel/env.ts';
import type { Logger } from '../skel/log.ts';
import type { NetConf } from './netconf.ts';
import { buildIpamResult, parseAddResponse, type IpamResult } from './result.ts';

const ADD_TIMEOUT_MS = 60_000;
// While its DaemonSet rolls, a node has no agent for a few seconds (the old pod is deleted before the new
// one starts): an ADD then waits for the new agent rather than failing the pod's sandbox.
const ABSENT_AGENT_WAIT_MS = 30_000;

export async function cmdAdd(env: CniEnv, conf: NetConf, log: Logger): Promise<IpamResult> {
  const pod = requirePod(env);
  const { ipam } = conf;
  const client = new AgentClient(ipam.socketPath);
  const absent = await awaitAgent(client, ABSENT_AGENT_WAIT_MS);
  if (absent) throw absent;
  const args: IpamAddArgs = {
    containerID: env.containerId,
    ifName: env.ifName,
    netNamespace: env.netns,
    podNamespace: pod.namespace,
    podName: pod.name,
    podUID: pod.uid,
    ...(ipam.defaultIPv4IPPool ? { defaultIPv4IPPool: ipam.defaultIPv4IPPool } : {}),
    ...(ipam.defaultIPv6IPPool ? { defaultIPv6IPPool: ipam.defaultIPv6IPPool } : {}),
    cleanGateway: ipam.cleanGateway,
    matchMasterSubnet: ipam.matchMasterSubnet,
  };
  log.debug('requesting allocation', { args });
  const answer = await client.call({ method: 'POST', path: AGENT_PATHS.ip, body: args, timeoutMs: ADD_TIMEOUT_MS });
  if (!answer.ok) {
    throw answerError(
      answer,
      `failed to allocate an IP for pod ${pod.namespace}/${pod.name} interface ${env.ifName}`,
      `POST ${AGENT_PATHS.ip}`,
    );
  }
  const result = buildIpamResult(conf.cniVersion, env.ifName, parseAddResponse(answer.body), ipam.cleanGateway);
  log.info('allocated', { ips: result.ips.map((ip) => ip.address) });
  return result;
}
