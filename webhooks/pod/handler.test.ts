import assert from 'node:assert/strict';
import type { V1Namespace, V1Node, V1Pod } from '@kubernetes/client-node';
import type {
  NetworkAttachmentDefinition,
  SpiderIPPool,
  SpiderIPPoolSpec,
  SpiderReservedIP,
  SpiderSubnet,
} from '../../api/v2beta1/types.ts';
import type { AdmissionDecision, AdmissionRequest, ClusterView } from '../types.ts';
import { createPodRoutes, POD_WEBHOOK_PATH } from './index.ts';
import { PendingPods } from './pending-pods.ts';

// ---- a cluster in memory ---------------------------------------------------------------------------------

interface World {
  pools?: SpiderIPPool[];
  subnets?: SpiderSubnet[];
  reserved?: SpiderReservedIP[];
  namespaces?: V1Namespace[];
  nodes?: V1Node[];
  nads?: NetworkAttachmentDefinition[];
  pods?: V1Pod[];
}

function clusterOf(w: World): ClusterView {
  return {
    listIPPools: async () => w.pools ?? [],
    listSubnets: async () => w.subnets ?? [],
    listReservedIPs: async () => w.reserved ?? [],
    getNamespace: async (name) => (w.namespaces ?? [{ metadata: { name } }]).find((n) => n.metadata?.name === name),
    getNode: async (name) => w.nodes?.find((n) => n.metadata?.name === name),
    getNetworkAttachmentDefinition: async (ns, name) =>
      w.nads?.find((n) => n.metadata.namespace === ns && n.metadata.name === name),
    getSpiderMultusConfig: async () => undefined,
    pendingPodsNaming: async (family, names) => PendingPods.of(w.pods ?? []).naming(family, names),
  };
}

type PoolOptions = Partial<SpiderIPPoolSpec> & {
  terminating?: boolean;
  allocated?: Record<string, { pod: string; podUid: string }>;
};

function pool(name: string, options: PoolOptions = {}): SpiderIPPool {
  const { terminating, allocated, ...spec } = options;
  return {
    apiVersion: 'spiderpool.spidernet.io/v2beta1',
    kind: 'SpiderIPPool',
    metadata: { name, ...(terminating ? { deletionTimestamp: new Date('2026-01-01T00:00:00Z') } : {}) },
    spec: { ipVersion: 4, subnet: '10.6.0.0/16', ips: ['10.6.0.10-10.6.0.200'], ...spec },
    ...(allocated
      ? { status: { allocatedIPs: JSON.stringify(allocated), allocatedIPCount: Object.keys(allocated).length } }
      : {}),
  };
}

interface PodOptions {
  name?: string;
  namespace?: string;
  annotations?: Record<string, string>;
  labels?: Record<string, string>;
  nodeName?: string;
  owner?: boolean;
  affinity?: V1Pod['spec'] extends infer S ? (S extends { affinity?: infer A } ? A : never) : never;
}

function podOf(o: PodOptions = {}): V1Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: o.name ?? 'web',
      ...(o.annotations ? { annotations: o.annotations } : {}),
      ...(o.labels ? { labels: o.labels } : {}),
      ...(o.owner
        ? {
            ownerReferences: [
              { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web-5d4f', uid: 'u-rs', controller: true },
            ],
          }
        : {}),
    },
    spec: {
      containers: [{ name: 'c', image: 'nginx' }],
      ...(o.nodeName ? { nodeName: o.nodeName } : {}),
      ...(o.affinity ? { affinity: o.affinity } : {}),
    },
  };
}

const [route] = createPodRoutes({ installNamespace: 'spiderpool' });

async function admit(
  pod: V1Pod,
  world: World = {},
  operation: AdmissionRequest['operation'] = 'CREATE',
  namespace = 'default',
): Promise<AdmissionDecision> {
  assert.ok(route);
  const request: AdmissionRequest = {
    uid: 'uid-1',
    kind: { group: '', version: 'v1', kind: 'Pod' },
    resource: { group: '', version: 'v1', resource: 'pods' },
    namespace,
    operation,
    object: pod,
  };
  return route.handler(request, clusterOf(world));
}

async function denied(pod: V1Pod, world: World = {}): Promise<string> {
  const d = await admit(pod, world);
  assert.equal(d.allowed, false, `expected a denial, got ${JSON.stringify(d)}`);
  assert.ok(d.message?.startsWith('Pod default/'), d.message);
  return d.message as string;
}

const ippool = (v4: string[], v6: string[] = []) => ({
  'ipam.spidernet.io/ippool': JSON.stringify({ ipv4: v4, ipv6: v6 }),
});
const networks = (value: string) => ({ 'k8s.v1.cni.cncf.io/networks': value });

// ---- tests ------------------------------------------------------------------------------------------------

describe('pod webhook: route', () => {
  it('is a mutating CREATE webhook for pods, failurePolicy Ignore, excluding kube-system and the product namespace', () => {
    assert.equal(route?.path, POD_WEBHOOK_PATH);
    assert.equal(route?.type, 'mutating');
    assert.deepEqual(route?.rule, {
      apiGroups: [''],
      apiVersions: ['v1'],
      resources: ['pods'],
      operations: ['CREATE'],
      scope: 'Namespaced',
    });
    assert.equal(route?.failurePolicy, 'Ignore');
    assert.deepEqual(route?.excludeNamespaces, ['kube-system', 'spiderpool']);
    assert.deepEqual(createPodRoutes({ installNamespace: 'ops' })[0]?.excludeNamespaces, ['kube-system', 'ops']);
  });

  it('lets through pods of excluded namespaces and anything but CREATE even when they would be denied', async () => {
    const bad = podOf({ annotations: { 'ipam.spidernet.io/ippool': '{' } });
    assert.deepEqual(await admit(bad, {}, 'CREATE', 'kube-system'), { allowed: true });
    assert.deepEqual(await admit(bad, {}, 'CREATE', 'spiderpool'), { allowed: true });
    assert.deepEqual(await admit(bad, {}, 'UPDATE'), { allowed: true });
    assert.equal((await admit(bad)).allowed, false);
  });

  it('allows a pod without IPAM annotations untouched', async () => {
    assert.deepEqual(await admit(podOf(), { pools: [pool('p', { nodeName: ['w1'] })] }), { allowed: true });
  });
});

describe('pod webhook: malformed annotations are Invalid and name the annotation', () => {
  const cases: [string, Record<string, string>, RegExp][] = [
    [
      'ippool not JSON',
      { 'ipam.spidernet.io/ippool': '{"ipv4":[' },
      /annotation ipam\.spidernet\.io\/ippool is invalid: not valid JSON/,
    ],
    [
      'ippool not an object',
      { 'ipam.spidernet.io/ippool': '["p"]' },
      /ipam\.spidernet\.io\/ippool is invalid: must be a JSON object/,
    ],
    [
      'ippool names nothing',
      { 'ipam.spidernet.io/ippool': '{}' },
      /ipam\.spidernet\.io\/ippool is invalid: it names no IPv4 or IPv6 pool/,
    ],
    [
      'ippools mixed interface',
      { 'ipam.spidernet.io/ippools': '[{"interface":"eth0","ipv4":["p"]},{"ipv4":["q"]}]' },
      /ipam\.spidernet\.io\/ippools is invalid: "interface" is set on some items/,
    ],
    [
      'subnet not JSON',
      { 'ipam.spidernet.io/subnet': 'subnet-a' },
      /ipam\.spidernet\.io\/subnet is invalid: not valid JSON/,
    ],
    [
      'subnets reuse an interface',
      { 'ipam.spidernet.io/subnets': '[{"interface":"eth0","ipv4":["a"]},{"interface":"eth0","ipv4":["b"]}]' },
      /ipam\.spidernet\.io\/subnets is invalid: interface eth0 is used by more than one item/,
    ],
    [
      'routes gw not an IP',
      { 'ipam.spidernet.io/routes': '[{"dst":"10.0.0.0/16","gw":"gateway"}]' },
      /ipam\.spidernet\.io\/routes is invalid: route 0: gw "gateway" is not an IP address/,
    ],
    [
      'routes families differ',
      { 'ipam.spidernet.io/routes': '[{"dst":"10.0.0.0/16","gw":"fd00::1"}]' },
      /ipam\.spidernet\.io\/routes is invalid: .*different IP families/,
    ],
    [
      'default-route-nic too long',
      { 'ipam.spidernet.io/default-route-nic': 'averyveryverylongnic' },
      /ipam\.spidernet\.io\/default-route-nic is invalid: .*longer than 15/,
    ],
    [
      'ippool-ip-number not a number',
      { 'ipam.spidernet.io/ippool-ip-number': '+x' },
      /ipam\.spidernet\.io\/ippool-ip-number is invalid: "\+x" is neither "N"/,
    ],
    [
      'ippool-ip-number negative',
      { 'ipam.spidernet.io/ippool-ip-number': '-2' },
      /ipam\.spidernet\.io\/ippool-ip-number is invalid: "-2" is negative/,
    ],
    [
      'ippool-reclaim not a bool',
      { 'ipam.spidernet.io/ippool-reclaim': 'yes' },
      /ipam\.spidernet\.io\/ippool-reclaim is invalid: "yes" is not "true" or "false"/,
    ],
    [
      'Multus networks malformed',
      networks('a/b/c'),
      /annotation k8s\.v1\.cni\.cncf\.io\/networks is invalid: entry "a\/b\/c" has more than one '\/'/,
    ],
    [
      'Multus networks reuse an interface',
      networks('default/a@net1,default/b@net1'),
      /k8s\.v1\.cni\.cncf\.io\/networks is invalid: interface net1 is used by more than one network/,
    ],
    ['duplicate pool', ippool(['p', 'p']), /duplicate IPPool "p" in annotation ipam\.spidernet\.io\/ippool for IPv4/],
  ];
  for (const [what, annotations, message] of cases) {
    it(what, async () => {
      const d = await admit(podOf({ annotations }), { pools: [pool('p')] });
      assert.equal(d.allowed, false);
      assert.equal(d.code, 422);
      assert.match(d.message ?? '', message);
    });
  }

  it('a malformed namespace default annotation is refused for pods of that namespace', async () => {
    const ns = { metadata: { name: 'default', annotations: { 'ipam.spidernet.io/default-ipv4-ippool': 'p' } } };
    assert.match(
      await denied(podOf(), { namespaces: [ns] }),
      /annotation ipam\.spidernet\.io\/default-ipv4-ippool of namespace default is invalid/,
    );
  });
});

describe('pod webhook: pools that cannot serve the pod are Forbidden', () => {
  it('a pool that does not exist', async () => {
    const m = await denied(podOf({ annotations: ippool(['missing']) }), { pools: [pool('p')] });
    assert.match(m, /SpiderIPPool "missing" named in annotation ipam\.spidernet\.io\/ippool does not exist/);
  });

  it('a disabled pool, and a terminating one', async () => {
    assert.match(
      await denied(podOf({ annotations: ippool(['p']) }), { pools: [pool('p', { disable: true })] }),
      /SpiderIPPool "p" \(annotation ipam\.spidernet\.io\/ippool, interface eth0, IPv4\) cannot serve the pod: disabled/,
    );
    assert.match(
      await denied(podOf({ annotations: ippool(['p']) }), { pools: [pool('p', { terminating: true })] }),
      /"p" .* cannot serve the pod: terminating/,
    );
  });

  it('a pool of the wrong IP version', async () => {
    const m = await denied(podOf({ annotations: ippool([], ['p']) }), { pools: [pool('p')] });
    assert.match(
      m,
      /SpiderIPPool "p" \(annotation ipam\.spidernet\.io\/ippool, interface eth0, IPv6\) cannot serve the pod: ipVersion is 4, not 6/,
    );
  });

  it('namespaceName and namespaceAffinity that exclude the namespace', async () => {
    assert.match(
      await denied(podOf({ annotations: ippool(['p']) }), { pools: [pool('p', { namespaceName: ['prod'] })] }),
      /namespaceName \[prod\] does not include namespace default/,
    );
    const world = {
      pools: [pool('p', { namespaceAffinity: { matchLabels: { team: 'a' } } })],
      namespaces: [{ metadata: { name: 'default', labels: { team: 'b' } } }],
    };
    assert.match(
      await denied(podOf({ annotations: ippool(['p']) }), world),
      /namespaceAffinity "team=a" does not match the labels of namespace default/,
    );
  });

  it('podAffinity that does not match the pod labels', async () => {
    const m = await denied(podOf({ annotations: ippool(['p']), labels: { app: 'db' } }), {
      pools: [pool('p', { podAffinity: { matchLabels: { app: 'web' } } })],
    });
    assert.match(m, /podAffinity "app=web" does not match the labels of the pod/);
    assert.equal(
      (
        await admit(podOf({ annotations: ippool(['p']), labels: { app: 'web' } }), {
          pools: [pool('p', { podAffinity: { matchLabels: { app: 'web' } } })],
        })
      ).allowed,
      true,
    );
  });

  it('a spec.nodeName outside nodeName or nodeAffinity', async () => {
    const nodes = [{ metadata: { name: 'w2', labels: { zone: 'b' } } }];
    assert.match(
      await denied(podOf({ annotations: ippool(['p']), nodeName: 'w2' }), {
        pools: [pool('p', { nodeName: ['w1'] })],
        nodes,
      }),
      /nodeName \[w1\] does not include node w2/,
    );
    assert.match(
      await denied(podOf({ annotations: ippool(['p']), nodeName: 'w2' }), {
        pools: [pool('p', { nodeAffinity: { matchLabels: { zone: 'a' } } })],
        nodes,
      }),
      /nodeAffinity "zone=a" does not match the labels of node w2/,
    );
    const ok = await admit(podOf({ annotations: ippool(['p']), nodeName: 'w1' }), {
      pools: [pool('p', { nodeName: ['w1'] })],
    });
    assert.deepEqual(ok, { allowed: true }, 'a pod already on a served node gets no affinity');
  });

  it('multusName that is not the NetworkAttachmentDefinition of the interface, with both names', async () => {
    const annotations = {
      ...networks('default/macvlan-ens192'),
      'ipam.spidernet.io/ippools': JSON.stringify([{ interface: 'net1', ipv4: ['p'] }]),
    };
    const m = await denied(podOf({ annotations }), { pools: [pool('p', { multusName: ['kube-system/ipvlan-eth0'] })] });
    assert.match(
      m,
      /SpiderIPPool "p" \(annotation ipam\.spidernet\.io\/ippools \(item 0\), interface net1, IPv4\) cannot serve the pod/,
    );
    assert.match(m, /kube-system\/ipvlan-eth0/);
    assert.match(m, /default\/macvlan-ens192 \(the network of net1\)/);
  });

  it('multusName by position and bare names in the install namespace', async () => {
    const annotations = {
      ...networks('macvlan-ens192'),
      'ipam.spidernet.io/ippools': JSON.stringify([{ ipv4: ['a'] }, { ipv4: ['p'] }]),
    };
    const pools = [pool('a'), pool('p', { multusName: ['macvlan-ens192'] })];
    assert.match(
      await denied(podOf({ annotations }), { pools }),
      /multusName \[spiderpool\/macvlan-ens192\] does not include default\/macvlan-ens192 \(the network of net1\)/,
    );
    const match = [pool('a'), pool('p', { multusName: ['default/macvlan-ens192'] })];
    assert.equal((await admit(podOf({ annotations }), { pools: match })).allowed, true);
  });

  it('multusName on eth0 is left to the agent when the cluster network is unknown, checked when it is known', async () => {
    const pools = [pool('p', { multusName: ['kube-system/calico'] })];
    assert.equal((await admit(podOf({ annotations: ippool(['p']) }), { pools })).allowed, true);
    const m = await denied(
      podOf({ annotations: { ...ippool(['p']), 'v1.multus-cni.io/default-network': 'kube-system/flannel' } }),
      { pools },
    );
    assert.match(m, /multusName \[kube-system\/calico\] does not include kube-system\/flannel \(the network of eth0\)/);
  });

  it('the single-NIC ippool annotation is fine when the pool serves any interface of the pod', async () => {
    const annotations = {
      ...ippool(['p']),
      ...networks('default/macvlan-ens192'),
      'v1.multus-cni.io/default-network': 'kube-system/calico',
    };
    assert.equal(
      (await admit(podOf({ annotations }), { pools: [pool('p', { multusName: ['default/macvlan-ens192'] })] })).allowed,
      true,
    );
    const m = await denied(podOf({ annotations }), { pools: [pool('p', { multusName: ['kube-system/ipvlan-eth0'] })] });
    assert.match(
      m,
      /interfaces eth0, net1, IPv4\) cannot serve the pod: .*kube-system\/calico \(the network of eth0\).*default\/macvlan-ens192 \(the network of net1\)/,
    );
  });

  it('a list of fallbacks is refused only when no pool in it can serve', async () => {
    const pools = [pool('off', { disable: true }), pool('on')];
    assert.equal((await admit(podOf({ annotations: ippool(['off', 'on']) }), { pools })).allowed, true);
    const m = await denied(podOf({ annotations: ippool(['off', 'gon*']) }), {
      pools: [pool('off', { disable: true }), pool('gone', { terminating: true })],
    });
    assert.match(
      m,
      /no SpiderIPPool named in annotation ipam\.spidernet\.io\/ippool can serve interface eth0 IPv4 of the pod: "off": disabled; "gone": terminating/,
    );
  });

  it('a pattern that matches no pool of the family', async () => {
    assert.match(
      await denied(podOf({ annotations: ippool(['x-*']) }), { pools: [pool('p')] }),
      /annotation ipam\.spidernet\.io\/ippool: pattern "x-\*" matched no IPv4 SpiderIPPool/,
    );
  });

  it('the namespace default pools and the NetworkAttachmentDefinition defaults are checked the same way', async () => {
    const ns = { metadata: { name: 'default', annotations: { 'ipam.spidernet.io/default-ipv4-ippool': '["p"]' } } };
    assert.match(
      await denied(podOf(), { namespaces: [ns], pools: [pool('p', { disable: true })] }),
      /the default pool annotations of namespace default, interface eth0, IPv4\) cannot serve the pod: disabled/,
    );
    const nad: NetworkAttachmentDefinition = {
      metadata: { name: 'macvlan-ens192', namespace: 'default' },
      spec: {
        config: JSON.stringify({
          cniVersion: '0.3.1',
          plugins: [{ type: 'macvlan', ipam: { type: 'spiderpool', default_ipv4_ippool: ['q'] } }],
        }),
      },
    };
    const m = await denied(podOf({ annotations: networks('macvlan-ens192') }), {
      nads: [nad],
      pools: [pool('q', { namespaceName: ['prod'] })],
    });
    assert.match(
      m,
      /SpiderIPPool "q" \(default_ipv4_ippool\/default_ipv6_ippool of NetworkAttachmentDefinition default\/macvlan-ens192, interface net1, IPv4\) cannot serve the pod: namespaceName \[prod\]/,
    );
  });
});

describe('pod webhook: subnet annotations', () => {
  const subnet = (name: string, cidr = '10.6.0.0/16'): SpiderSubnet => ({
    metadata: { name },
    spec: { subnet: cidr, ipVersion: cidr.includes(':') ? 6 : 4 },
  });
  const annotations = { 'ipam.spidernet.io/subnet': '{"ipv4":["s4"]}' };

  it('a bare pod is refused', async () => {
    assert.match(
      await denied(podOf({ annotations }), { subnets: [subnet('s4')] }),
      /annotation ipam\.spidernet\.io\/subnet asks for an auto-created SpiderIPPool, but the SpiderSubnet feature doesn't support no-controller pod/,
    );
  });

  it('a missing subnet or one of the wrong family is refused; a controlled pod naming an existing subnet is allowed', async () => {
    assert.match(
      await denied(podOf({ annotations, owner: true })),
      /SpiderSubnet "s4" named in annotation ipam\.spidernet\.io\/subnet \(interface eth0, IPv4\) does not exist/,
    );
    assert.match(
      await denied(podOf({ annotations, owner: true }), { subnets: [subnet('s4', 'fd00::/64')] }),
      /SpiderSubnet "s4" .* is IPv6 \(subnet fd00::\/64\), not IPv4/,
    );
    assert.deepEqual(await admit(podOf({ annotations, owner: true }), { subnets: [subnet('s4')] }), { allowed: true });
  });

  it('the subnet annotation wins over pool annotations, which are only warned about', async () => {
    const both = { ...annotations, ...ippool(['missing']), 'ipam.spidernet.io/ippool-ip-number': '+2' };
    assert.deepEqual(await admit(podOf({ annotations: both, owner: true }), { subnets: [subnet('s4')] }), {
      allowed: true,
      warnings: ['annotation ipam.spidernet.io/ippool is ignored: ipam.spidernet.io/subnet takes precedence'],
    });
  });
});

describe('pod webhook: node affinity injection', () => {
  it('adds a required term per node of a nodeName pool', async () => {
    const d = await admit(podOf({ annotations: ippool(['p']) }), { pools: [pool('p', { nodeName: ['w1', 'w3'] })] });
    assert.equal(d.allowed, true);
    assert.deepEqual(d.patch, [
      {
        op: 'add',
        path: '/spec/affinity',
        value: {
          nodeAffinity: {
            requiredDuringSchedulingIgnoredDuringExecution: {
              nodeSelectorTerms: [
                { matchFields: [{ key: 'metadata.name', operator: 'In', values: ['w1'] }] },
                { matchFields: [{ key: 'metadata.name', operator: 'In', values: ['w3'] }] },
              ],
            },
          },
        },
      },
    ]);
  });

  it('intersects the interfaces: each needs one of its pools on the node', async () => {
    const annotations = {
      ...networks('default/macvlan'),
      'ipam.spidernet.io/ippools': JSON.stringify([{ ipv4: ['a'] }, { ipv4: ['b', 'c'] }]),
    };
    const pools = [
      pool('a', { nodeAffinity: { matchLabels: { zone: 'east' } } }),
      pool('b', { nodeName: ['w1'] }),
      pool('c', { nodeName: ['w2'] }),
    ];
    const d = await admit(podOf({ annotations }), { pools });
    const zone = { key: 'zone', operator: 'In', values: ['east'] };
    assert.deepEqual(d.patch?.[0]?.value, {
      nodeAffinity: {
        requiredDuringSchedulingIgnoredDuringExecution: {
          nodeSelectorTerms: [
            { matchExpressions: [zone], matchFields: [{ key: 'metadata.name', operator: 'In', values: ['w1'] }] },
            { matchExpressions: [zone], matchFields: [{ key: 'metadata.name', operator: 'In', values: ['w2'] }] },
          ],
        },
      },
    });
  });

  it('refuses interfaces whose pools share no node, naming the pools', async () => {
    const annotations = {
      ...networks('default/macvlan'),
      'ipam.spidernet.io/ippools': JSON.stringify([
        { interface: 'eth0', ipv4: ['a'] },
        { interface: 'net1', ipv4: ['b'] },
      ]),
    };
    const m = await denied(podOf({ annotations }), {
      pools: [pool('a', { nodeName: ['w1'] }), pool('b', { nodeName: ['w2'] })],
    });
    assert.match(
      m,
      /the SpiderIPPools it names serve no node in common: eth0 IPv4 needs SpiderIPPool "a" \(nodeName \[w1\]\), net1 IPv4 needs SpiderIPPool "b" \(nodeName \[w2\]\)/,
    );
  });

  it("intersects with the pod's own required affinity and keeps its other affinities", async () => {
    const own = { key: 'disk', operator: 'In', values: ['ssd'] };
    const affinity = {
      podAntiAffinity: {
        requiredDuringSchedulingIgnoredDuringExecution: [
          { topologyKey: 'kubernetes.io/hostname', labelSelector: { matchLabels: { app: 'web' } } },
        ],
      },
      nodeAffinity: {
        requiredDuringSchedulingIgnoredDuringExecution: {
          nodeSelectorTerms: [
            { matchExpressions: [own] },
            { matchFields: [{ key: 'metadata.name', operator: 'In', values: ['w9'] }] },
          ],
        },
      },
    };
    const d = await admit(podOf({ annotations: ippool(['p']), affinity }), {
      pools: [pool('p', { nodeName: ['w1', 'w9'] })],
    });
    assert.deepEqual(d.patch, [
      {
        op: 'replace',
        path: '/spec/affinity/nodeAffinity/requiredDuringSchedulingIgnoredDuringExecution',
        value: {
          nodeSelectorTerms: [
            { matchExpressions: [own], matchFields: [{ key: 'metadata.name', operator: 'In', values: ['w1'] }] },
            { matchExpressions: [own], matchFields: [{ key: 'metadata.name', operator: 'In', values: ['w9'] }] },
            { matchFields: [{ key: 'metadata.name', operator: 'In', values: ['w9'] }] },
          ],
        },
      },
    ]);
  });

  it('adds under an existing affinity that has no node affinity, or no required part', async () => {
    const pools = [pool('p', { nodeName: ['w1'] })];
    const term = { nodeSelectorTerms: [{ matchFields: [{ key: 'metadata.name', operator: 'In', values: ['w1'] }] }] };
    const anti = { podAntiAffinity: {} };
    assert.deepEqual((await admit(podOf({ annotations: ippool(['p']), affinity: anti }), { pools })).patch, [
      {
        op: 'add',
        path: '/spec/affinity/nodeAffinity',
        value: { requiredDuringSchedulingIgnoredDuringExecution: term },
      },
    ]);
    const preferred = {
      nodeAffinity: {
        preferredDuringSchedulingIgnoredDuringExecution: [
          { weight: 1, preference: { matchExpressions: [{ key: 'a', operator: 'Exists' }] } },
        ],
      },
    };
    assert.deepEqual((await admit(podOf({ annotations: ippool(['p']), affinity: preferred }), { pools })).patch, [
      { op: 'add', path: '/spec/affinity/nodeAffinity/requiredDuringSchedulingIgnoredDuringExecution', value: term },
    ]);
  });

  it('refuses a pod whose own required affinity excludes every node the pools serve', async () => {
    const affinity = {
      nodeAffinity: {
        requiredDuringSchedulingIgnoredDuringExecution: {
          nodeSelectorTerms: [{ matchFields: [{ key: 'metadata.name', operator: 'In', values: ['w2'] }] }],
        },
      },
    };
    const m = await denied(podOf({ annotations: ippool(['p']), affinity }), {
      pools: [pool('p', { nodeName: ['w1'] })],
    });
    assert.match(
      m,
      /its required node affinity excludes every node its SpiderIPPools serve: eth0 IPv4 needs SpiderIPPool "p" \(nodeName \[w1\]\)/,
    );
  });

  it('no patch when one pool of a family serves every node', async () => {
    const d = await admit(podOf({ annotations: ippool(['p', 'q']) }), {
      pools: [pool('p', { nodeName: ['w1'] }), pool('q')],
    });
    assert.deepEqual(d, { allowed: true });
  });

  it('a pool with an invalid nodeAffinity cannot serve an unscheduled pod', async () => {
    const broken = pool('p', { nodeAffinity: { matchExpressions: [{ key: 'zone', operator: 'In', values: [] }] } });
    assert.match(
      await denied(podOf({ annotations: ippool(['p']) }), { pools: [broken] }),
      /cannot serve the pod: nodeAffinity is invalid: operator In on key "zone" needs at least one value/,
    );
  });
});

describe('pod webhook: warnings', () => {
  it('warns when the pools have fewer free addresses than pods waiting for them', async () => {
    const full = pool('p', {
      ips: ['10.6.0.10-10.6.0.11'],
      allocated: { '10.6.0.10': { pod: 'default/a', podUid: '1' } },
      gateway: '10.6.0.11',
    });
    const d = await admit(podOf({ annotations: ippool(['p']) }), { pools: [full] });
    assert.equal(d.allowed, true);
    assert.deepEqual(d.warnings, [
      'SpiderIPPool "p" (annotation ipam.spidernet.io/ippool, eth0 IPv4) has 0 free addresses for 1 pod waiting for one, this pod included; ' +
        'pods beyond that stay in ContainerCreating until addresses are released or added to the pool',
    ]);
  });

  it('counts pending pods naming the pools, not those holding an address, finished or terminating', async () => {
    const p = pool('p', {
      ips: ['10.6.0.10-10.6.0.13'],
      excludeIPs: ['10.6.0.13'],
      allocated: { '10.6.0.10': { pod: 'default/holder', podUid: '1' } },
    });
    const reserved: SpiderReservedIP[] = [{ metadata: { name: 'r' }, spec: { ipVersion: 4, ips: ['10.6.0.12'] } }];
    const waiting = (name: string, extra: Partial<V1Pod> = {}): V1Pod => ({
      ...podOf({ name, annotations: ippool(['p*']) }),
      metadata: { name, namespace: 'other', annotations: ippool(['p*']) },
      status: { phase: 'Pending' },
      ...extra,
    });
    const pods = [
      waiting('w1'),
      { ...waiting('holder'), metadata: { name: 'holder', namespace: 'default', annotations: ippool(['p']) } },
      waiting('done', { status: { phase: 'Succeeded' } }),
      {
        ...waiting('gone'),
        metadata: { name: 'gone', namespace: 'other', annotations: ippool(['p']), deletionTimestamp: new Date() },
      },
      { ...waiting('elsewhere'), metadata: { name: 'elsewhere', namespace: 'other', annotations: ippool(['q']) } },
    ];
    // Free: 10.6.0.11 only (10 allocated, 12 reserved, 13 excluded); waiting: w1 and this pod.
    const d = await admit(podOf({ annotations: ippool(['p']) }), { pools: [p], reserved, pods });
    assert.match(d.warnings?.[0] ?? '', /has 1 free address for 2 pods waiting for one/);
    assert.deepEqual(
      (await admit(podOf({ annotations: ippool(['p']) }), { pools: [p], reserved, pods: pods.slice(1) })).warnings,
      undefined,
    );
  });

  it('warns about annotations that have no effect and routes no pool can carry', async () => {
    const annotations = {
      ...ippool(['p']),
      'ipam.spidernet.io/ippools': '[{"ipv4":["p"]}]',
      'ipam.spidernet.io/ippool-reclaim': 'false',
      'ipam.spidernet.io/routes':
        '[{"dst":"172.16.0.0/16","gw":"10.6.0.1"},{"dst":"172.17.0.0/16","gw":"192.168.0.1"}]',
    };
    const d = await admit(podOf({ annotations }), { pools: [pool('p')] });
    assert.equal(d.allowed, true);
    assert.deepEqual(d.warnings, [
      'annotation ipam.spidernet.io/ippool is ignored: ipam.spidernet.io/ippools takes precedence',
      'annotation ipam.spidernet.io/ippool-reclaim has no effect without ipam.spidernet.io/subnet or ipam.spidernet.io/subnets',
      "annotation ipam.spidernet.io/routes: route 1 (172.17.0.0/16 via 192.168.0.1) is dropped: 192.168.0.1 is in the subnet of none of the pod's pools (10.6.0.0/16)",
    ]);
  });

  it('lets a pod through with a warning when the cluster cannot be read', async () => {
    assert.ok(route);
    const failing = {
      ...clusterOf({}),
      listIPPools: async () => {
        throw new Error('connection refused');
      },
    };
    const request: AdmissionRequest = {
      uid: 'u',
      kind: { group: '', version: 'v1', kind: 'Pod' },
      resource: { group: '', version: 'v1', resource: 'pods' },
      namespace: 'default',
      operation: 'CREATE',
      object: podOf({ annotations: ippool(['p']) }),
    };
    const d = await route.handler(request, failing);
    assert.equal(d.allowed, true);
    assert.match(
      d.warnings?.[0] ?? '',
      /the IPAM annotations of pod default\/web were not checked: connection refused/,
    );
  });
});
