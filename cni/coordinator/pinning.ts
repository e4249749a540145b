// Step 12 (docs/coordinator.md#add): replies to connections that came in over veth0 (from the host, kube-proxy,
// or anything the host forwards) leave over veth0 too, instead of by the underlay default route that the
// sender never sees. New connections in on veth0 are marked, the mark is saved on the connection and restored
// on every packet the pod sends, and marked packets look up table 100, whose default route is the host.
import type { Family } from '../../lib/ip/index.ts';
import type { Netns } from './iproute.ts';
import { POD_VETH, RESERVED_TABLE } from './mode.ts';

export const REPLY_MARK = '0x1';
export const PINNING_RULE_PRIORITY = '1000';

export const pinningRules = (vethName: string): string[][] => [
  [
    'PREROUTING',
    '-i',
    vethName,
    '-m',
    'conntrack',
    '--ctstate',
    'NEW',
    '-j',
    'MARK',
    '--set-xmark',
    `${REPLY_MARK}/0xffffffff`,
  ],
  ['PREROUTING', '-m', 'mark', '--mark', REPLY_MARK, '-j', 'CONNMARK', '--save-mark'],
  ['OUTPUT', '-j', 'CONNMARK', '--restore-mark'],
];

export async function pinReplies(pod: Netns, hostIPs: Map<Family, string>): Promise<void> {
  for (const [family, via] of hostIPs) {
    for (const rule of pinningRules(POD_VETH)) {
      const present = await pod.iptables(family, ['-t', 'mangle', '-C', ...rule]).then(
        () => true,
        () => false,
      );
      if (!present) await pod.iptables(family, ['-t', 'mangle', '-A', ...rule]);
    }
    const rules = await pod.ip([`-${family}`, 'rule', 'show', 'fwmark', REPLY_MARK, 'table', String(RESERVED_TABLE)]);
    if (!rules.trim())
      await pod.ip([
        `-${family}`,
        'rule',
        'add',
        'fwmark',
        REPLY_MARK,
        'lookup',
        String(RESERVED_TABLE),
        'priority',
        PINNING_RULE_PRIORITY,
      ]);
    await pod.ip([
      `-${family}`,
      'route',
      'replace',
      'default',
      'via',
      via,
      'dev',
      POD_VETH,
      'table',
      String(RESERVED_TABLE),
    ]);
  }
}
