import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type { V1Pod } from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';
import type { SpiderIPPool, SpiderIPPoolSpec } from '../../api/v2beta1/types.ts';
import {
  SelectionError,
  selectPools,
  type SelectionErrorReason,
  type SelectionInput,
  type SelectionResult,
  type TopController,
} from './index.ts';

// ---- builders -------------------------------------------------------------------------------------------

type PoolOptions = Partial<SpiderIPPoolSpec> & { labels?: Record<string, string>; terminating?: boolean };

function pool(name: string, options: PoolOptions = {}): SpiderIPPool {
  const { labels, terminating, ...spec } = options;
  return {
    apiVersion: 'spiderpool.spidernet.io/v2beta1',
    kind: 'SpiderIPPool',
    metadata: {
      name,
      ...(labels ? { labels } : {}),
      ...(terminating ? { deletionTimestamp: new Date('2026-01-01T00:00:00Z') } : {}),
    },
    spec: { ipVersion: 4, subnet: '10.6.0.0/16', ...spec },
  };
}

const pool6 = (name: string, options: PoolOptions = {}): SpiderIPPool =>
  pool(name, { ipVersion: 6, subnet: 'fd00:10::/64', ...options });

const deployment: TopController = {
  kind: 'Deployment',
  name: 'nginx',
  namespace: 'default',
  uid: 'a1b2c3d4-0000-4000-8000-00000000abcde',
  apiVersion: 'apps/v1',
};

interface InputOptions {
  pools: SpiderIPPool[];
  annotations?: Record<string, string>;
  labels?: Record<string, string>;
  podName?: string;
  namespace?: string;
  nsAnnotations?: Record<string, string>;
  nsLabels?: Record<string, string>;
  node?: string;
  nodeLabels?: Record<string, string>;
  ifName?: string;
  cni?: SelectionInput['cniDefaults'];
  top?: TopController;
  enableIPv4?: boolean;
  enableIPv6?: boolean;
  multusClusterNetwork?: string;
  installNamespace?: string;
  enableSpiderSubnet?: boolean;
  enableAutoPoolForApplication?: boolean;
}

function input(o: InputOptions): SelectionInput {
  const namespace = o.namespace ?? 'default';
  const node = o.node ?? 'worker';
  const pod: V1Pod = {
    metadata: {
      name: o.podName ?? 'nginx-x',
      namespace,
      annotations: o.annotations ?? {},
      labels: o.labels ?? { app: 'nginx' },
    },
    spec: { nodeName: node, containers: [] },
  };
  return {
    pod,
    namespace: {
      metadata: {
        name: namespace,
        annotations: o.nsAnnotations ?? {},
        labels: o.nsLabels ?? { 'kubernetes.io/metadata.name': namespace },
      },
    },
    node: { metadata: { name: node, labels: o.nodeLabels ?? { 'kubernetes.io/hostname': node } } },
    ifName: o.ifName ?? 'eth0',
    cniDefaults: o.cni ?? {},
    pools: o.pools,
    topController: o.top ?? deployment,
    enableIPv4: o.enableIPv4 ?? true,
    enableIPv6: o.enableIPv6 ?? false,
    installNamespace: o.installNamespace ?? 'kube-system',
    ...(o.multusClusterNetwork === undefined ? {} : { multusClusterNetwork: o.multusClusterNetwork }),
    ...(o.enableSpiderSubnet === undefined ? {} : { enableSpiderSubnet: o.enableSpiderSubnet }),
    ...(o.enableAutoPoolForApplication === undefined
      ? {}
      : { enableAutoPoolForApplication: o.enableAutoPoolForApplication }),
  };
}

function throwsSelection(fn: () => unknown, reason: SelectionErrorReason, message: string | RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof SelectionError, String(err));
    assert.equal(err.reason, reason, err.message);
    if (typeof message === 'string') assert.equal(err.message, message);
    else assert.match(err.message, message);
    return true;
  });
}

const ippool = (value: object): Record<string, string> => ({ 'ipam.spidernet.io/ippool': JSON.stringify(value) });
const ippools = (value: object[]): Record<string, string> => ({ 'ipam.spidernet.io/ippools': JSON.stringify(value) });
const only4 = (r: SelectionResult): string[] => r.nics.map((n) => `${n.nic}:${n.ipv4.join(',')}`);

function fixture(path: string): unknown[] {
  const text = readFileSync(new URL(`../../e2e/fixtures/${path}`, import.meta.url), 'utf8');
  return parseAllDocuments(text).map((doc) => doc.toJS() as unknown);
}

/** The labels and podAffinity the subnet controller gives the auto pool of `deployment` for eth0/IPv4. */
function autoPool(
  name: string,
  o: { nic?: string; version?: 4 | 6; uid?: string; subnet?: string; app?: string } = {},
): SpiderIPPool {
  const version = o.version ?? 4;
  const build = version === 4 ? pool : pool6;
  return build(name, {
    labels: {
      'ipam.spidernet.io/owner-application-gv': 'apps_v1',
      'ipam.spidernet.io/owner-application-kind': 'Deployment',
      'ipam.spidernet.io/owner-application-namespace': 'default',
      'ipam.spidernet.io/owner-application-name': o.app ?? 'nginx',
      'ipam.spidernet.io/owner-application-uid': o.uid ?? deployment.uid,
      'ipam.spidernet.io/owner-spider-subnet': o.subnet ?? (version === 4 ? 'subnet-6' : 'subnet-6-v6'),
      'ipam.spidernet.io/interface': o.nic ?? 'eth0',
      'ipam.spidernet.io/ip-version': `IPv${version}`,
      'ipam.spidernet.io/ippool-reclaim': 'true',
    },
    podAffinity: {
      matchLabels: {
        'ipam.spidernet.io/app-api-group': 'apps',
        'ipam.spidernet.io/app-api-version': 'v1',
        'ipam.spidernet.io/app-kind': 'Deployment',
        'ipam.spidernet.io/app-namespace': 'default',
        'ipam.spidernet.io/app-name': o.app ?? 'nginx',
      },
    },
  });
}

// ---- tests ----------------------------------------------------------------------------------------------

describe('selection/selectPools', () => {
  describe('precedence: the first rule that yields anything wins (docs/pool-selection.md#rules)', () => {
    const pools = [
      pool('def-v4', { default: true }),
      pool('ns-v4'),
      pool('anno-v4'),
      pool('annos-v4'),
      pool('cni-v4'),
      autoPool('auto4-nginx-eth0-abcde'),
    ];
    const all = {
      subnet: { 'ipam.spidernet.io/subnet': '{"ipv4":["subnet-6"]}' },
      ippools: ippools([{ interface: 'eth0', ipv4: ['annos-v4'] }]),
      ippool: ippool({ ipv4: ['anno-v4'] }),
    };
    const ns = { 'ipam.spidernet.io/default-ipv4-ippool': '["ns-v4"]' };
    const cni = { ipv4: ['cni-v4'] };

    const cases: [rule: SelectionResult['rule'], options: Partial<InputOptions>, expected: string][] = [
      [
        'subnet',
        { annotations: { ...all.subnet, ...all.ippools, ...all.ippool }, nsAnnotations: ns, cni },
        'auto4-nginx-eth0-abcde',
      ],
      ['ippools', { annotations: { ...all.ippools, ...all.ippool }, nsAnnotations: ns, cni }, 'annos-v4'],
      ['ippool', { annotations: all.ippool, nsAnnotations: ns, cni }, 'anno-v4'],
      ['namespace', { nsAnnotations: ns, cni }, 'ns-v4'],
      ['cni', { cni }, 'cni-v4'],
      ['cluster-default', {}, 'def-v4'],
    ];
    for (const [rule, options, expected] of cases) {
      it(`${rule} wins over the rules after it`, () => {
        const result = selectPools(input({ pools, ...options }));
        assert.equal(result.rule, rule);
        assert.deepEqual(result.nics, [{ nic: 'eth0', cleanGateway: false, ipv4: [expected], ipv6: [] }]);
      });
    }

    it('subnet annotations are ignored when the SpiderSubnet feature is off', () => {
      const result = selectPools(
        input({ pools, annotations: { ...all.subnet, ...all.ippool }, enableSpiderSubnet: false }),
      );
      assert.equal(result.rule, 'ippool');
    });

    it('subnet annotations are refused while the auto-pool feature is off', () => {
      throwsSelection(
        () =>
          selectPools(
            input({ pools, annotations: { ...all.subnet, ...all.ippool }, enableAutoPoolForApplication: false }),
          ),
        'WrongInput',
        /annotations ipam\.spidernet\.io\/subnets and ipam\.spidernet\.io\/subnet cannot be used while the auto-pool feature \(enableAutoPoolForApplication\) is disabled/,
      );
    });

    it('a winning rule that fails does not fall back to later rules', () => {
      throwsSelection(
        () =>
          selectPools(
            input({
              pools: [...pools, pool('off', { disable: true })],
              annotations: ippool({ ipv4: ['off'] }),
              nsAnnotations: ns,
            }),
          ),
        'NoAvailablePool',
        'no IPPool available for eth0 IPv4 of pod default/nginx-x (rule: ippool annotation): pool "off": disabled',
      );
    });

    it('a rule naming only IPv4 pools gives only IPv4 in a dual-stack cluster', () => {
      const result = selectPools(
        input({ pools: [...pools, pool6('def-v6', { default: true })], annotations: all.ippool, enableIPv6: true }),
      );
      assert.deepEqual(result.nics, [{ nic: 'eth0', cleanGateway: false, ipv4: ['anno-v4'], ipv6: [] }]);
    });

    it('the namespace annotations are read only when the rules before them yield nothing', () => {
      const broken = { 'ipam.spidernet.io/default-ipv4-ippool': 'ns-v4' };
      assert.equal(selectPools(input({ pools, annotations: all.ippool, nsAnnotations: broken })).rule, 'ippool');
      throwsSelection(
        () => selectPools(input({ pools, nsAnnotations: broken })),
        'WrongInput',
        /^annotation ipam\.spidernet\.io\/default-ipv4-ippool of namespace default is invalid: not valid JSON/,
      );
    });

    it('the CNI config supplies clean_gateway to the single-NIC rules', () => {
      assert.equal(selectPools(input({ pools, cni: { ...cni, cleanGateway: true } })).nics[0]?.cleanGateway, true);
    });

    it('cluster default pools are grouped by family and ordered by name', () => {
      const result = selectPools(
        input({
          pools: [
            pool('z-def', { default: true }),
            pool6('v6-def', { default: true }),
            pool('a-def', { default: true }),
            pool('not-default'),
          ],
          enableIPv6: true,
        }),
      );
      assert.deepEqual(result.nics, [{ nic: 'eth0', cleanGateway: false, ipv4: ['a-def', 'z-def'], ipv6: ['v6-def'] }]);
    });

    it('no rule at all is NoAvailablePool', () => {
      throwsSelection(
        () => selectPools(input({ pools: [pool('p')] })),
        'NoAvailablePool',
        /^no IPPool available for eth0 of pod default\/nginx-x \(rule: cluster default pools\): no pool selection rules of any type are specified; /,
      );
    });
  });

  describe('wildcards are expanded where the rule is evaluated', () => {
    const pools = [pool('backup-2'), pool('other'), pool('backup-1'), pool6('backup-v6'), pool('fast')];

    const cases: [title: string, options: Partial<InputOptions>, expected: string[]][] = [
      [
        'a pattern matches pools of its family, by name',
        { annotations: ippool({ ipv4: ['backup-*'] }) },
        ['backup-1', 'backup-2'],
      ],
      ['? and classes', { annotations: ippool({ ipv4: ['backup-?', 'fas[st]'] }) }, ['backup-1', 'backup-2', 'fast']],
      [
        'a listed pool keeps its place before a pattern that also matches it',
        { annotations: ippool({ ipv4: ['fast', '*'] }) },
        ['fast', 'backup-1', 'backup-2', 'other'],
      ],
      [
        'in the namespace annotation',
        { nsAnnotations: { 'ipam.spidernet.io/default-ipv4-ippool': '["backup-*"]' } },
        ['backup-1', 'backup-2'],
      ],
      ['in the CNI config', { cni: { ipv4: ['oth*'] } }, ['other']],
      ['in ippools items', { annotations: ippools([{ interface: 'eth0', ipv4: ['*-1'] }]) }, ['backup-1']],
    ];
    for (const [title, options, expected] of cases) {
      it(title, () => assert.deepEqual(selectPools(input({ pools, ...options })).nics[0]?.ipv4, expected));
    }

    it('a pattern that matches nothing drops its family silently', () => {
      const result = selectPools(
        input({ pools, annotations: ippool({ ipv4: ['none-*'], ipv6: ['backup-v6'] }), enableIPv6: true }),
      );
      assert.deepEqual(result.nics, [{ nic: 'eth0', cleanGateway: false, ipv4: [], ipv6: ['backup-v6'] }]);
    });

    it('when no family is left the NIC fails, naming the pattern', () => {
      throwsSelection(
        () => selectPools(input({ pools, annotations: ippool({ ipv4: ['none-*'] }) })),
        'NoAvailablePool',
        'no IPPool available for eth0 of pod default/nginx-x (rule: ippool annotation): ' +
          'IPv4 pattern "none-*" in annotation ipam.spidernet.io/ippool matched no IPv4 pool; IPv6 is disabled in the agent configuration',
      );
    });

    it('a malformed pattern is WrongInput', () => {
      throwsSelection(
        () => selectPools(input({ pools, annotations: ippool({ ipv4: ['backup-[]x]'] }) })),
        'WrongInput',
        /^invalid pool name pattern in annotation ipam\.spidernet\.io\/ippool for eth0 IPv4: unescaped '\]' inside a character class in pattern "backup-\[\]x\]"/,
      );
    });
  });

  describe('pre-check', () => {
    it('a pool listed twice is WrongInput', () => {
      throwsSelection(
        () => selectPools(input({ pools: [pool('a')], annotations: ippool({ ipv4: ['a', 'a'] }) })),
        'WrongInput',
        'duplicate IPPool "a" in annotation ipam.spidernet.io/ippool for eth0 IPv4',
      );
    });

    it('a missing pool is NoAvailablePool', () => {
      throwsSelection(
        () => selectPools(input({ pools: [pool('a')], annotations: ippool({ ipv4: ['a', 'ghost'] }) })),
        'NoAvailablePool',
        'no IPPool available for eth0 IPv4 of pod default/nginx-x (rule: ippool annotation): IPPool "ghost" does not exist',
      );
    });

    it('a disabled family is dropped before pools are looked up', () => {
      const result = selectPools(
        input({ pools: [pool('a')], annotations: ippool({ ipv4: ['a'], ipv6: ['ghost-v6'] }), enableIPv6: false }),
      );
      assert.deepEqual(result.nics, [{ nic: 'eth0', cleanGateway: false, ipv4: ['a'], ipv6: [] }]);
    });

    it('a NIC left with only a disabled family fails', () => {
      throwsSelection(
        () => selectPools(input({ pools: [pool6('a6')], annotations: ippool({ ipv6: ['a6'] }), enableIPv6: false })),
        'NoAvailablePool',
        'no IPPool available for eth0 of pod default/nginx-x (rule: ippool annotation): ' +
          'annotation ipam.spidernet.io/ippool lists no IPv4 pool; IPv6 is disabled in the agent configuration',
      );
    });
  });

  describe('filters: each rejection says why (docs/pool-selection.md#filters)', () => {
    const selector = (matchLabels: Record<string, string>) => ({ matchLabels });
    const cases: [title: string, p: SpiderIPPool, options: Partial<InputOptions>, reason: string | undefined][] = [
      ['terminating', pool('p', { terminating: true }), {}, 'terminating'],
      ['disabled', pool('p', { disable: true }), {}, 'disabled'],
      ['ipVersion of another family', pool('p', { ipVersion: 6, subnet: 'fd00::/64' }), {}, 'ipVersion is 6, not 4'],
      [
        'family derived from the subnet when ipVersion is absent',
        pool('p', { ipVersion: undefined, subnet: 'fd00::/64' }),
        {},
        'subnet fd00::/64 is IPv6, not IPv4',
      ],
      [
        'nodeName without the node',
        pool('p', { nodeName: ['worker1'] }),
        { node: 'master' },
        'nodeName [worker1] does not include node master',
      ],
      ['nodeName with the node', pool('p', { nodeName: ['master', 'worker'] }), {}, undefined],
      [
        'nodeName overrides nodeAffinity',
        pool('p', { nodeName: ['worker'], nodeAffinity: selector({ zone: 'b' }) }),
        { nodeLabels: { zone: 'a' } },
        undefined,
      ],
      [
        'nodeAffinity not matching',
        pool('p', { nodeAffinity: selector({ zone: 'b' }) }),
        { node: 'master', nodeLabels: { zone: 'a' } },
        'nodeAffinity "zone=b" does not match the labels of node master',
      ],
      [
        'nodeAffinity matching',
        pool('p', { nodeAffinity: selector({ zone: 'a' }) }),
        { nodeLabels: { zone: 'a' } },
        undefined,
      ],
      [
        'nodeAffinity Kubernetes would refuse',
        pool('p', { nodeAffinity: { matchExpressions: [{ key: 'zone', operator: 'In', values: [] }] } }),
        {},
        'nodeAffinity is invalid: operator In on key "zone" needs at least one value',
      ],
      [
        'namespaceName without the namespace',
        pool('p', { namespaceName: ['team-a', 'team-b'] }),
        {},
        'namespaceName [team-a, team-b] does not include namespace default',
      ],
      [
        'namespaceName overrides namespaceAffinity',
        pool('p', { namespaceName: ['default'], namespaceAffinity: selector({ team: 'x' }) }),
        {},
        undefined,
      ],
      [
        'namespaceAffinity not matching',
        pool('p', { namespaceAffinity: selector({ team: 'x' }) }),
        { nsLabels: { team: 'y' } },
        'namespaceAffinity "team=x" does not match the labels of namespace default',
      ],
      [
        'namespaceAffinity matching',
        pool('p', { namespaceAffinity: selector({ team: 'x' }) }),
        { nsLabels: { team: 'x' } },
        undefined,
      ],
      [
        'podAffinity not matching',
        pool('p', { podAffinity: selector({ app: 'other' }) }),
        {},
        'podAffinity "app=other" does not match the labels of the pod',
      ],
      [
        'podAffinity with expressions',
        pool('p', { podAffinity: { matchExpressions: [{ key: 'app', operator: 'NotIn', values: ['nginx'] }] } }),
        {},
        'podAffinity "app notin (nginx)" does not match the labels of the pod',
      ],
      ['podAffinity matching', pool('p', { podAffinity: selector({ app: 'nginx' }) }), {}, undefined],
      [
        'multusName not including the network of eth0',
        pool('p', { multusName: ['kube-system/ipvlan-eth0'] }),
        { annotations: { 'v1.multus-cni.io/default-network': 'kube-system/macvlan' } },
        'multusName [kube-system/ipvlan-eth0] does not include kube-system/macvlan (the network of eth0)',
      ],
      [
        'a bare multusName is in the install namespace',
        pool('p', { multusName: ['ipvlan-eth0'] }),
        { annotations: { 'v1.multus-cni.io/default-network': 'default/ipvlan-eth0' }, installNamespace: 'spiderpool' },
        'multusName [spiderpool/ipvlan-eth0] does not include default/ipvlan-eth0 (the network of eth0)',
      ],
      [
        'multusName matching the cluster network',
        pool('p', { multusName: ['calico'] }),
        { multusClusterNetwork: 'kube-system/calico' },
        undefined,
      ],
      [
        'multusName when the network of eth0 is unknown',
        pool('p', { multusName: ['kube-system/ipvlan-eth0'] }),
        {},
        'multusName [kube-system/ipvlan-eth0] is set, but the network of eth0 is unknown: ' +
          'the pod has no v1.multus-cni.io/default-network annotation and no Multus cluster network is configured',
      ],
      ['no multusName needs no known network', pool('p', {}), {}, undefined],
      [
        'multusName of an extra NIC resolves bare names in the pod namespace',
        pool('p', { multusName: ['kube-system/macvlan-ens192'] }),
        { ifName: 'net1', annotations: { 'k8s.v1.cni.cncf.io/networks': 'macvlan-ens192' } },
        'multusName [kube-system/macvlan-ens192] does not include default/macvlan-ens192 (the network of net1)',
      ],
      [
        'multusName of an extra NIC matching',
        pool('p', { multusName: ['default/macvlan-ens192'] }),
        { ifName: 'net1', annotations: { 'k8s.v1.cni.cncf.io/networks': 'macvlan-ens192' } },
        undefined,
      ],
    ];
    for (const [title, p, options, reason] of cases) {
      it(title, () => {
        const nic = options.ifName ?? 'eth0';
        const run = () => selectPools(input({ pools: [p], cni: { ipv4: ['p'] }, ...options }));
        if (reason === undefined) assert.deepEqual(run().nics[0]?.ipv4, ['p']);
        else
          throwsSelection(
            run,
            'NoAvailablePool',
            `no IPPool available for ${nic} IPv4 of pod default/nginx-x (rule: CNI config): pool "p": ${reason}`,
          );
      });
    }

    it('names every candidate and why it was not usable', () => {
      const pools = [
        pool('a', { disable: true }),
        pool('b', { nodeName: ['worker1'] }),
        pool('c', { multusName: ['kube-system/ipvlan-eth0'] }),
      ];
      throwsSelection(
        () =>
          selectPools(
            input({
              pools,
              node: 'master',
              annotations: {
                ...ippool({ ipv4: ['a', 'b', 'c'] }),
                'v1.multus-cni.io/default-network': 'kube-system/macvlan',
              },
            }),
          ),
        'NoAvailablePool',
        'no IPPool available for eth0 IPv4 of pod default/nginx-x (rule: ippool annotation): pool "a": disabled; ' +
          'pool "b": nodeName [worker1] does not include node master; ' +
          'pool "c": multusName [kube-system/ipvlan-eth0] does not include kube-system/macvlan (the network of eth0)',
      );
    });

    it('keeps the usable pools when only some are filtered out', () => {
      const pools = [pool('a', { disable: true }), pool('b'), pool('c', { terminating: true }), pool('d')];
      assert.deepEqual(
        selectPools(input({ pools, annotations: ippool({ ipv4: ['a', 'b', 'c', 'd'] }) })).nics[0]?.ipv4,
        ['b', 'd'],
      );
    });

    it('a malformed networks annotation is WrongInput once a pool needs it', () => {
      const run = (multusName?: string[]) =>
        selectPools(
          input({
            pools: [pool('p', multusName ? { multusName } : {})],
            ifName: 'net1',
            cni: { ipv4: ['p'] },
            annotations: { 'k8s.v1.cni.cncf.io/networks': 'a/b/c' },
          }),
        );
      assert.deepEqual(run().nics[0]?.ipv4, ['p']);
      throwsSelection(
        () => run(['kube-system/b']),
        'WrongInput',
        /^annotation k8s\.v1\.cni\.cncf\.io\/networks is invalid: entry "a\/b\/c" has more than one '\/'/,
      );
    });
  });

  describe('ordering: most specific first, stable among equals (docs/pool-selection.md#ordering)', () => {
    it('a pool with pod affinity comes first, then one bound by nodeName, then an unbound one', () => {
      const pools = [
        pool('p1'),
        pool('p2', { nodeName: ['node-a'] }),
        pool('p3', { podAffinity: { matchLabels: { app: 'x' } } }),
      ];
      const run = (node: string) =>
        selectPools(input({ pools, node, labels: { app: 'x' }, annotations: ippool({ ipv4: ['p1', 'p2', 'p3'] }) }))
          .nics[0]?.ipv4;
      assert.deepEqual(run('node-a'), ['p3', 'p2', 'p1']);
      assert.deepEqual(run('node-b'), ['p3', 'p1']);
    });

    it('podAffinity > nodeName > nodeAffinity > namespaceName > namespaceAffinity > multusName > none', () => {
      const pools = [
        pool('none'),
        pool('multus', { multusName: ['kube-system/calico'] }),
        pool('ns-affinity', { namespaceAffinity: {} }),
        pool('ns-name', { namespaceName: ['default'] }),
        pool('node-affinity', { nodeAffinity: {} }),
        pool('node-name', { nodeName: ['worker'] }),
        pool('pod-affinity', { podAffinity: { matchLabels: { app: 'nginx' } } }),
      ];
      const names = pools.map((p) => p.metadata.name);
      const result = selectPools(
        input({ pools, multusClusterNetwork: 'kube-system/calico', annotations: ippool({ ipv4: names }) }),
      );
      assert.deepEqual(result.nics[0]?.ipv4, [...names].reverse());
    });

    it('the first difference decides, more affinities do not add up', () => {
      const pools = [
        pool('node-and-ns', { nodeName: ['worker'], namespaceName: ['default'] }),
        pool('pod', { podAffinity: {} }),
      ];
      assert.deepEqual(
        selectPools(input({ pools, annotations: ippool({ ipv4: ['node-and-ns', 'pod'] }) })).nics[0]?.ipv4,
        ['pod', 'node-and-ns'],
      );
    });

    it('pools of equal specificity keep the annotation order, on every call', () => {
      const order = ['e', 'd', 'a', 'c', 'b'];
      const pools = ['a', 'b', 'c', 'd', 'e'].map((n) => pool(n, { nodeName: ['worker'] }));
      for (let i = 0; i < 20; i++) {
        assert.deepEqual(selectPools(input({ pools, annotations: ippool({ ipv4: order }) })).nics[0]?.ipv4, order);
      }
    });

    it('ties among the more specific and among the less specific pools both keep their order', () => {
      const pools = [
        pool('plain1'),
        pool('aff1', { nodeAffinity: {} }),
        pool('plain2'),
        pool('aff2', { nodeAffinity: {} }),
      ];
      const result = selectPools(input({ pools, annotations: ippool({ ipv4: ['plain1', 'aff1', 'plain2', 'aff2'] }) }));
      assert.deepEqual(result.nics[0]?.ipv4, ['aff1', 'aff2', 'plain1', 'plain2']);
    });
  });

  describe('multi-NIC with ipam.spidernet.io/ippools', () => {
    const pools = [
      pool('pool-a'),
      pool('pool-b', { multusName: ['kube-system/macvlan-ens224'] }),
      pool('pool-c'),
      pool6('pool-a6'),
    ];
    const j9 = {
      'k8s.v1.cni.cncf.io/networks': 'kube-system/macvlan-ens224',
      ...ippools([
        { interface: 'eth0', ipv4: ['pool-a'] },
        { interface: 'net1', ipv4: ['pool-b'], cleangateway: true },
      ]),
    };

    it('plans every NIC on the first call, in annotation order', () => {
      const result = selectPools(input({ pools, annotations: j9 }));
      assert.equal(result.rule, 'ippools');
      assert.deepEqual(result.nics, [
        { nic: 'eth0', cleanGateway: false, ipv4: ['pool-a'], ipv6: [] },
        { nic: 'net1', cleanGateway: true, ipv4: ['pool-b'], ipv6: [] },
      ]);
    });

    it('plans every NIC on a call for a later NIC too', () => {
      assert.deepEqual(only4(selectPools(input({ pools, annotations: j9, ifName: 'net1' }))), [
        'eth0:pool-a',
        'net1:pool-b',
      ]);
    });

    it('the interface of the call must be listed', () => {
      throwsSelection(
        () => selectPools(input({ pools, annotations: j9, ifName: 'net2' })),
        'WrongInput',
        'pod default/nginx-x: annotation ipam.spidernet.io/ippools lists interfaces eth0, net1 but not net2, the interface of this CNI call; add an item for it',
      );
    });

    it('items without names map by position: the NIC of this call, then the extra networks as Multus names them', () => {
      const annotations = {
        'k8s.v1.cni.cncf.io/networks': 'kube-system/macvlan-ens224, kube-system/sriov@ens5',
        ...ippools([{ ipv4: ['pool-a'] }, { ipv4: ['pool-b'] }, { ipv4: ['pool-c'], cleangateway: true }]),
      };
      const result = selectPools(input({ pools, annotations }));
      assert.deepEqual(result.nics, [
        { nic: 'eth0', cleanGateway: false, ipv4: ['pool-a'], ipv6: [] },
        { nic: 'net1', cleanGateway: false, ipv4: ['pool-b'], ipv6: [] },
        { nic: 'ens5', cleanGateway: true, ipv4: ['pool-c'], ipv6: [] },
      ]);
    });

    it('items without names and no networks annotation are net1, net2, ...', () => {
      const annotations = ippools([{ ipv4: ['pool-a'] }, { ipv4: ['pool-c'] }, { ipv6: ['pool-a6'] }]);
      assert.deepEqual(
        selectPools(input({ pools, annotations, enableIPv6: true })).nics.map((n) => n.nic),
        ['eth0', 'net1', 'net2'],
      );
    });

    it('by position, a call for a later NIC still maps item 0 to the first NIC', () => {
      const annotations = {
        'k8s.v1.cni.cncf.io/networks': 'kube-system/macvlan-ens224',
        ...ippools([{ ipv4: ['pool-a'] }, { ipv4: ['pool-b'] }]),
      };
      assert.deepEqual(only4(selectPools(input({ pools, annotations, ifName: 'net1' }))), [
        'eth0:pool-a',
        'net1:pool-b',
      ]);
    });

    it('each NIC is filtered against its own network', () => {
      const annotations = {
        'k8s.v1.cni.cncf.io/networks': 'kube-system/other',
        ...ippools([
          { interface: 'eth0', ipv4: ['pool-a'] },
          { interface: 'net1', ipv4: ['pool-b'] },
        ]),
      };
      throwsSelection(
        () => selectPools(input({ pools, annotations })),
        'NoAvailablePool',
        'no IPPool available for net1 IPv4 of pod default/nginx-x (rule: ippools annotation): ' +
          'pool "pool-b": multusName [kube-system/macvlan-ens224] does not include kube-system/other (the network of net1)',
      );
    });

    it('a NIC listed without pools is planned empty, but not the NIC of this call', () => {
      const annotations = ippools([{ interface: 'eth0', ipv4: ['pool-a'] }, { interface: 'net1' }]);
      assert.deepEqual(selectPools(input({ pools, annotations })).nics, [
        { nic: 'eth0', cleanGateway: false, ipv4: ['pool-a'], ipv6: [] },
        { nic: 'net1', cleanGateway: false, ipv4: [], ipv6: [] },
      ]);
      throwsSelection(
        () => selectPools(input({ pools, annotations, ifName: 'net1' })),
        'NoAvailablePool',
        'no IPPool available for net1 of pod default/nginx-x (rule: ippools annotation): ' +
          'annotation ipam.spidernet.io/ippools (item 1) lists no IPv4 pool; IPv6 is disabled in the agent configuration',
      );
    });
  });

  describe('auto pools of the subnet annotations', () => {
    const subnet = { 'ipam.spidernet.io/subnet': '{"ipv4":["subnet-6"],"ipv6":["subnet-6-v6"]}' };

    it('selects the pool the controller created for the application, NIC and family', () => {
      const pools = [
        autoPool('auto4-nginx-eth0-abcde'),
        autoPool('auto4-nginx-net1-abcde', { nic: 'net1' }),
        autoPool('auto6-nginx-eth0-abcde', { version: 6 }),
        autoPool('auto4-nginx-eth0-old', { uid: 'old-uid' }),
      ];
      const result = selectPools(input({ pools, annotations: subnet, enableIPv6: true }));
      assert.deepEqual(result, {
        rule: 'subnet',
        nics: [
          { nic: 'eth0', cleanGateway: false, ipv4: ['auto4-nginx-eth0-abcde'], ipv6: ['auto6-nginx-eth0-abcde'] },
        ],
      });
    });

    it('looks up only the enabled families', () => {
      const result = selectPools(input({ pools: [autoPool('auto4-nginx-eth0-abcde')], annotations: subnet }));
      assert.deepEqual(result.nics[0]?.ipv4, ['auto4-nginx-eth0-abcde']);
    });

    it('a missing auto pool is NoAvailablePool: the controller has not created it yet', () => {
      throwsSelection(
        () =>
          selectPools(input({ pools: [autoPool('auto4-nginx-eth0-old', { uid: 'old-uid' })], annotations: subnet })),
        'NoAvailablePool',
        'no IPPool available for eth0 IPv4 of pod default/nginx-x (rule: subnet annotation): the auto-created IPPool for Deployment default/nginx ' +
          'and interface eth0 does not exist yet; the controller creates it from SpiderSubnet "subnet-6"',
      );
    });

    it('bare pods cannot use them', () => {
      const top: TopController = {
        kind: 'Pod',
        name: 'nginx-x',
        namespace: 'default',
        uid: 'pod-uid',
        apiVersion: 'v1',
      };
      throwsSelection(
        () => selectPools(input({ pools: [], annotations: subnet, top })),
        'WrongInput',
        /doesn't support no-controller pod/,
      );
    });

    it('ipam.spidernet.io/subnets picks the item of the NIC', () => {
      const annotations = {
        'ipam.spidernet.io/subnets':
          '[{"interface":"eth0","ipv4":["subnet-6"]},{"interface":"net1","ipv4":["subnet-7"]}]',
      };
      const pools = [
        autoPool('auto4-nginx-eth0-abcde'),
        autoPool('auto4-nginx-net1-abcde', { nic: 'net1', subnet: 'subnet-7' }),
      ];
      assert.deepEqual(only4(selectPools(input({ pools, annotations, ifName: 'net1' }))), [
        'net1:auto4-nginx-net1-abcde',
      ]);
      throwsSelection(
        () => selectPools(input({ pools, annotations, ifName: 'net2' })),
        'WrongInput',
        'pod default/nginx-x: annotation ipam.spidernet.io/subnets has no item for interface net2 (it lists eth0, net1); every NIC of the pod must be listed',
      );
    });

    it('ipam.spidernet.io/subnets wins over ipam.spidernet.io/subnet', () => {
      const annotations = { ...subnet, 'ipam.spidernet.io/subnets': '[{"interface":"eth0","ipv4":["subnet-7"]}]' };
      const pools = [autoPool('from-subnet-7', { subnet: 'subnet-7' })];
      assert.deepEqual(selectPools(input({ pools, annotations })).nics[0]?.ipv4, ['from-subnet-7']);
    });

    it('ipam.spidernet.io/subnet covers one NIC only', () => {
      throwsSelection(
        () => selectPools(input({ pools: [], annotations: subnet, ifName: 'net1' })),
        'WrongInput',
        'pod default/nginx-x: annotation ipam.spidernet.io/subnet covers interface eth0 only, not net1; list every NIC in ipam.spidernet.io/subnets',
      );
    });

    it('the auto pool still goes through the filters, its podAffinity naming the application', () => {
      const foreign = autoPool('auto4-nginx-eth0-abcde', { app: 'other' });
      throwsSelection(
        () => selectPools(input({ pools: [foreign], annotations: subnet })),
        'NoAvailablePool',
        'no IPPool available for eth0 IPv4 of pod default/nginx-x (rule: subnet annotation): ' +
          'pool "auto4-nginx-eth0-abcde": auto-created for apps/v1 Deployment default/other, but the pod belongs to apps/v1 Deployment default/nginx',
      );
    });

    it('an application cannot move its auto pool to another subnet', () => {
      throwsSelection(
        () =>
          selectPools(
            input({ pools: [autoPool('auto4-nginx-eth0-abcde', { subnet: 'subnet-5' })], annotations: subnet }),
          ),
        'WrongInput',
        /names SpiderSubnet "subnet-6", but the auto-created IPPool "auto4-nginx-eth0-abcde" of Deployment default\/nginx was carved from SpiderSubnet "subnet-5"/,
      );
    });

    it('two auto pools for one NIC and family are NoAvailablePool', () => {
      throwsSelection(
        () => selectPools(input({ pools: [autoPool('one'), autoPool('two')], annotations: subnet })),
        'NoAvailablePool',
        /Deployment default\/nginx has several auto-created IPv4 IPPools for interface eth0 \("one", "two"\); delete all but one/,
      );
    });
  });

  describe('the quick-start examples', () => {
    const publicCloud = fixture('public-cloud-ipvlan/ippools.yaml') as SpiderIPPool[];
    const eth0 = { 'v1.multus-cni.io/default-network': 'kube-system/ipvlan-eth0' };

    it('public cloud: each node takes its own default pool for the ipvlan network of eth0', () => {
      for (const node of ['master', 'worker']) {
        const result = selectPools(input({ pools: publicCloud, node, annotations: eth0, enableIPv6: true }));
        assert.equal(result.rule, 'cluster-default');
        assert.deepEqual(result.nics, [{ nic: 'eth0', cleanGateway: false, ipv4: [`${node}-172`], ipv6: [] }]);
      }
    });

    it('public cloud: the second NIC on ipvlan-eth1 takes the 192 pool of the node', () => {
      const annotations = { ...eth0, 'k8s.v1.cni.cncf.io/networks': 'kube-system/ipvlan-eth1' };
      assert.deepEqual(only4(selectPools(input({ pools: publicCloud, annotations, ifName: 'net1' }))), [
        'net1:worker-192',
      ]);
    });

    it('public cloud: both NICs named in ippools', () => {
      const annotations = {
        ...eth0,
        'k8s.v1.cni.cncf.io/networks': 'kube-system/ipvlan-eth1',
        ...ippools([
          { interface: 'eth0', ipv4: ['*-172'] },
          { interface: 'net1', ipv4: ['master-192', 'worker-192'] },
        ]),
      };
      assert.deepEqual(only4(selectPools(input({ pools: publicCloud, annotations }))), [
        'eth0:worker-172',
        'net1:worker-192',
      ]);
    });

    it('public cloud: a pod on another network is told why each pool does not fit', () => {
      throwsSelection(
        () =>
          selectPools(
            input({ pools: publicCloud, annotations: { 'v1.multus-cni.io/default-network': 'kube-system/macvlan' } }),
          ),
        'NoAvailablePool',
        'no IPPool available for eth0 IPv4 of pod default/nginx-x (rule: cluster default pools): ' +
          'pool "master-172": nodeName [master] does not include node worker; ' +
          'pool "master-192": nodeName [master] does not include node worker; ' +
          'pool "worker-172": multusName [kube-system/ipvlan-eth0] does not include kube-system/macvlan (the network of eth0); ' +
          'pool "worker-192": multusName [kube-system/ipvlan-eth1] does not include kube-system/macvlan (the network of eth0)',
      );
    });

    it('calico quick start: the Deployment annotation picks nginx-ippool-v4, whose family comes from its subnet', () => {
      const pools = fixture('calico-quickstart/nginx-ippool-v4.yaml') as SpiderIPPool[];
      const [deploymentYaml] = fixture('calico-quickstart/nginx-deployment.yaml') as {
        spec: { template: { metadata: { annotations: Record<string, string> } } };
      }[];
      const annotations = deploymentYaml?.spec.template.metadata.annotations ?? {};
      const result = selectPools(input({ pools, annotations, enableIPv6: true }));
      assert.deepEqual(result, {
        rule: 'ippool',
        nics: [{ nic: 'eth0', cleanGateway: false, ipv4: ['nginx-ippool-v4'], ipv6: [] }],
      });
    });

    it('macvlan overlay: the SpiderMultusConfig pools of the extra NIC come in through the CNI config', () => {
      const pools = fixture('macvlan-overlay/10-6-v4.yaml') as SpiderIPPool[];
      const annotations = { 'k8s.v1.cni.cncf.io/networks': 'macvlan-ens192' };
      const result = selectPools(input({ pools, annotations, ifName: 'net1', cni: { ipv4: ['10-6-v4'] } }));
      assert.deepEqual(result, {
        rule: 'cni',
        nics: [{ nic: 'net1', cleanGateway: false, ipv4: ['10-6-v4'], ipv6: [] }],
      });
    });
  });
});
