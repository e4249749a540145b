// IP conflict and gateway detection (docs/coordinator.md#conflict-and-gateway-detection), in the pod's netns
// with the shipped arping and ndisc6. Conflicts are probed before gateways: a gateway asked first would cache
// the pod's MAC for an address that may belong to another host.
import { CNI_ERROR } from '../../lib/agent-api.ts';
import type { Family } from '../../lib/ip/index.ts';
import { CniError } from '../skel/errors.ts';
import type { Logger } from '../skel/log.ts';
import { runTool, type ToolRun } from '../skel/tools.ts';

/** Spiderpool's reply window: an answer later than this is taken as none. */
export const REPLY_WINDOW_MS = 100;
/** Gateway probes before it counts as unreachable, and send failures before a probe is an error. */
export const ATTEMPTS = 3;

export interface Probed {
  ip: string;
  family: Family;
}

/** arping prints one MAC per reply with -r; ndisc6 one "Target link-layer address" line. */
const MAC = /([0-9a-f]{2}(?::[0-9a-f]{2}){5})/gi;

/** Exit codes that mean "no answer" rather than a failure to send: arping 1, ndisc6 2. */
const NO_REPLY: Record<Family, number> = { 4: 1, 6: 2 };

async function probe(netns: string, family: Family, args: string[]): Promise<ToolRun> {
  let last: ToolRun | undefined;
  for (let i = 0; i < ATTEMPTS; i++) {
    last = await runTool(netns, family === 4 ? 'arping' : 'ndisc6', args);
    if (last.code === 0 || last.code === NO_REPLY[family]) return last;
  }
  const run = last as ToolRun;
  throw new CniError(
    CNI_ERROR.tryAgainLater,
    `coordinator: ${family === 4 ? 'arping' : 'ndisc6'} ${args.join(' ')} failed ${ATTEMPTS} times (exit ${run.code}): ${run.stderr.trim()}`,
  );
}

const seconds = (ms: number): string => (ms / 1000).toFixed(3);

/**
 * The first address of `addresses` that another host answers for, with the MAC that answered. IPv4: an RFC 5227
 * ARP probe (sender 0.0.0.0, so no neighbour learns anything from it); IPv6: a neighbour solicitation.
 */
export async function findConflict(
  netns: string,
  ifName: string,
  ownMac: string,
  addresses: Probed[],
): Promise<{ ip: string; mac: string } | undefined> {
  for (const { ip, family } of addresses) {
    const args =
      family === 4
        ? ['-0', '-r', '-i', ifName, '-c', '1', '-w', seconds(REPLY_WINDOW_MS), ip]
        : ['-1', '-q', '-r', '1', '-w', String(REPLY_WINDOW_MS), ip, ifName];
    const run = await probe(netns, family, args);
    if (run.code !== 0) continue;
    const mac = [...run.stdout.matchAll(MAC)]
      .map((m) => (m[1] as string).toLowerCase())
      .find((m) => m !== ownMac.toLowerCase());
    if (mac) return { ip, mac };
  }
  return undefined;
}

/** Every gateway must answer ARP / NDP on `ifName` within ATTEMPTS reply windows; the first that does not fails ADD. */
export async function checkGateways(netns: string, ifName: string, gateways: Probed[], log: Logger): Promise<void> {
  for (const { ip, family } of gateways) {
    const args =
      family === 4
        ? [
            '-r',
            '-i',
            ifName,
            '-c',
            String(ATTEMPTS),
            '-C',
            '1',
            '-W',
            seconds(REPLY_WINDOW_MS),
            '-w',
            seconds(ATTEMPTS * REPLY_WINDOW_MS),
            ip,
          ]
        : ['-1', '-q', '-r', String(ATTEMPTS), '-w', String(REPLY_WINDOW_MS), ip, ifName];
    const run = await probe(netns, family, args);
    if (run.code !== 0)
      throw new CniError(
        CNI_ERROR.tryAgainLater,
        `coordinator: gateway ${ip} is unreachable on interface ${ifName}: no ${family === 4 ? 'ARP reply' : 'neighbour advertisement'} to ${ATTEMPTS} probes ${REPLY_WINDOW_MS} ms apart`,
      );
    log.info('gateway reachable', { gateway: ip, interface: ifName });
  }
}
