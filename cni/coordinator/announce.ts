// Step 4 (docs/coordinator.md#add): the MAC prefix, and the announcements that tell switches and peers where the
// pod's addresses live now (a StatefulSet pod keeps its address on another node). The kernel sends them: with
// arp_notify and ndisc_notify on, setting an interface's MAC (even to the one it has) emits a gratuitous ARP per
// IPv4 address and an unsolicited neighbour advertisement per IPv6 address, so no packet socket is needed.
import { parseIP, type Family } from '../../lib/ip/index.ts';
import type { Logger } from '../skel/log.ts';
import type { Netns } from './iproute.ts';

/** `xx:xx` + the interface's first IPv4 address, else the last four bytes of its first IPv6 address. */
export function prefixedMac(prefix: string, addresses: { ip: string; family: Family }[]): string | undefined {
  const source = addresses.find((a) => a.family === 4) ?? addresses.find((a) => a.family === 6);
  if (!source) return undefined;
  const value = parseIP(source.ip).value & 0xffffffffn;
  const bytes = [24n, 16n, 8n, 0n].map((shift) => ((value >> shift) & 0xffn).toString(16).padStart(2, '0'));
  return [...prefix.toLowerCase().split(/[:-]/), ...bytes].join(':');
}

export async function announce(pod: Netns, nic: string, mac: string, families: Family[], log: Logger): Promise<void> {
  if (families.includes(4)) await pod.sysctl(`net.ipv4.conf.${nic}.arp_notify`, '1');
  if (families.includes(6)) await pod.sysctl(`net.ipv6.conf.${nic}.ndisc_notify`, '1');
  try {
    await pod.ip(['link', 'set', 'dev', nic, 'address', mac]);
    log.info('addresses announced', { interface: nic, mac });
  } catch (err) {
    // ipvlan shares its parent's MAC and refuses a new one: its addresses go unannounced, the pod still starts.
    log.warn('interface MAC cannot be set: no announcement', { interface: nic, error: (err as Error).message });
  }
}
