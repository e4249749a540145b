// The Calico stand-in for eth0. Debian's `ptp` plugin sets a pod up the way Calico does: a veth whose
// host end holds the link-local gateway 169.254.1.1, the pod's address routed to it on the node. What
// Calico's own plugin and its BGP daemon add around that, the stand-in adds here: the pod's default route
// through the gateway, and on every other node a /32 route to the pod through its node (Calico announces
// its pods' routes over BGP; the simulated nodes share one L2 segment, so a static route does the same).
//
// With another IPAM plugin (seed 000 switches Calico's to `spiderpool`), ptp would need that IPAM to name a
// gateway, which Calico's plugin never asks of it (it always uses 169.254.1.1) and seed 000's pool has none.
// Debian's `bridge` plugin takes the subnet's first address as the gateway instead, and proxy ARP on the
// node's bridge answers for pods on other nodes, as Calico's host ends do.
import type { NetworkConfigList } from './cni.ts';
import type { Fabric } from './fabric.ts';
import type { PodNetworkHooks } from './kubelet.ts';
import { execInNetns, ip } from './netns.ts';

export const CALICO_NETWORK_NAME = 'k8s-pod-network';
export const CALICO_GATEWAY = '169.254.1.1';
const BRIDGE = 'cni0';

/** Calico's IPAM is host-local addresses from the pod CIDR, or another IPAM plugin (seed 000 names `spiderpool`). */
export type CalicoIpam = { podCidr: string; dataDir: string } | { type: string };

/** The conflist kubelet finds in /etc/cni/net.d/10-calico.conflist, with ptp in place of the calico plugin. */
export function calicoNetwork(ipam: CalicoIpam): NetworkConfigList {
  return {
    cniVersion: '0.4.0',
    name: CALICO_NETWORK_NAME,
    plugins: [
      'podCidr' in ipam
        ? {
            type: 'ptp',
            mtu: 1500,
            ipam: {
              type: 'host-local',
              ranges: [[{ subnet: ipam.podCidr, gateway: CALICO_GATEWAY }]],
              dataDir: ipam.dataDir,
            },
          }
        : { type: 'bridge', bridge: BRIDGE, isGateway: true, isDefaultGateway: true, ipam: { type: ipam.type } },
    ],
  };
}

const bare = (cidr: string) => cidr.split('/')[0] ?? cidr;

/** The routes Calico's plugin and BGP daemon would add for a pod whose eth0 is the Calico network. */
export function calicoRoutes(fabric: Fabric, nodes: readonly string[]): PodNetworkHooks {
  const peers = (node: string) =>
    nodes.filter((n) => n !== node).flatMap((n) => (fabric.node(n) ? [fabric.node(n)?.netns as string] : []));
  return {
    async added({ network, node, netns, ips }) {
      if (network !== CALICO_NETWORK_NAME) return;
      const via = fabric.node(node)?.address;
      const nodeNetns = fabric.node(node)?.netns;
      if (nodeNetns && (await ip(['-n', nodeNetns, 'link', 'show', BRIDGE]).catch(() => '')))
        await execInNetns(nodeNetns, ['sysctl', '-qw', `net.ipv4.conf.${BRIDGE}.proxy_arp=1`]);
      for (const { address, gateway } of ips) {
        if (gateway) await ip(['-n', netns, 'route', 'replace', 'default', 'via', gateway, 'dev', 'eth0']);
        if (!via) continue;
        for (const peer of peers(node)) await ip(['-n', peer, 'route', 'replace', `${bare(address)}/32`, 'via', via]);
      }
    },
    async removed({ network, node, ips }) {
      if (network !== CALICO_NETWORK_NAME) return;
      for (const { address } of ips)
        for (const peer of peers(node))
          await ip(['-n', peer, 'route', 'del', `${bare(address)}/32`]).catch(() => undefined);
    },
  };
}
