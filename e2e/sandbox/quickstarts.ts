// The clusters the quick-start documents assume (e2e/fixtures/README.md names each document). Each says
// what the document's cluster has before its first command: node names and addresses, the main network
// on eth0, what Helm's --set options chose, and the kubeadm-config the coordinator reads its CIDRs from.
import { SERVICE_CIDR } from '../cluster/control-plane.ts';
import type { FabricOptions } from '../kubelet/fabric.ts';

export const QUICKSTARTS = ['calico-quickstart', 'public-cloud-ipvlan', 'macvlan-overlay'] as const;
export type QuickstartName = (typeof QUICKSTARTS)[number];
export const DEFAULT_QUICKSTART: QuickstartName = 'calico-quickstart';

export type MainNetwork =
  /** The Calico stand-in with host-local addresses from the pod CIDR. */
  | { kind: 'calico'; podCidr: string }
  /** The Calico stand-in with its IPAM switched to another plugin. */
  | { kind: 'calico'; ipam: string }
  /** Multus's default network is a NetworkAttachmentDefinition (Helm's defaultCniCRName). */
  | { kind: 'nad'; network: string };

export interface Quickstart {
  name: QuickstartName;
  title: string;
  nodes: string[];
  fabric: FabricOptions;
  main: MainNetwork;
  /** The `default` SpiderCoordinator's spec.mode (Helm's coordinator.mode). */
  coordinatorMode: 'auto' | 'underlay' | 'overlay';
  podCidr: string;
  /** Settings the document's Helm options give the agents and the controllers. */
  env: Record<string, string>;
  /** Files under e2e/fixtures/ the document applies before its workloads, in its order. */
  fixtures: string[];
  /** A first command to try, printed when the sandbox is ready. */
  tryCommand: string;
}

const ipNumber = (dotted: string) => dotted.split('.').reduce((n, o) => n * 256 + Number(o), 0);
/** The host number of `address` counted from the `network` address, for FabricOptions.firstNodeHost. */
const hostNumber = (address: string, network: string) => ipNumber(address) - ipNumber(network);

export const QUICKSTART: Record<QuickstartName, Quickstart> = {
  'calico-quickstart': {
    name: 'calico-quickstart',
    title: 'Calico quick start (seed 000): Calico with its IPAM switched to spiderpool',
    nodes: ['master1', 'worker5'],
    fabric: { nics: ['eth0'], nodeCidr: '172.16.13.0/24', firstNodeHost: 11 },
    main: { kind: 'calico', ipam: 'spiderpool' },
    coordinatorMode: 'auto',
    podCidr: '10.244.64.0/18',
    env: {},
    fixtures: ['calico-quickstart/nginx-ippool-v4.yaml'],
    tryCommand:
      'kubectl create -f e2e/fixtures/calico-quickstart/nginx-deployment.yaml && kubectl get po -o wide && kubectl get sp',
  },
  'public-cloud-ipvlan': {
    name: 'public-cloud-ipvlan',
    title: 'Spiderpool on public clouds (seed 003): ipvlan-eth0 as the default network, no Calico',
    nodes: ['master', 'worker'],
    fabric: {
      nics: ['eth0', 'eth1'],
      nodeCidr: '172.31.192.0/20',
      firstNodeHost: hostNumber('172.31.199.183', '172.31.192.0'),
      router: { eth0: ['172.31.207.253/20'], eth1: ['192.168.0.253/24'] },
    },
    main: { kind: 'nad', network: 'kube-system/ipvlan-eth0' },
    coordinatorMode: 'auto',
    podCidr: '10.233.64.0/18',
    env: { MULTUS_CLUSTER_NETWORK: 'kube-system/ipvlan-eth0', SPIDERPOOL_ENABLE_STATEFULSET: 'false' },
    fixtures: ['public-cloud-ipvlan/ipvlan-multusconfigs.yaml', 'public-cloud-ipvlan/ippools.yaml'],
    tryCommand: 'kubectl create -f e2e/fixtures/public-cloud-ipvlan/apps.yaml && kubectl get spiderippool',
  },
  'macvlan-overlay': {
    name: 'macvlan-overlay',
    title: 'Macvlan with Calico as the default CNI (seed 004): coordinator in overlay mode',
    nodes: ['controller', 'worker01'],
    fabric: {
      nics: ['ens192'],
      nodeCidr: '10.6.0.0/16',
      // Outside 10-6-v4's 10.6.212.100-200, which the document's own node address (.132) is not.
      firstNodeHost: hostNumber('10.6.212.232', '10.6.0.0'),
      router: { ens192: ['10.6.0.1/16'] },
    },
    main: { kind: 'calico', podCidr: '10.233.64.0/18' },
    coordinatorMode: 'overlay',
    podCidr: '10.233.64.0/18',
    env: {},
    fixtures: ['macvlan-overlay/10-6-v4.yaml', 'macvlan-overlay/macvlan-ens192.yaml'],
    tryCommand:
      'kubectl create -f e2e/fixtures/macvlan-overlay/nginx-deployment.yaml && kubectl get po -l app=nginx -o wide && kubectl get se',
  },
};

export function quickstart(name: string): Quickstart {
  if (!(QUICKSTARTS as readonly string[]).includes(name))
    throw new Error(`--quickstart ${name}: unknown quick start; one of ${QUICKSTARTS.join(', ')}`);
  return QUICKSTART[name as QuickstartName];
}

/** What a kubeadm cluster carries: the coordinator learns the pod and service CIDRs from it. */
export function kubeadmConfig(q: Quickstart): string {
  return `
apiVersion: v1
kind: ConfigMap
metadata:
  name: kubeadm-config
  namespace: kube-system
data:
  ClusterConfiguration: |
    apiVersion: kubeadm.k8s.io/v1beta2
    kind: ClusterConfiguration
    networking:
      podSubnet: ${q.podCidr}
      serviceSubnet: ${SERVICE_CIDR}
`;
}

/** The `default` SpiderCoordinator, which the install step creates (deploy/product/default-coordinator.yaml). */
export function defaultCoordinator(q: Quickstart): string {
  return `
apiVersion: spiderpool.spidernet.io/v2beta1
kind: SpiderCoordinator
metadata:
  name: default
spec:
  mode: ${q.coordinatorMode}
  podCIDRType: cluster
  tunePodRoutes: true
  hijackCIDR: [169.254.0.0/16]
`;
}
