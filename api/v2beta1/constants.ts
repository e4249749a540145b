// Every label, annotation, finalizer and well-known name of the product, written once (as Spiderpool's
// pkg/constant/k8s.go does). It imports nothing, so the CNI plugin bundles can use it at no cost.

/** The API group and version of the Spiderpool CRDs. */
export const GROUP = 'spiderpool.spidernet.io';
export const VERSION = 'v2beta1';

/** Keeps a pool, subnet, endpoint or coordinator until what it holds has been released or cleaned up. */
export const FINALIZER = 'spiderpool.spidernet.io';

/** The IPAM annotations users put on pods and namespaces (docs/api.md#pod-and-namespace-annotations). */
export const ANNOTATION = {
  ippool: 'ipam.spidernet.io/ippool',
  ippools: 'ipam.spidernet.io/ippools',
  subnet: 'ipam.spidernet.io/subnet',
  subnets: 'ipam.spidernet.io/subnets',
  routes: 'ipam.spidernet.io/routes',
  defaultRouteNic: 'ipam.spidernet.io/default-route-nic',
  ippoolIPNumber: 'ipam.spidernet.io/ippool-ip-number',
  ippoolReclaim: 'ipam.spidernet.io/ippool-reclaim',
  namespaceDefaultIPv4: 'ipam.spidernet.io/default-ipv4-ippool',
  namespaceDefaultIPv6: 'ipam.spidernet.io/default-ipv6-ippool',
} as const;

/** Labels that let pools and subnets be listed by CIDR; the value is the CIDR with `.`, `:` and `/` replaced by `-`. */
export const POOL_CIDR_LABEL = 'ipam.spidernet.io/ippool-cidr';
export const SUBNET_CIDR_LABEL = 'ipam.spidernet.io/subnet-cidr';

/** The SpiderSubnet a pool was carved from, whether the pool was auto-created or written by a user. */
export const OWNER_SUBNET_LABEL = 'ipam.spidernet.io/owner-spider-subnet';

/**
 * Labels the subnet controller puts on the pools it creates for an application (docs/api.md#labels-the-product-writes).
 */
export const AUTO_POOL_LABEL = {
  ownerApplicationName: 'ipam.spidernet.io/owner-application-name',
  ownerApplicationUID: 'ipam.spidernet.io/owner-application-uid',
  ownerApplicationGV: 'ipam.spidernet.io/owner-application-gv',
  ownerApplicationKind: 'ipam.spidernet.io/owner-application-kind',
  ownerApplicationNamespace: 'ipam.spidernet.io/owner-application-namespace',
  ownerSpiderSubnet: OWNER_SUBNET_LABEL,
  interface: 'ipam.spidernet.io/interface',
  ipVersion: 'ipam.spidernet.io/ip-version',
  /** The application's reclaim annotation, copied: "false" keeps the pool after the application is gone. */
  reclaim: ANNOTATION.ippoolReclaim,
} as const;

/** The podAffinity matchLabels that bind an auto-created pool to its application. */
export const APP_AFFINITY_LABEL = {
  group: 'ipam.spidernet.io/app-api-group',
  version: 'ipam.spidernet.io/app-api-version',
  kind: 'ipam.spidernet.io/app-kind',
  namespace: 'ipam.spidernet.io/app-namespace',
  name: 'ipam.spidernet.io/app-name',
} as const;

/** Opt-in of a SpiderIPPool or SpiderSubnet to Calico BGP advertisement, and the Calico blockSize to use. */
export const CALICO_ANNOTATION = {
  bgp: 'ipam.spidernet.io/calico-bgp',
  blockSize: 'ipam.spidernet.io/calico-block-size',
} as const;

/** Annotations of a SpiderMultusConfig, some copied onto the NetworkAttachmentDefinition made from it. */
export const NAD_NAME_ANNOTATION = 'multus.spidernet.io/cr-name';
export const CNI_VERSION_ANNOTATION = 'multus.spidernet.io/cni-version';
export const CNI_CONFIG_NAME_ANNOTATION = 'cni.spidernet.io/cniconfig-name';
export const RDMA_INJECT_ANNOTATION = 'cni.spidernet.io/rdma-resource-inject';
export const NETWORK_INJECT_ANNOTATION = 'cni.spidernet.io/network-resource-inject';

/**
 * Multus's own annotations. On pods: the extra networks in order, a replacement cluster network, and what Multus
 * attached.
 */
export const MULTUS_NETWORKS = 'k8s.v1.cni.cncf.io/networks';
export const MULTUS_DEFAULT_NETWORK = 'v1.multus-cni.io/default-network';
export const MULTUS_NETWORK_STATUS = 'k8s.v1.cni.cncf.io/network-status';
/** On a NetworkAttachmentDefinition: the device-plugin resource its pods need (SR-IOV and alike). */
export const MULTUS_RESOURCE_NAME = 'k8s.v1.cni.cncf.io/resourceName';

/** The one SpiderCoordinator that holds the cluster's coordinator defaults. */
export const DEFAULT_COORDINATOR = 'default';

/** The namespace deploy/ installs into, unless SPIDERPOOL_NAMESPACE says otherwise. */
export const INSTALL_NAMESPACE = 'spiderpool';

/** The controller's name: its Lease, webhook configurations, Service and event source. */
export const CONTROLLER_NAME = 'spiderpool-controller';

/** The `ipam.type` of a CNI config that hands IPAM to this product. */
export const IPAM_PLUGIN_TYPE = 'spiderpool';
