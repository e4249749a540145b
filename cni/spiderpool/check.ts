// CNI CHECK: the agent must be healthy and still record an address for this pod on this interface,
// and the addresses the runtime remembers from ADD (prevResult, when given) must be among them.
import { AGENT_PATHS, CNI_ERROR, type WorkloadEndpointStatus } from '../../lib/agent-api.ts';
import { AgentClient, answerError, ensureHealthy, malformed } from '../skel/agent-client.ts';
import { requirePod, type CniEnv } from '../skel/env.ts';
import { CniError } from '../skel/errors.ts';
import type { Logger } from '../skel/log.ts';
import type { NetConf } from './netconf.ts';

type EndpointInterface = WorkloadEndpointStatus['interfaces'][number];

const CHECK_TIMEOUT_MS = 10_000;

export async function cmdCheck(env: CniEnv, conf: NetConf, log: Logger): Promise<void> {
  if (conf.cniVersion === '0.3.0' || conf.cniVersion === '0.3.1') {
    throw new CniError(
      CNI_ERROR.incompatibleVersion,
      `cniVersion ${conf.cniVersion} does not allow CHECK (it needs 0.4.0 or later)`,
    );
  }
  const pod = requirePod(env);
  const client = new AgentClient(conf.ipam.socketPath);
  await ensureHealthy(client);
  const path = `${AGENT_PATHS.workloadEndpoint}?${new URLSearchParams({ podNamespace: pod.namespace, podName: pod.name })}`;
  const what = `GET ${AGENT_PATHS.workloadEndpoint}`;
  const answer = await client.call({ method: 'GET', path, timeoutMs: CHECK_TIMEOUT_MS });
  const subject = `pod ${pod.namespace}/${pod.name} interface ${env.ifName}`;
  if (!answer.ok && answer.status === 404) {
    throw new CniError(
      CNI_ERROR.unknownContainer,
      `spiderpool-agent records no endpoint for ${subject}`,
      answer.error?.message ?? '',
    );
  }
  if (!answer.ok) throw answerError(answer, `failed to check the IPs of ${subject}`, what);
  const endpoint = parseEndpoint(answer.body, what);
  if (pod.uid && endpoint.podUID && endpoint.podUID !== pod.uid) {
    throw new CniError(
      CNI_ERROR.unknownContainer,
      `the endpoint of ${subject} belongs to pod UID ${endpoint.podUID}, not ${pod.uid}`,
    );
  }
  const nic = endpoint.interfaces.find((i) => i.interface === env.ifName);
  const held = nic ? [nic.ipv4, nic.ipv6].filter((a): a is string => !!a).map(hostPart) : [];
  if (held.length === 0) throw new CniError(CNI_ERROR.unknownContainer, `spiderpool-agent holds no IP for ${subject}`);
  for (const address of remembered(conf.prevResult, env.ifName)) {
    if (!held.includes(hostPart(address))) {
      throw new CniError(
        CNI_ERROR.unknownContainer,
        `prevResult address ${address} is not held by spiderpool-agent for ${subject} (it holds ${held.join(', ')})`,
      );
    }
  }
  log.info('check passed', { ips: held });
}

function parseEndpoint(body: unknown, what: string): WorkloadEndpointStatus {
  const interfaces = (body as Partial<WorkloadEndpointStatus> | undefined)?.interfaces;
  if (!Array.isArray(interfaces)) throw malformed(what, '"interfaces" is not an array');
  if (!interfaces.every((i: Partial<EndpointInterface> | null) => typeof i?.interface === 'string')) {
    throw malformed(what, 'an entry of "interfaces" has no interface name');
  }
  return body as WorkloadEndpointStatus;
}

/**
 * Addresses of prevResult that belong to ifName: those whose `interface` index names it, or that carry
 * no index (IPAM-only results). A missing or odd prevResult is not an error; CHECK then relies on the
 * agent alone.
 */
function remembered(prevResult: unknown, ifName: string): string[] {
  const prev = prevResult as { ips?: unknown; interfaces?: unknown } | undefined;
  if (!prev || !Array.isArray(prev.ips)) return [];
  const names = Array.isArray(prev.interfaces) ? prev.interfaces.map((i: { name?: unknown } | null) => i?.name) : [];
  return prev.ips.flatMap((ip: { address?: unknown; interface?: unknown } | null) => {
    if (typeof ip?.address !== 'string') return [];
    if (typeof ip.interface === 'number' && names[ip.interface] !== ifName) return [];
    return [ip.address];
  });
}

/** The address without its prefix length, in canonical form so that IPv6 spellings compare equal. */
function hostPart(cidr: string): string {
  const ip = cidr.split('/')[0] ?? cidr;
  if (!ip.includes(':')) return ip;
  try {
    return new URL(`http://[${ip}]/`).hostname.slice(1, -1);
  } catch {
    return ip.toLowerCase();
  }
}
