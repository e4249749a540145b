// The CRD admission rules behind the real apiserver, which calls them over loopback HTTPS: every invalid
// object below is refused by `kubectl apply` (or `kubectl delete`) with a message naming the object,
// the field and the reason, and leaves the cluster as it was; the quick-start examples and valid
// objects of every kind are accepted, with the mutating webhooks' defaults filled in.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { FINALIZER, GROUP, VERSION } from '../api/v2beta1/constants.ts';
import { crdRoutes } from '../webhooks/rules/index.ts';
import { repoRoot } from './cluster/install.ts';
import { kubectlOk } from './cluster/kubectl.ts';
import { testCluster, type TestCluster } from './harness/cluster.ts';
import { eventually } from './harness/wait.ts';
import { runWebhooks, type RunningWebhooks } from './harness/webhooks.ts';

interface Obj {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    annotations?: Record<string, string>;
    ownerReferences?: unknown[];
    [k: string]: unknown;
  };
  spec?: Record<string, unknown>;
  status?: Record<string, unknown>;
  [k: string]: unknown;
}

const API = `${GROUP}/${VERSION}`;
const PLURAL: Record<string, string> = {
  SpiderIPPool: 'spiderippools',
  SpiderSubnet: 'spidersubnets',
  SpiderReservedIP: 'spiderreservedips',
  SpiderEndpoint: 'spiderendpoints',
  SpiderMultusConfig: 'spidermultusconfigs',
  SpiderCoordinator: 'spidercoordinators',
  NetworkAttachmentDefinition: 'network-attachment-definitions.k8s.cni.cncf.io',
};
const NAMESPACED = new Set(['SpiderEndpoint', 'SpiderMultusConfig', 'NetworkAttachmentDefinition']);

const object = (kind: string, name: string, body: Partial<Obj> = {}, annotations?: Record<string, string>): Obj => ({
  apiVersion: kind === 'NetworkAttachmentDefinition' ? 'k8s.cni.cncf.io/v1' : API,
  kind,
  ...body,
  metadata: {
    name,
    ...(NAMESPACED.has(kind) ? { namespace: 'default' } : {}),
    ...(annotations ? { annotations } : {}),
  },
});
const pool = (name: string, spec: Record<string, unknown>) => object('SpiderIPPool', name, { spec });
const subnet = (name: string, spec: Record<string, unknown>) => object('SpiderSubnet', name, { spec });
const reserved = (name: string, spec: Record<string, unknown>) => object('SpiderReservedIP', name, { spec });
const smc = (name: string, spec: Record<string, unknown>, annotations?: Record<string, string>) =>
  object('SpiderMultusConfig', name, { spec }, annotations);
const coordinator = (name: string, spec: Record<string, unknown>) => object('SpiderCoordinator', name, { spec });
const endpoint = (name: string, ips: Record<string, unknown>[]) =>
  object('SpiderEndpoint', name, {
    status: { current: { uid: 'u-1', node: 'node-1', ips }, ownerControllerType: 'Pod', ownerControllerName: name },
  });
const macvlan = { cniType: 'macvlan', macvlan: { master: ['eth0'] } };
const allocated = (ip: string, pod: string) => ({
  allocatedIPs: JSON.stringify({ [ip]: { pod, podUid: 'uid-1' } }),
  allocatedIPCount: 1,
});

interface Case {
  title: string;
  /** Valid objects created first, in order; `status` is then written through the status subresource. */
  setup?: Obj[];
  /** The refused create or update. */
  apply?: Obj;
  /** The refused deletion. */
  remove?: Obj;
  expect: RegExp;
}

// Names are unique per case (the index is prepended), so a case never sees what an earlier one left terminating.
const cases: Case[] = [
  // SpiderIPPool: the object on its own
  {
    title: 'pool ips outside the subnet',
    apply: pool('p', { subnet: '10.250.0.0/24', ips: ['10.250.0.10', '10.250.1.5-10.250.1.9'] }),
    expect:
      /SpiderIPPool "\d+-p": spec\.ips\[1\] "10\.250\.1\.5-10\.250\.1\.9" is outside spec\.subnet 10\.250\.0\.0\/24/,
  },
  {
    title: 'pool IPv6 ips outside the /120',
    apply: pool('p', { subnet: 'fd00:250::/120', ips: ['fd00:250::1:0'] }),
    expect: /spec\.ips\[0\] "fd00:250::1:0" is outside spec\.subnet fd00:250::\/120/,
  },
  {
    title: 'pool subnet with host bits',
    apply: pool('p', { subnet: '10.250.0.1/24' }),
    expect: /spec\.subnet "10\.250\.0\.1\/24" is not in canonical form, use "10\.250\.0\.0\/24"/,
  },
  {
    title: 'pool subnet without prefix length',
    apply: pool('p', { subnet: '10.250.0.0' }),
    expect: /spec\.subnet: "10\.250\.0\.0" is not a valid CIDR/,
  },
  {
    title: 'pool ipVersion contradicting the subnet',
    apply: pool('p', { subnet: '10.250.0.0/24', ipVersion: 6 }),
    expect: /spec\.ipVersion 6 does not match spec\.subnet 10\.250\.0\.0\/24, which is IPv4/,
  },
  {
    title: 'pool range with start above end',
    apply: pool('p', { subnet: '10.250.0.0/24', ips: ['10.250.0.9-10.250.0.1'] }),
    expect: /spec\.ips\[0\]: "10\.250\.0\.9-10\.250\.0\.1" is not a valid IP range: start is greater than end/,
  },
  {
    title: 'pool range in CIDR notation',
    apply: pool('p', { subnet: '10.250.0.0/24', ips: ['10.250.0.0/28'] }),
    expect: /spec\.ips\[0\]: "10\.250\.0\.0\/28" is not a valid IP range: CIDR notation is not allowed/,
  },
  {
    title: 'pool excludeIPs of the other family',
    apply: pool('p', { subnet: '10.250.0.0/24', excludeIPs: ['fd00::1'] }),
    expect: /spec\.excludeIPs\[0\] "fd00::1" is IPv6, expected IPv4/,
  },
  {
    title: 'pool gateway outside the subnet',
    apply: pool('p', { subnet: '10.250.0.0/24', gateway: '10.251.0.1' }),
    expect: /spec\.gateway "10\.251\.0\.1" is outside spec\.subnet 10\.250\.0\.0\/24/,
  },
  {
    title: 'pool handing out its gateway',
    apply: pool('p', { subnet: '10.250.0.0/24', gateway: '10.250.0.1', ips: ['10.250.0.1-10.250.0.9'] }),
    expect:
      /spec\.ips\[0\] "10\.250\.0\.1-10\.250\.0\.9" contains spec\.gateway 10\.250\.0\.1, which must never be handed out/,
  },
  {
    title: 'pool default route',
    apply: pool('p', { subnet: '10.250.0.0/24', routes: [{ dst: '0.0.0.0/0', gw: '10.250.0.1' }] }),
    expect: /spec\.routes\[0\]\.dst "0\.0\.0\.0\/0" is the default route: set spec\.gateway instead/,
  },
  {
    title: 'pool duplicate route',
    apply: pool('p', {
      subnet: '10.250.0.0/24',
      routes: [
        { dst: '10.7.0.0/16', gw: '10.250.0.1' },
        { dst: '10.7.0.0/16', gw: '10.250.0.2' },
      ],
    }),
    expect: /spec\.routes\[1\]\.dst "10\.7\.0\.0\/16" duplicates spec\.routes\[0\]\.dst/,
  },
  {
    title: 'pool route via a gateway outside the subnet',
    apply: pool('p', { subnet: '10.250.0.0/24', routes: [{ dst: '10.7.0.0/16', gw: '10.251.0.1' }] }),
    expect: /spec\.routes\[0\]\.gw "10\.251\.0\.1" is outside spec\.subnet 10\.250\.0\.0\/24/,
  },
  {
    title: 'pool route to a bare IP',
    apply: pool('p', { subnet: '10.250.0.0/24', routes: [{ dst: '10.7.0.0', gw: '10.250.0.1' }] }),
    expect: /spec\.routes\[0\]\.dst: "10\.7\.0\.0" is not a valid CIDR/,
  },
  {
    title: 'pool empty podAffinity',
    apply: pool('p', { subnet: '10.250.0.0/24', podAffinity: {} }),
    expect: /spec\.podAffinity is empty, which would match every pod/,
  },
  {
    title: 'pool label value with a blank',
    apply: pool('p', { subnet: '10.250.0.0/24', nodeAffinity: { matchLabels: { zone: 'a b' } } }),
    expect: /spec\.nodeAffinity\.matchLabels\["zone"\] "a b" is not a valid label value/,
  },
  {
    title: 'pool In selector without values',
    apply: pool('p', { subnet: '10.250.0.0/24', podAffinity: { matchExpressions: [{ key: 'app', operator: 'In' }] } }),
    expect: /spec\.podAffinity: operator In on key "app" needs at least one value/,
  },
  // SpiderIPPool against other objects
  {
    title: 'pool sharing addresses with another pool of the subnet',
    setup: [pool('b', { subnet: '10.250.0.0/24', ips: ['10.250.0.10-10.250.0.20'] })],
    apply: pool('a', { subnet: '10.250.0.0/24', ips: ['10.250.0.18-10.250.0.30'] }),
    expect:
      /spec\.ips\[0\] "10\.250\.0\.18-10\.250\.0\.30" overlaps spec\.ips of SpiderIPPool "\d+-b" at 10\.250\.0\.18-10\.250\.0\.20/,
  },
  {
    title: "pool of a subnet overlapping another pool's subnet",
    setup: [pool('b', { subnet: '10.250.0.0/24' })],
    apply: pool('a', { subnet: '10.250.0.128/25' }),
    expect: /spec\.subnet 10\.250\.0\.128\/25 overlaps spec\.subnet 10\.250\.0\.0\/24 of SpiderIPPool "\d+-b"/,
  },
  {
    title: 'pool outside the SpiderSubnet it is carved from',
    setup: [subnet('s', { subnet: '10.250.0.0/24', ips: ['10.250.0.1-10.250.0.100'] })],
    apply: pool('a', { subnet: '10.250.0.0/24', ips: ['10.250.0.90-10.250.0.110'] }),
    expect: /spec\.ips 10\.250\.0\.101-10\.250\.0\.110 is outside the addresses of SpiderSubnet "\d+-s"/,
  },
  {
    title: 'pool changing its subnet',
    setup: [pool('a', { subnet: '10.250.0.0/24', ips: ['10.250.0.10'] })],
    apply: pool('a', { subnet: '10.250.1.0/24', ips: ['10.250.1.10'] }),
    expect: /spec\.subnet cannot be changed \(from "10\.250\.0\.0\/24" to "10\.250\.1\.0\/24"\)/,
  },
  {
    title: 'pool shrunk below an allocated address',
    setup: [
      {
        ...pool('a', { subnet: '10.250.0.0/24', ips: ['10.250.0.10-10.250.0.20'] }),
        status: allocated('10.250.0.12', 'default/nginx-1'),
      },
    ],
    apply: pool('a', { subnet: '10.250.0.0/24', ips: ['10.250.0.15-10.250.0.20'] }),
    expect: /spec\.ips leaves out 10\.250\.0\.12, which is allocated to Pod default\/nginx-1: release them/,
  },
  {
    title: 'pool excluding an allocated address',
    setup: [
      {
        ...pool('a', { subnet: '10.250.0.0/24', ips: ['10.250.0.10-10.250.0.20'] }),
        status: allocated('10.250.0.12', 'default/nginx-1'),
      },
    ],
    apply: pool('a', { subnet: '10.250.0.0/24', ips: ['10.250.0.10-10.250.0.20'], excludeIPs: ['10.250.0.12'] }),
    expect: /spec\.excludeIPs leaves out 10\.250\.0\.12, which is allocated to Pod default\/nginx-1/,
  },
  {
    title: 'deleting a pool with allocations',
    setup: [
      {
        ...pool('a', { subnet: '10.250.0.0/24', ips: ['10.250.0.10-10.250.0.20'] }),
        status: allocated('10.250.0.12', 'default/nginx-1'),
      },
    ],
    remove: pool('a', {}),
    expect:
      /SpiderIPPool "\d+-a": cannot be deleted while status\.allocatedIPs holds 1 allocated IPs \(10\.250\.0\.12 is allocated to Pod default\/nginx-1\): delete the pods using the pool first/,
  },
  // SpiderSubnet
  {
    title: 'subnet excludeIPs outside the subnet',
    apply: subnet('s', { subnet: '10.250.0.0/24', excludeIPs: ['10.251.0.1'] }),
    expect: /SpiderSubnet "\d+-s": spec\.excludeIPs\[0\] "10\.251\.0\.1" is outside spec\.subnet 10\.250\.0\.0\/24/,
  },
  {
    title: 'subnet with host bits',
    apply: subnet('s', { subnet: 'fd00:250::1/120' }),
    expect: /spec\.subnet "fd00:250::1\/120" is not in canonical form, use "fd00:250::\/120"/,
  },
  {
    title: 'subnet handing out its gateway',
    apply: subnet('s', { subnet: '10.250.0.0/24', gateway: '10.250.0.1', ips: ['10.250.0.1-10.250.0.9'] }),
    expect: /spec\.ips\[0\] "10\.250\.0\.1-10\.250\.0\.9" contains spec\.gateway 10\.250\.0\.1/,
  },
  {
    title: 'subnet overlapping another subnet',
    setup: [subnet('t', { subnet: '10.250.0.0/24' })],
    apply: subnet('s', { subnet: '10.250.0.0/23' }),
    expect: /spec\.subnet 10\.250\.0\.0\/23 overlaps spec\.subnet 10\.250\.0\.0\/24 of SpiderSubnet "\d+-t"/,
  },
  {
    title: 'subnet over a pool of a different subnet',
    setup: [pool('p', { subnet: '10.250.0.0/25' })],
    apply: subnet('s', { subnet: '10.250.0.0/24' }),
    expect:
      /overlaps spec\.subnet 10\.250\.0\.0\/25 of SpiderIPPool "\d+-p": pools inside a SpiderSubnet must use the same spec\.subnet/,
  },
  {
    title: 'subnet not containing an existing pool of its subnet',
    setup: [pool('p', { subnet: '10.250.0.0/24', ips: ['10.250.0.10-10.250.0.30'] })],
    apply: subnet('s', { subnet: '10.250.0.0/24', ips: ['10.250.0.1-10.250.0.20'] }),
    expect: /spec\.ips − spec\.excludeIPs leaves out 10\.250\.0\.21-10\.250\.0\.30, which SpiderIPPool "\d+-p" holds/,
  },
  {
    title: 'subnet shrunk below a pool carved from it',
    setup: [
      subnet('s', { subnet: '10.250.0.0/24', ips: ['10.250.0.1-10.250.0.100'] }),
      pool('p', { subnet: '10.250.0.0/24', ips: ['10.250.0.50-10.250.0.60'] }),
    ],
    apply: subnet('s', { subnet: '10.250.0.0/24', ips: ['10.250.0.1-10.250.0.55'] }),
    expect:
      /spec\.ips − spec\.excludeIPs leaves out 10\.250\.0\.56-10\.250\.0\.60, which SpiderIPPool "\d+-p" holds: shrink or delete the pool first/,
  },
  {
    title: 'deleting a subnet whose pool has allocations',
    setup: [
      subnet('s', { subnet: '10.250.0.0/24', ips: ['10.250.0.1-10.250.0.100'] }),
      {
        ...pool('p', { subnet: '10.250.0.0/24', ips: ['10.250.0.50-10.250.0.60'] }),
        status: allocated('10.250.0.50', 'default/nginx-2'),
      },
    ],
    remove: subnet('s', {}),
    expect: /SpiderSubnet "\d+-s": cannot be deleted while SpiderIPPool "\d+-p" carved from it holds 1 allocated IPs/,
  },
  // SpiderReservedIP
  {
    title: 'reserved IPs empty',
    apply: reserved('r', { ips: [] }),
    expect: /SpiderReservedIP "\d+-r": spec\.ipVersion is not set and could not be derived: spec\.ips is empty/,
  },
  {
    title: 'reserved IPs of mixed families',
    apply: reserved('r', { ips: ['10.250.0.1', 'fd00::1'] }),
    expect: /spec\.ips\[1\] "fd00::1" is IPv6, expected IPv4/,
  },
  {
    title: 'reserved IP in CIDR notation',
    apply: reserved('r', { ipVersion: 4, ips: ['10.250.0.0/24'] }),
    expect: /spec\.ips\[0\]: "10\.250\.0\.0\/24" is not a valid IP range: CIDR notation is not allowed/,
  },
  {
    title: 'reserved IPs changing ipVersion',
    setup: [reserved('r', { ips: ['10.250.0.1'] })],
    apply: reserved('r', { ipVersion: 6, ips: ['fd00::1'] }),
    expect: /spec\.ipVersion cannot be changed \(from 4 to 6\)/,
  },
  // SpiderEndpoint
  {
    title: 'endpoint address without prefix length',
    apply: endpoint('e', [{ interface: 'eth0', ipv4: '10.250.0.12', ipv4Pool: 'p' }]),
    expect: /SpiderEndpoint "default\/\d+-e": status\.current\.ips\[0\]\.ipv4: "10\.250\.0\.12" has no prefix length/,
  },
  {
    title: 'endpoint interface listed twice',
    apply: endpoint('e', [{ interface: 'eth0' }, { interface: 'eth0' }]),
    expect: /status\.current\.ips\[1\]\.interface "eth0" duplicates status\.current\.ips\[0\]\.interface/,
  },
  {
    title: 'endpoint gateway of the other family',
    apply: endpoint('e', [{ interface: 'eth0', ipv4: '10.250.0.12/24', ipv4Pool: 'p', ipv4Gateway: 'fd00::1' }]),
    expect: /status\.current\.ips\[0\]\.ipv4Gateway "fd00::1" is not an IPv4 address/,
  },
  {
    title: 'endpoint address without its pool',
    apply: endpoint('e', [{ interface: 'eth0', ipv6: 'fd00::12/64' }]),
    expect: /status\.current\.ips\[0\]\.ipv6Pool is required when status\.current\.ips\[0\]\.ipv6 is set/,
  },
  // SpiderMultusConfig
  {
    title: 'multus config with two blocks',
    apply: smc('m', { ...macvlan, ipvlan: { master: ['eth1'] } }),
    expect:
      /SpiderMultusConfig "default\/\d+-m": spec\.ipvlan must not be set when spec\.cniType is "macvlan": only spec\.macvlan is used/,
  },
  {
    title: 'multus config without its block',
    apply: smc('m', { cniType: 'sriov' }),
    expect: /spec\.sriov is required when spec\.cniType is "sriov"/,
  },
  {
    title: 'multus config bonding without bond',
    apply: smc('m', { cniType: 'ipvlan', ipvlan: { master: ['eth0', 'eth1'] } }),
    expect: /spec\.ipvlan\.bond is required when spec\.ipvlan\.master lists 2 interfaces/,
  },
  {
    title: 'multus config master name too long',
    apply: smc('m', { cniType: 'macvlan', macvlan: { master: ['averyveryverylongname'] } }),
    expect: /spec\.macvlan\.master\[0\] "averyveryverylongname" is longer than 15 characters/,
  },
  {
    title: 'multus config matchMasterSubnet on macvlan',
    apply: smc('m', { cniType: 'macvlan', macvlan: { master: ['eth0'], ippools: { matchMasterSubnet: true } } }),
    expect: /spec\.macvlan\.ippools\.matchMasterSubnet is not supported for cniType macvlan/,
  },
  {
    title: 'multus config invalid pool name',
    apply: smc('m', { cniType: 'macvlan', macvlan: { master: ['eth0'], ippools: { ipv4: ['Pool_A'] } } }),
    expect: /spec\.macvlan\.ippools\.ipv4\[0\] "Pool_A" is not a valid SpiderIPPool name/,
  },
  {
    title: 'multus config vlanID in auto vlan mode',
    apply: smc('m', { cniType: 'vlan', vlan: { master: ['eth0'], vlanMode: 'auto', vlanID: 10 } }),
    expect: /spec\.vlan\.vlanID must not be set when spec\.vlan\.vlanMode is "auto"/,
  },
  {
    title: 'multus config sriov min rate above max',
    apply: smc('m', {
      cniType: 'sriov',
      sriov: { resourceName: 'spidernet.io/vf', minTxRateMbps: 200, maxTxRateMbps: 100 },
    }),
    expect: /spec\.sriov\.minTxRateMbps 200 is greater than spec\.sriov\.maxTxRateMbps 100/,
  },
  {
    title: 'multus config ovs trunk range reversed',
    apply: smc('m', { cniType: 'ovs', ovs: { bridge: 'br0', trunk: [{ minID: 20, maxID: 10 }] } }),
    expect: /spec\.ovs\.trunk\[0\]\.minID 20 is greater than spec\.ovs\.trunk\[0\]\.maxID 10/,
  },
  {
    title: 'multus config custom CNI not JSON',
    apply: smc('m', { cniType: 'custom', customCNI: '{"cniVersion": ' }),
    expect: /spec\.customCNI is not valid JSON/,
  },
  {
    title: 'multus config chained plugin without type',
    apply: smc('m', { ...macvlan, chainCNIJsonData: ['{"name": "tuning"}'] }),
    expect: /spec\.chainCNIJsonData\[0\] is not a CNI plugin configuration: it must be a JSON object with a "type"/,
  },
  {
    title: 'multus config unsupported CNI version',
    apply: smc('m', macvlan, { 'multus.spidernet.io/cni-version': '0.2.0' }),
    expect: /metadata\.annotations\["multus\.spidernet\.io\/cni-version"\] "0\.2\.0" is not a supported CNI version/,
  },
  {
    title: 'multus config invalid NAD name',
    apply: smc('m', macvlan, { 'multus.spidernet.io/cr-name': 'Net_A' }),
    expect:
      /metadata\.annotations\["multus\.spidernet\.io\/cr-name"\] "Net_A" is not a valid NetworkAttachmentDefinition name/,
  },
  {
    title: 'multus config rdma injection without a resource',
    apply: smc(
      'm',
      { cniType: 'macvlan', macvlan: { master: ['eth0'], ippools: { ipv4: ['p'] } } },
      { 'cni.spidernet.io/rdma-resource-inject': 'rdma' },
    ),
    expect: /rdma-resource-inject"\] needs an RDMA resource name in spec\.macvlan/,
  },
  {
    title: 'multus config coordinator route of mixed families',
    apply: smc('m', { ...macvlan, coordinator: { policyRoutes: [{ dst: '10.0.0.0/8', gw: 'fd00::1' }] } }),
    expect: /spec\.coordinator\.policyRoutes\[0\]: dst "10\.0\.0\.0\/8" and gw "fd00::1" must use the same IP family/,
  },
  {
    title: 'multus config adding the NAD name annotation later',
    setup: [smc('m', macvlan)],
    apply: smc('m', macvlan, { 'multus.spidernet.io/cr-name': 'renamed' }),
    expect:
      /metadata\.annotations\["multus\.spidernet\.io\/cr-name"\] cannot be added, changed or removed after creation \(was null, now "renamed"\)/,
  },
  {
    title: 'multus config taking over a NAD another one manages',
    setup: [smc('owner', macvlan), object('NetworkAttachmentDefinition', 'owned', { spec: { config: '{}' } })],
    apply: smc('m', macvlan, { 'multus.spidernet.io/cr-name': 'OWNED' }),
    expect:
      /the NetworkAttachmentDefinition default\/\d+-owned already exists and is managed by SpiderMultusConfig default\/\d+-owner/,
  },
  // SpiderCoordinator
  {
    title: 'coordinator without podCIDRType',
    apply: coordinator('c', { mode: 'underlay' }),
    expect: /SpiderCoordinator "\d+-c": spec\.podCIDRType is required/,
  },
  {
    title: 'coordinator hijackCIDR not a network',
    apply: coordinator('c', { podCIDRType: 'none', hijackCIDR: ['169.254.0.0/33'] }),
    expect: /spec\.hijackCIDR\[0\] "169\.254\.0\.0\/33" is neither an IP address nor a CIDR/,
  },
  {
    title: 'coordinator policy route gw not an IP',
    apply: coordinator('c', { podCIDRType: 'none', policyRoutes: [{ dst: '10.0.0.0/8', gw: 'router' }] }),
    expect: /spec\.policyRoutes\[0\]\.gw "router" is not a valid IP address/,
  },
  {
    title: 'coordinator multicast MAC prefix',
    apply: coordinator('c', { podCIDRType: 'none', podMACPrefix: '01:00' }),
    expect: /spec\.podMACPrefix "01:00" is not a unicast MAC: the lowest bit of the first byte must be 0/,
  },
  {
    title: 'coordinator veth link address not an IP',
    apply: coordinator('c', { podCIDRType: 'none', vethLinkAddress: '169.254.300.1' }),
    expect: /spec\.vethLinkAddress "169\.254\.300\.1" is not a valid IP address/,
  },
  {
    title: 'coordinator host rule table main',
    apply: coordinator('c', { podCIDRType: 'none', hostRuleTable: 254 }),
    expect: /spec\.hostRuleTable 254 is not usable/,
  },
];

/**
 * A case's objects get the case index as a name prefix, and its addresses move from 10.250.0.0/23 to a
 * /23 of its own, so that nothing one case leaves behind can change another's outcome. The cr-name
 * annotation placeholder `OWNED` names the case's NAD.
 */
const relocate = (index: number, text: string, dot: string) =>
  text
    .replaceAll(`10${dot}250${dot}0${dot}`, `10${dot}250${dot}${2 * index}${dot}`)
    .replaceAll(`10${dot}250${dot}1${dot}`, `10${dot}250${dot}${2 * index + 1}${dot}`);
function named(index: number, o: Obj): Obj {
  const copy = JSON.parse(relocate(index, JSON.stringify(o), '.')) as Obj;
  copy.metadata.name = `${index}-${o.metadata.name}`;
  const crName = copy.metadata.annotations?.['multus.spidernet.io/cr-name'];
  if (crName === 'OWNED' && copy.metadata.annotations)
    copy.metadata.annotations['multus.spidernet.io/cr-name'] = `${index}-owned`;
  return copy;
}
const expectation = (index: number, pattern: RegExp) => new RegExp(relocate(index, pattern.source, '\\.'));

describe('CRD admission webhooks on the real apiserver', function () {
  this.timeout(300_000);
  let c: TestCluster;
  let hooks: RunningWebhooks;

  const ref = (o: Obj) => [
    PLURAL[o.kind] as string,
    o.metadata.name,
    ...(o.metadata.namespace ? ['-n', o.metadata.namespace] : []),
  ];
  const get = async (o: Obj): Promise<Obj | undefined> => {
    const r = await c.kubectl(['get', ...ref(o), '-o', 'json']);
    if (r.code !== 0 && /NotFound/.test(r.stderr)) return undefined;
    if (r.code !== 0) throw new Error(`kubectl get ${ref(o).join(' ')}: ${r.stderr}`);
    return JSON.parse(r.stdout) as Obj;
  };
  const writeStatus = async (o: Obj, status: Record<string, unknown>) => {
    const current = await get(o);
    const path = `/apis/${API}/${PLURAL[o.kind]}/${o.metadata.name}/status`;
    await kubectlOk(c.kubectl, ['replace', '--raw', path, '-f', '-'], {
      stdin: JSON.stringify({ ...current, status }),
    });
  };
  /** Deletes an object whatever its finalizers and allocations, and waits until it is gone. */
  const destroy = async (o: Obj) => {
    const current = await get(o);
    if (!current) return;
    if (o.kind === 'SpiderIPPool' && current.status?.allocatedIPs) await writeStatus(o, {});
    await kubectlOk(c.kubectl, ['delete', ...ref(o), '--wait=false', '--ignore-not-found']);
    const r = await c.kubectl(['patch', ...ref(o), '--type=merge', '-p', '{"metadata":{"finalizers":null}}']);
    if (r.code !== 0 && !/NotFound/.test(r.stderr))
      throw new Error(`removing the finalizers of ${ref(o).join(' ')}: ${r.stderr}`);
    await eventually(`${o.kind} ${o.metadata.name} to be gone`, 30_000, async () =>
      (await get(o)) === undefined ? true : undefined,
    );
  };

  before(async () => {
    c = await testCluster();
    hooks = await runWebhooks(c, crdRoutes, { configurationName: 'spiderpool-crd-rules' });
  });
  after(async () => {
    await hooks?.stop();
  });

  it('has at least 40 invalid objects across the six kinds', () => {
    const kinds = new Set(cases.map((tc) => (tc.apply ?? tc.remove)?.kind));
    assert.ok(cases.length >= 40, `${cases.length} cases`);
    assert.deepEqual([...kinds].sort(), [
      'SpiderCoordinator',
      'SpiderEndpoint',
      'SpiderIPPool',
      'SpiderMultusConfig',
      'SpiderReservedIP',
      'SpiderSubnet',
    ]);
  });

  cases.forEach((tc, index) => {
    it(`refuses ${tc.title}`, async () => {
      const setup = (tc.setup ?? []).map((o) => named(index, o));
      const target = named(index, (tc.apply ?? tc.remove) as Obj);
      try {
        for (const o of setup) {
          const { status, ...body } = o;
          if (o.kind === 'NetworkAttachmentDefinition') {
            const owner = await get(setup[0] as Obj);
            body.metadata = {
              ...body.metadata,
              ownerReferences: [
                {
                  apiVersion: API,
                  kind: 'SpiderMultusConfig',
                  name: owner?.metadata.name,
                  uid: owner?.metadata.uid,
                  controller: true,
                },
              ],
            };
          }
          await kubectlOk(c.kubectl, ['apply', '-f', '-'], { stdin: JSON.stringify(body) });
          if (status) await writeStatus(o, status);
        }
        const before = await get(target);
        const r = tc.remove
          ? await c.kubectl(['delete', ...ref(target), '--wait=false'])
          : await c.kubectl(['apply', '-f', '-'], { stdin: JSON.stringify(target) });
        assert.notEqual(r.code, 0, `expected a refusal, got: ${r.stdout}`);
        assert.match(
          r.stderr,
          /admission webhook "validate-spiderpool-spidernet-io-v2beta1-[a-z]+\.spidernet\.io" denied the request/,
        );
        assert.match(r.stderr, expectation(index, tc.expect));
        const after = await get(target);
        if (!before) {
          assert.equal(after, undefined, 'a refused object must not be stored');
        } else {
          assert.ok(after, 'the object must still exist');
          assert.equal(after.metadata.deletionTimestamp, undefined, 'a refused deletion must not start');
          assert.equal(
            after.metadata.resourceVersion,
            before.metadata.resourceVersion,
            'a refused update must change nothing',
          );
        }
      } finally {
        // Dependents first: a pool's allocations would keep its subnet from being deleted.
        for (const o of [...[...setup].reverse(), target]) await destroy(o);
      }
    });
  });

  describe('valid objects', () => {
    const fixtureDir = join(repoRoot, 'e2e', 'fixtures');
    const seeds = readdirSync(fixtureDir, { withFileTypes: true })
      .filter((d) => d.isDirectory())
      .flatMap((d) =>
        readdirSync(join(fixtureDir, d.name))
          .filter((f) => f.endsWith('.yaml'))
          .map((f) => join(d.name, f)),
      );
    const crdKinds = new Set(Object.keys(PLURAL));
    const applied: Obj[] = [];
    after(async () => {
      for (const o of applied.reverse()) await destroy(o);
    });

    for (const seed of seeds) {
      const docs = parseAllDocuments(readFileSync(join(fixtureDir, seed), 'utf8'))
        .map((d) => d.toJS() as Obj)
        .filter((o) => crdKinds.has(o.kind));
      if (docs.length === 0) continue;
      it(`accepts the quick-start ${seed} and fills in the defaults`, async () => {
        const objects = docs.map((doc) => ({
          ...doc,
          metadata: {
            ...doc.metadata,
            namespace: doc.metadata.namespace ?? (NAMESPACED.has(doc.kind) ? 'default' : undefined),
          },
        }));
        // Other test files may have left these objects; an unchanged apply would not reach the webhooks.
        for (const o of objects) await destroy(o);
        await kubectlOk(c.kubectl, ['apply', '-f', join(fixtureDir, seed)]);
        for (const [i, doc] of docs.entries()) {
          const o = objects[i]!;
          applied.push(o);
          const stored = await get(o);
          assert.ok(stored, `${doc.kind} ${doc.metadata.name} was not stored`);
          if (doc.kind === 'SpiderIPPool') {
            assert.deepEqual(stored.metadata.finalizers, [FINALIZER]);
            assert.equal(stored.spec?.ipVersion, 4);
            assert.equal(
              (stored.metadata.labels as Record<string, string>)['ipam.spidernet.io/ippool-cidr'],
              String(doc.spec?.subnet).replace(/[./]/g, '-'),
            );
          } else {
            assert.equal(
              (stored.spec?.coordinator as { mode?: string }).mode,
              (doc.spec?.coordinator as { mode?: string } | undefined)?.mode ?? 'auto',
            );
            assert.deepEqual(stored.spec?.chainCNIJsonData, []);
          }
        }
      });
    }

    it('accepts a valid object of every kind', async () => {
      const valid = [
        subnet('crd-valid-subnet', {
          subnet: 'fd00:250::/120',
          ips: ['fd00:250::10-fd00:250::80'],
          gateway: 'fd00:250::1',
          routes: [{ dst: 'fd00:251::/64', gw: 'fd00:250::fe' }],
        }),
        pool('crd-valid-pool', {
          subnet: 'fd00:250::/120',
          ips: ['fd00:250::40-fd00:250::50', 'fd00:250::10-fd00:250::3f'],
          podAffinity: { matchLabels: { app: 'nginx' } },
        }),
        reserved('crd-valid-reserved', { ips: ['fd00:250::41', 'fd00:250::40'] }),
        endpoint('crd-valid-endpoint', [
          {
            interface: 'eth0',
            ipv6: 'fd00:250::12/120',
            ipv6Pool: 'crd-valid-pool',
            ipv6Gateway: 'fd00:250::1',
            routes: [{ dst: 'fd00:251::/64', gw: 'fd00:250::fe' }],
          },
        ]),
        smc(
          'crd-valid-sriov',
          { cniType: 'sriov', sriov: { resourceName: 'spidernet.io/vf', ippools: { ipv6: ['crd-valid-pool'] } } },
          { 'cni.spidernet.io/rdma-resource-inject': 'rdma' },
        ),
        coordinator('crd-valid-coordinator', { podCIDRType: 'cluster', hijackCIDR: ['169.254.25.10'] }),
      ];
      for (const o of valid) {
        applied.push(o);
        await kubectlOk(c.kubectl, ['apply', '-f', '-'], { stdin: JSON.stringify(o) });
      }
      const storedPool = await get(valid[1] as Obj);
      assert.deepEqual(storedPool?.spec?.ips, ['fd00:250::10-fd00:250::50']);
      assert.equal(storedPool?.spec?.gateway, 'fd00:250::1', 'inherited from the SpiderSubnet');
      assert.equal(
        (storedPool?.metadata.labels as Record<string, string>)['ipam.spidernet.io/owner-spider-subnet'],
        'crd-valid-subnet',
      );
      assert.deepEqual((await get(valid[2] as Obj))?.spec, { ipVersion: 6, ips: ['fd00:250::40-fd00:250::41'] });
      assert.equal(
        ((await get(valid[4] as Obj))?.metadata.labels as Record<string, string>)[
          'cni.spidernet.io/rdma-resource-inject'
        ],
        'rdma',
      );
      const storedCoordinator = await get(valid[5] as Obj);
      assert.deepEqual(storedCoordinator?.spec?.hijackCIDR, ['169.254.25.10/32']);
      assert.equal(storedCoordinator?.spec?.vethMTU, 1500);
      assert.deepEqual(storedCoordinator?.metadata.finalizers, [FINALIZER]);
    });
  });
});
