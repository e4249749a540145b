// The Spiderpool API (spiderpool.spidernet.io/v2beta1) and the Multus NetworkAttachmentDefinition API,
// described once. `npm run gen` turns these into crds/*.yaml and types.generated.ts.
import {
  type Schema,
  bool,
  int,
  ipRanges,
  ipVersion,
  labelSelector,
  list,
  obj,
  route,
  str,
  strEnum,
  strList,
} from './schema-helpers.ts';
import { GROUP, VERSION } from './constants.ts';

export interface PrinterColumn {
  name: string;
  type: 'string' | 'integer' | 'boolean' | 'date';
  jsonPath: string;
  description: string;
  priority?: number;
}

export interface CrdDefinition {
  group: string;
  version: string;
  kind: string;
  plural: string;
  singular: string;
  shortNames: string[];
  categories: string[];
  scope: 'Cluster' | 'Namespaced';
  description: string;
  spec?: Schema;
  status?: Schema;
  statusSubresource: boolean;
  printerColumns: PrinterColumn[];
}

const col = (name: string, jsonPath: string, type: PrinterColumn['type'], wideOnly = false): PrinterColumn => ({
  name,
  jsonPath,
  type,
  description: name.toLowerCase(),
  ...(wideOnly ? { priority: 10 } : {}),
});

/** A Spiderpool CRD: its group and version, plural and singular spelled from the kind, in the `spiderpool` category. */
const spiderpoolCrd = (
  crd: Omit<CrdDefinition, 'group' | 'version' | 'plural' | 'singular' | 'categories'>,
): CrdDefinition => ({
  group: GROUP,
  version: VERSION,
  plural: `${crd.kind.toLowerCase()}s`,
  singular: crd.kind.toLowerCase(),
  categories: ['spiderpool'],
  ...crd,
});

const versionColumn = col('VERSION', '.spec.ipVersion', 'string');

/** The columns SpiderIPPool and SpiderSubnet share, as `kubectl get` prints them first. */
const poolColumns = [
  versionColumn,
  col('SUBNET', '.spec.subnet', 'string'),
  col('ALLOCATED-IP-COUNT', '.status.allocatedIPCount', 'integer'),
  col('TOTAL-IP-COUNT', '.status.totalIPCount', 'integer'),
];

const poolSpecBase = {
  ipVersion: ipVersion(),
  subnet: str('subnet in canonical CIDR form, e.g. 10.6.0.0/16'),
  ips: ipRanges('IP ranges ("a" or "a-b") handed out by this object'),
  excludeIPs: ipRanges('IP ranges ("a" or "a-b") never handed out'),
  gateway: str('gateway IP, inside the subnet'),
  routes: list(route()),
};

const spiderpoolPools = (): Schema =>
  obj(
    {
      ipv4: strList('default IPv4 SpiderIPPools for this network'),
      ipv6: strList('default IPv6 SpiderIPPools for this network'),
      matchMasterSubnet: bool(false, 'only use pools whose subnet matches the master interface'),
    },
    { tsType: 'SpiderpoolPools' },
  );

const bond = (): Schema =>
  obj(
    { name: str(), mode: int({ min: 0, max: 6, format: 'int32' }), options: str() },
    { required: ['name', 'mode'], tsType: 'BondConfig' },
  );

const vlanID = (dflt?: number): Schema => int({ min: 0, max: 4094, default: dflt, format: 'int32' });

/** macvlan, ipvlan and vlan; `extra` adds fields or replaces the shared ones. */
const masterBased = (tsType: string, extra: Record<string, Schema> = {}): Schema =>
  obj(
    {
      master: { ...strList('host interfaces; two or more require bond'), minItems: 1 },
      mtu: int({ min: 0, default: 0, format: 'int32' }),
      vlanID: vlanID(0),
      bond: bond(),
      rdmaResourceName: str(),
      ippools: spiderpoolPools(),
      ...extra,
    },
    { required: ['master'], tsType },
  );

const coordinatorSpec = (): Schema =>
  obj(
    {
      mode: strEnum(['auto', 'underlay', 'overlay', 'disabled'], 'auto', 'how the coordinator plugin treats the pod'),
      podCIDRType: strEnum(
        ['auto', 'cluster', 'calico', 'cilium', 'none'],
        undefined,
        'where the overlay pod CIDRs are learned from',
      ),
      hijackCIDR: strList('extra destinations routed via the host'),
      policyRoutes: list(route()),
      podMACPrefix: str('two-byte unicast MAC prefix, xx:xx'),
      tunePodRoutes: bool(true),
      podDefaultRouteNIC: str(),
      hostRuleTable: int({ default: 500 }),
      podRPFilter: int({ default: 0, max: 2, description: 'rp_filter in the pod; negative leaves it untouched' }),
      txQueueLen: int({ min: 0, default: 0 }),
      vethLinkAddress: str(),
      vethMTU: int({ min: 1 }),
      detectGateway: bool(undefined, 'whether the coordinator checks that each gateway answers before ADD succeeds'),
      detectIPConflict: bool(
        undefined,
        'whether the coordinator probes each address for a duplicate before ADD succeeds',
      ),
      hostRPFilter: int({ description: 'deprecated and ignored' }),
    },
    { tsType: 'CoordinatorSpec' },
  );

export const spiderIPPool = spiderpoolCrd({
  kind: 'SpiderIPPool',
  shortNames: ['sp'],
  scope: 'Cluster',
  description: 'SpiderIPPool is a pool of IP addresses that pods are allocated from.',
  spec: obj(
    {
      ...poolSpecBase,
      podAffinity: labelSelector('pods whose labels match may use the pool'),
      namespaceAffinity: labelSelector('namespaces whose labels match may use the pool'),
      namespaceName: strList('namespaces that may use the pool; overrides namespaceAffinity'),
      nodeAffinity: labelSelector('nodes whose labels match may use the pool'),
      nodeName: strList('nodes that may use the pool; overrides nodeAffinity'),
      multusName: strList('NetworkAttachmentDefinitions ("name" or "namespace/name") the pool serves'),
      default: bool(false, 'a cluster default pool'),
      disable: bool(false, 'no new allocations; releases still work'),
    },
    { required: ['subnet'], tsType: 'SpiderIPPoolSpec' },
  ),
  status: obj(
    {
      allocatedIPs: str('JSON object keyed by IP: {"10.6.0.12": {"pod": "ns/name", "podUid": "..."}}'),
      allocatedIPCount: int({ min: 0 }),
      totalIPCount: int({ min: 0 }),
    },
    { tsType: 'SpiderIPPoolStatus' },
  ),
  statusSubresource: true,
  printerColumns: [
    ...poolColumns,
    col('DEFAULT', '.spec.default', 'boolean'),
    col('DISABLE', '.spec.disable', 'boolean', true),
    col('NodeName', '.spec.nodeName', 'string', true),
    col('MultusName', '.spec.multusName', 'string', true),
    col('APP-NAMESPACE', ".spec.podAffinity.matchLabels['ipam\\.spidernet\\.io/app\\-namespace']", 'string', true),
  ],
});

export const spiderSubnet = spiderpoolCrd({
  kind: 'SpiderSubnet',
  shortNames: ['ss'],
  scope: 'Cluster',
  description: 'SpiderSubnet is a range of addresses that SpiderIPPools, including automatic ones, are carved from.',
  spec: obj(poolSpecBase, { required: ['subnet'], tsType: 'SpiderSubnetSpec' }),
  status: obj(
    {
      controlledIPPools: str(
        'JSON object keyed by pool name: {"pool": {"ips": ["a-b"], "application": "apps_v1_Deployment_ns_name"}}',
      ),
      totalIPCount: int({ min: 0 }),
      allocatedIPCount: int({ min: 0 }),
    },
    { tsType: 'SpiderSubnetStatus' },
  ),
  statusSubresource: true,
  printerColumns: poolColumns,
});

export const spiderReservedIP = spiderpoolCrd({
  kind: 'SpiderReservedIP',
  shortNames: ['sr'],
  scope: 'Cluster',
  description: 'SpiderReservedIP lists addresses that are never handed out.',
  spec: obj(
    { ipVersion: ipVersion(), ips: ipRanges('reserved IP ranges ("a" or "a-b")') },
    { tsType: 'SpiderReservedIPSpec' },
  ),
  statusSubresource: false,
  printerColumns: [versionColumn],
});

export const spiderEndpoint = spiderpoolCrd({
  kind: 'SpiderEndpoint',
  shortNames: ['se'],
  scope: 'Namespaced',
  description: 'SpiderEndpoint records the addresses a pod holds, one entry per interface.',
  status: obj(
    {
      current: obj(
        {
          uid: str('UID of the pod that holds the addresses'),
          node: str(),
          ips: list(
            obj(
              {
                interface: str(),
                ipv4: str('CIDR form, prefix length of the pool subnet'),
                ipv6: str('CIDR form, prefix length of the pool subnet'),
                ipv4Pool: str(),
                ipv6Pool: str(),
                vlan: int({ min: 0, max: 4094, default: 0, description: 'deprecated' }),
                ipv4Gateway: str(),
                ipv6Gateway: str(),
                cleanGateway: bool(),
                routes: list(route()),
                mac: str(),
              },
              { required: ['interface'], tsType: 'IPAllocationDetail' },
            ),
          ),
        },
        { required: ['uid', 'node', 'ips'], tsType: 'PodIPAllocation' },
      ),
      ownerControllerType: str('kind of the top controller: Deployment, StatefulSet, Pod, ...'),
      ownerControllerName: str(),
    },
    { required: ['current', 'ownerControllerType', 'ownerControllerName'], tsType: 'SpiderEndpointStatus' },
  ),
  statusSubresource: false,
  printerColumns: [
    col('INTERFACE', '.status.current.ips[0].interface', 'string'),
    col('IPV4POOL', '.status.current.ips[0].ipv4Pool', 'string'),
    col('IPV4', '.status.current.ips[0].ipv4', 'string'),
    col('IPV6POOL', '.status.current.ips[0].ipv6Pool', 'string'),
    col('IPV6', '.status.current.ips[0].ipv6', 'string'),
    col('NODE', '.status.current.node', 'string'),
  ],
});

export const spiderMultusConfig = spiderpoolCrd({
  kind: 'SpiderMultusConfig',
  shortNames: ['smc'],
  scope: 'Namespaced',
  description: 'SpiderMultusConfig generates and owns a Multus NetworkAttachmentDefinition.',
  spec: obj(
    {
      cniType: strEnum(['macvlan', 'ipvlan', 'vlan', 'sriov', 'ovs', 'ib-sriov', 'ipoib', 'custom'], 'custom'),
      macvlan: masterBased('MacvlanConfig'),
      ipvlan: masterBased('IpvlanConfig'),
      // No vlanID default for vlan: auto mode forbids the field, and the mutating webhook sets 0 in manual mode.
      vlan: masterBased('VlanConfig', { vlanMode: strEnum(['manual', 'auto'], 'manual'), vlanID: vlanID() }),
      sriov: obj(
        {
          resourceName: { ...str(), minLength: 1 },
          vlanID: vlanID(0),
          mtu: int({ min: 0, default: 0, format: 'int32' }),
          minTxRateMbps: int({ min: 0, default: 0 }),
          maxTxRateMbps: int({ min: 0, default: 0 }),
          rdmaIsolation: bool(false),
          ippools: spiderpoolPools(),
        },
        { required: ['resourceName'], tsType: 'SriovConfig' },
      ),
      ibsriov: obj(
        {
          resourceName: { ...str(), minLength: 1 },
          pkey: str(),
          linkState: strEnum(['auto', 'enable', 'disable'], 'enable'),
          rdmaIsolation: bool(true),
          enableIbKubernetes: bool(false),
          ippools: spiderpoolPools(),
        },
        { required: ['resourceName'], tsType: 'IbSriovConfig' },
      ),
      ipoib: obj(
        { master: { ...str(), minLength: 1 }, ippools: spiderpoolPools() },
        { required: ['master'], tsType: 'IpoibConfig' },
      ),
      ovs: obj(
        {
          bridge: { ...str(), minLength: 1 },
          vlan: vlanID(0),
          trunk: list(
            obj(
              {
                minID: int({ min: 0, max: 4094, format: 'int32' }),
                maxID: int({ min: 0, max: 4094, format: 'int32' }),
                id: int({ min: 0, max: 4094, format: 'int32' }),
              },
              { tsType: 'Trunk' },
            ),
          ),
          deviceID: str('PCI address of the device'),
          ippools: spiderpoolPools(),
        },
        { required: ['bridge'], tsType: 'OvsConfig' },
      ),
      customCNI: str('raw CNI conflist JSON used verbatim'),
      enableCoordinator: bool(true),
      disableIPAM: bool(false),
      coordinator: coordinatorSpec(),
      chainCNIJsonData: strList('single-plugin CNI JSON documents inserted before the coordinator'),
    },
    { tsType: 'SpiderMultusConfigSpec' },
  ),
  statusSubresource: false,
  printerColumns: [],
});

export const spiderCoordinator = spiderpoolCrd({
  kind: 'SpiderCoordinator',
  shortNames: ['scc'],
  scope: 'Cluster',
  description:
    'SpiderCoordinator holds the cluster-wide defaults of the coordinator plugin and the detected pod and service CIDRs.',
  spec: coordinatorSpec(),
  status: obj(
    {
      phase: strEnum(['Synced', 'NotReady']),
      reason: str('why the phase is NotReady'),
      overlayPodCIDR: strList(),
      serviceCIDR: strList(),
    },
    { tsType: 'SpiderCoordinatorStatus' },
  ),
  statusSubresource: true,
  printerColumns: [],
});

export const networkAttachmentDefinition: CrdDefinition = {
  group: 'k8s.cni.cncf.io',
  version: 'v1',
  kind: 'NetworkAttachmentDefinition',
  plural: 'network-attachment-definitions',
  singular: 'network-attachment-definition',
  shortNames: ['net-attach-def'],
  categories: [],
  scope: 'Namespaced',
  description: 'NetworkAttachmentDefinition is a CNI configuration that Multus attaches to pods (Multus CRD).',
  spec: obj({ config: str('CNI configuration as a JSON string') }, { tsType: 'NetworkAttachmentDefinitionSpec' }),
  statusSubresource: false,
  printerColumns: [],
};

const spiderpoolCrds = [
  spiderIPPool,
  spiderSubnet,
  spiderReservedIP,
  spiderEndpoint,
  spiderMultusConfig,
  spiderCoordinator,
];
export const allCrds = [...spiderpoolCrds, networkAttachmentDefinition];
