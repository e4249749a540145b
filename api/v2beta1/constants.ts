// Every label, annotation, finalizer and well-known name of the product, written once (as Spiderpool's
// pkg/constant/k8s.go does). It imports nothing, so the CNI plugin bundles can use it at no cost.

/** The API group and version of the Spiderpool CRDs. */
export const GROUP = 'spiderpool.spidernet.io';
export const VERSION = 'v2beta1';

/** Keeps a pool, subnet, endpoint or coordinator until what it holds has been released or cleaned up. */
export const FINALIZER = 'spiderpool.spidernet.io';

/** The prefix of every IPAM annotation and label, as Spiderpool's `AnnotationPre`. */
const IPAM = 'ipam.spidernet.io';

/** The IPAM annotations users put on pods and namespaces (docs/api.md#pod-and-namespace-annotations). */
export const ANNOTATION = {
  ippool: `${IPAM}/ippool`,
  ippools: `${IPAM}/ippools`,
  subnet: `${IPAM}/subnet`,
  subnets: `${IPAM}/subnets`,
  routes: `${IPAM}/routes`,
  defaultRouteNic: `${IPAM}/default-route-nic`,
  ippoolIPNumber: `${IPAM}/ippool-ip-number`,
  ippoolReclaim: `${IPAM}/ippool-reclaim`,
  namespaceDefaultIPv4: `${IPAM}/default-ipv4-ippool`,
  namespaceDefaultIPv6: `${IPAM}/default-ipv6-ippool`,
} as const;

/** Labels that let pools and subnets be listed by CIDR; the value is the CIDR with `.`, `:` and `/` replaced by `-`. */
export const POOL_CIDR_LABEL = `${IPAM}/ippool-cidr`;
export const SUBNET_CIDR_LABEL = `${IPAM}/subnet-cidr`;

/** The SpiderSubnet a pool was carved from, whether the pool was auto-created or written by a user. */
export const OWNER_SUBNET_LABEL = `${IPAM}/owner-spider-subnet`;

/**
 * Labels the subnet controller puts on the pools it creates for an application (docs/api.md#labels-the-product-writes).
 */
export const AUTO_POOL_LABEL = {
  ownerApplicationName: `${IPAM}/owner-application-name`,
  ownerApplicationUID: `${IPAM}/owner-application-uid`,
  ownerApplicationGV: `${IPAM}/owner-application-gv`,
  ownerApplicationKind: `${IPAM}/owner-application-kind`,
  ownerApplicationNamespace: `${IPAM}/owner-application-namespace`,
  ownerSpiderSubnet: OWNER_SUBNET_LABEL,
  interface: `${IPAM}/interface`,
  ipVersion: `${IPAM}/ip-version`,
  /** The application's reclaim annotation, copied: "false" keeps the pool after the application is gone. */
  reclaim: ANNOTATION.ippoolReclaim,
} as const;

/** The podAffinity matchLabels that bind an auto-created pool to its application. */
export const APP_AFFINITY_LABEL = {
  group: `${IPAM}/app-api-group`,
  version: `${IPAM}/app-api-version`,
  kind: `${IPAM}/app-kind`,
  namespace: `${IPAM}/app-namespace`,
  name: `${IPAM}/app-name`,
} as const;

/** Opt-in of a SpiderIPPool or SpiderSubnet to Calico BGP advertisement, and the Calico blockSize to use. */
export const CALICO_ANNOTATION = {
  bgp: `${IPAM}/calico-bgp`,
  blockSize: `${IPAM}/calico-block-size`,
} as const;

/** Annotations of a SpiderMultusConfig, some copied onto the NetworkAttachmentDefinition made from it. */
export const MULTUS_CONFIG_ANNOTATION = {
  nadName: 'multus.spidernet.io/cr-name',
  cniVersion: 'multus.spidernet.io/cni-version',
  cniConfigName: 'cni.spidernet.io/cniconfig-name',
  rdmaInject: 'cni.spidernet.io/rdma-resource-inject',
  networkInject: 'cni.spidernet.io/network-resource-inject',
} as const;

/** Multus's own annotations. */
export const MULTUS_ANNOTATION = {
  /** On pods: the extra networks, in order. */
  networks: 'k8s.v1.cni.cncf.io/networks',
  /** On pods: a replacement for the cluster network. */
  defaultNetwork: 'v1.multus-cni.io/default-network',
  /** On pods: what Multus attached. */
  networkStatus: 'k8s.v1.cni.cncf.io/network-status',
  /** On a NetworkAttachmentDefinition: the device-plugin resource its pods need (SR-IOV and alike). */
  resourceName: 'k8s.v1.cni.cncf.io/resourceName',
} as const;

/** The one SpiderCoordinator that holds the cluster's coordinator defaults. */
export const DEFAULT_COORDINATOR = 'default';

/** The namespace deploy/ installs into, unless SPIDERPOOL_NAMESPACE says otherwise. */
export const INSTALL_NAMESPACE = 'spiderpool';

/** The controller's name: its Lease, webhook configurations, Service and event source. */
export const CONTROLLER_NAME = 'spiderpool-controller';

/** The `ipam.type` of a CNI config that hands IPAM to this product. */
export const IPAM_PLUGIN_TYPE = 'spiderpool';

/** Set by KubeVirt on a live-migration target's virt-launcher pod: the pod takes over its source's addresses. */
export const KUBEVIRT_MIGRATION_JOB_ANNOTATION = 'kubevirt.io/migrationJobName';
