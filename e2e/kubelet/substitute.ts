// Kernels without the ipvlan module (this project's machines) cannot create an ipvlan link. The stand-in
// then gives the pod a macvlan link in bridge mode on the same master instead, and says so in an Event on
// the pod; the IPAM, the coordinator and every route above the link stay as the network's config has them.
import type { NetworkConfigList } from './cni.ts';
import { execCommand } from './netns.ts';

export const LINK_SUBSTITUTED_REASON = 'LinkSubstituted';

/** Whether the kernel creates ipvlan links, asked once by creating one inside a throw-away namespace. */
export async function kernelHasIpvlan(netns: string, parent: string): Promise<boolean> {
  const probe = 'spt-ipvlan-probe';
  const r = await execCommand('ip', ['-n', netns, 'link', 'add', probe, 'link', parent, 'type', 'ipvlan']);
  if (r.code !== 0) return false;
  await execCommand('ip', ['-n', netns, 'link', 'del', probe]);
  return true;
}

/** The conf with every ipvlan plugin replaced by a macvlan one, and what was replaced (empty when nothing). */
export function substituteIpvlan(conf: NetworkConfigList): { conf: NetworkConfigList; replaced: string[] } {
  const replaced: string[] = [];
  const plugins = conf.plugins.map((p) => {
    if (p.type !== 'ipvlan') return p;
    replaced.push(typeof p.master === 'string' ? p.master : '');
    // ipvlan's `mode` (l2, l3, l3s) means nothing to macvlan; bridge mode lets pods on one master talk.
    return { ...p, type: 'macvlan', mode: 'bridge' };
  });
  return { conf: { ...conf, plugins }, replaced };
}

export function substitutionMessage(network: string, ifname: string, masters: string[]): string {
  const on = masters.filter(Boolean).join(', ') || 'its master';
  return (
    `this kernel has no ipvlan: ${ifname} from network "${network}" is a macvlan link (bridge mode) on ${on}; ` +
    'its IPAM, coordinator and routes are as the network configures them'
  );
}
