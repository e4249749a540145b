// Where the CRD admission rules meet upstream Spiderpool's own webhook cases, behind the real apiserver: a pool
// owned by a SpiderSubnet that does not exist, an auto-created pool edited away from its subnet's ledger (while the
// controller's own writes still get through as it grows and shrinks the pool), a VLAN config in auto mode, a /0
// subnet and an IPv4-mapped reserved address. docs/admission.md lists the rules; README.md the deliberate
// differences.
import assert from 'node:assert/strict';
import { CustomObjectsApi } from '@kubernetes/client-node';
import { GROUP, VERSION } from '../api/v2beta1/constants.ts';
import type { SpiderIPPool, SpiderSubnet } from '../api/v2beta1/types.ts';
import { IPSet } from '../lib/ip/index.ts';
import type { Application, AutoPoolRequest } from '../operator/subnet/application.ts';
import { parseControlledPools } from '../operator/subnet/controlled-pools.ts';
import { AutoPoolWriter } from '../operator/subnet/ensure-auto-pool.ts';
import { crdRoutes } from '../webhooks/rules/index.ts';
import { testCluster, type TestCluster } from './harness/cluster.ts';
import { runWebhooks, type RunningWebhooks } from './harness/webhooks.ts';

const API = `${GROUP}/${VERSION}`;
const PLURAL: Record<string, string> = {
  SpiderIPPool: 'spiderippools',
  SpiderSubnet: 'spidersubnets',
  SpiderReservedIP: 'spiderreservedips',
  SpiderMultusConfig: 'spidermultusconfigs',
};

interface Obj {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; [k: string]: unknown };
  spec?: Record<string, unknown>;
  status?: Record<string, unknown>;
}

const object = (kind: string, name: string, spec: Record<string, unknown>): Obj => ({
  apiVersion: API,
  kind,
  metadata: { name, ...(kind === 'SpiderMultusConfig' ? { namespace: 'default' } : {}) },
  spec,
});

describe('CRD admission on the cases upstream Spiderpool tests', function () {
  this.timeout(300_000);
  let c: TestCluster;
  let hooks: RunningWebhooks;
  const created: Obj[] = [];

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
  /** `kubectl create` (or `replace` for an update); the result for the test to assert on. */
  const write = (verb: 'create' | 'replace', o: Obj) => {
    if (verb === 'create') created.push(o);
    return c.kubectl([verb, '-f', '-'], { stdin: JSON.stringify(o) });
  };
  const createOk = async (o: Obj): Promise<Obj> => {
    const r = await write('create', o);
    assert.equal(r.code, 0, r.stderr);
    return (await get(o)) as Obj;
  };
  const refused = async (verb: 'create' | 'replace', o: Obj, expect: RegExp) => {
    const before = await get(o);
    const r = await write(verb, o);
    // An object admitted by mistake must not stay around to change what later tests see.
    if (r.code === 0 && verb === 'create') await c.kubectl(['delete', ...ref(o), '--ignore-not-found', '--wait=false']);
    assert.notEqual(r.code, 0, `expected a refusal, got: ${r.stdout}`);
    assert.match(r.stderr, /admission webhook "validate-spiderpool-spidernet-io-v2beta1-[a-z]+\.spidernet\.io" denied/);
    assert.match(r.stderr, expect);
    assert.equal((await get(o))?.metadata.resourceVersion, before?.metadata.resourceVersion, 'nothing changed');
  };

  before(async () => {
    c = await testCluster();
    hooks = await runWebhooks(c, crdRoutes, { configurationName: 'spiderpool-upstream-rules' });
  });
  after(async () => {
    await hooks?.stop();
    for (const o of created.reverse()) {
      await c.kubectl(['delete', ...ref(o), '--wait=false', '--ignore-not-found']);
      await c.kubectl(['patch', ...ref(o), '--type=merge', '-p', '{"metadata":{"finalizers":null}}']);
    }
  });

  describe('a pool owned by a SpiderSubnet', () => {
    const owner = (name: string, uid: string) => ({
      apiVersion: API,
      kind: 'SpiderSubnet',
      name,
      uid,
      controller: true,
      blockOwnerDeletion: true,
    });

    it('is refused on create when the SpiderSubnet does not exist', async () => {
      const pool = object('SpiderIPPool', 'up-orphan', { subnet: '10.231.0.0/24', ips: ['10.231.0.10'] });
      pool.metadata.ownerReferences = [owner('up-missing-subnet', '6d1c6f2e-0000-4000-8000-000000000001')];
      await refused(
        'create',
        pool,
        /SpiderIPPool "up-orphan": metadata\.ownerReferences\[0\] names SpiderSubnet "up-missing-subnet", which does not exist/,
      );
    });

    it('is refused on update when the owner reference is changed to a SpiderSubnet that does not exist', async () => {
      const stored = await createOk(
        object('SpiderIPPool', 'up-owned', { subnet: '10.232.0.0/24', ips: ['10.232.0.10'] }),
      );
      const edited = {
        ...stored,
        metadata: { ...stored.metadata, ownerReferences: [owner('up-gone', '6d1c6f2e-0000-4000-8000-000000000002')] },
      };
      await refused(
        'replace',
        edited,
        /metadata\.ownerReferences\[0\] names SpiderSubnet "up-gone", which does not exist/,
      );
    });

    it('is refused when the uid is not that of the SpiderSubnet of that name', async () => {
      const subnet = await createOk(
        object('SpiderSubnet', 'up-subnet-uid', { subnet: '10.233.0.0/24', ips: ['10.233.0.1-10.233.0.100'] }),
      );
      const pool = object('SpiderIPPool', 'up-wrong-uid', { subnet: '10.233.0.0/24', ips: ['10.233.0.10'] });
      pool.metadata.ownerReferences = [owner('up-subnet-uid', '6d1c6f2e-0000-4000-8000-000000000003')];
      await refused(
        'create',
        pool,
        new RegExp(
          `metadata\\.ownerReferences\\[0\\] names SpiderSubnet "up-subnet-uid" with uid 6d1c6f2e-0000-4000-8000-000000000003, but its uid is ${String(subnet.metadata.uid)}`,
        ),
      );
    });
  });

  describe('an auto-created pool and its SpiderSubnet ledger', () => {
    const SUBNET = 'up-auto-subnet';
    const app: Application = {
      kind: 'Deployment',
      namespace: 'default',
      name: 'up-auto',
      uid: '6d1c6f2e-0000-4000-8000-0000000000a1',
      apiVersion: 'apps/v1',
      replicas: 2,
      terminating: false,
    };
    const request = (size: number): AutoPoolRequest => ({
      nic: 'eth0',
      family: 4,
      subnet: SUBNET,
      size,
      ipNumber: '+1',
      reclaim: true,
    });
    let writer: AutoPoolWriter;
    let poolName = '';
    const custom = () => c.kubeConfig.makeApiClient(CustomObjectsApi);
    const readPool = async () =>
      (await custom().getClusterCustomObject({
        group: GROUP,
        version: VERSION,
        plural: 'spiderippools',
        name: poolName,
      })) as SpiderIPPool;
    const ledgerIPs = async () => {
      const subnet = (await custom().getClusterCustomObject({
        group: GROUP,
        version: VERSION,
        plural: 'spidersubnets',
        name: SUBNET,
      })) as SpiderSubnet;
      return IPSet.fromRanges(parseControlledPools(subnet).get(poolName)?.ips ?? [], 4);
    };

    before(async () => {
      await createOk(object('SpiderSubnet', SUBNET, { subnet: '10.234.0.0/24', ips: ['10.234.0.10-10.234.0.100'] }));
      writer = new AutoPoolWriter(custom(), { pools: () => [], reservedIPs: () => [] });
    });
    after(async () => {
      if (poolName) created.push(object('SpiderIPPool', poolName, {}));
    });

    it('the controller creates, grows and shrinks it through the webhook, and the pool always ends equal to the ledger', async () => {
      for (const size of [3, 6, 2]) {
        const outcome = await writer.ensure(app, request(size), poolName || undefined);
        assert.equal(outcome.kind, 'done', JSON.stringify(outcome));
        if (outcome.kind === 'done') poolName = outcome.pool;
        const pool = await readPool();
        const ips = IPSet.fromRanges(pool.spec.ips ?? [], 4);
        assert.equal(ips.count(), BigInt(size));
        assert.ok(ips.equals(await ledgerIPs()), `size ${size}: ${pool.spec.ips?.join(',')}`);
      }
    });

    it('a hand edit that gives the pool addresses its SpiderSubnet did not record for it is refused', async () => {
      const pool = (await get(object('SpiderIPPool', poolName, {}))) as Obj;
      const edited = { ...pool, spec: { ...pool.spec, ips: ['10.234.0.10-10.234.0.11', '10.234.0.50'] } };
      await refused(
        'replace',
        edited,
        new RegExp(
          `SpiderIPPool "${poolName}": spec\\.ips 10\\.234\\.0\\.50 are not what SpiderSubnet "${SUBNET}" records for this auto-created pool in status\\.controlledIPPools \\(10\\.234\\.0\\.10-10\\.234\\.0\\.11\\)`,
        ),
      );
    });

    it('a hand-made auto-created pool that the ledger does not record is refused', async () => {
      const pool = await readPool();
      const copy: Obj = {
        apiVersion: API,
        kind: 'SpiderIPPool',
        metadata: { name: 'up-auto-copy', labels: pool.metadata.labels },
        spec: { subnet: '10.234.0.0/24', ips: ['10.234.0.90'], podAffinity: pool.spec.podAffinity },
      };
      await refused(
        'create',
        copy,
        /spec\.ips 10\.234\.0\.90 are not what SpiderSubnet "up-auto-subnet" records for this auto-created pool in status\.controlledIPPools \(nothing\)/,
      );
    });
  });

  it('accepts a VLAN SpiderMultusConfig in auto mode with no vlanID, and refuses one with a vlanID', async () => {
    const auto = object('SpiderMultusConfig', 'up-vlan-auto', {
      cniType: 'vlan',
      vlan: { master: ['eth0'], vlanMode: 'auto' },
    });
    const stored = await createOk(auto);
    const vlan = stored.spec?.vlan as Record<string, unknown>;
    assert.equal(vlan.vlanMode, 'auto');
    assert.equal(vlan.vlanID, undefined);
    await refused(
      'create',
      object('SpiderMultusConfig', 'up-vlan-auto-id', {
        cniType: 'vlan',
        vlan: { master: ['eth0'], vlanMode: 'auto', vlanID: 0 },
      }),
      /spec\.vlan\.vlanID must not be set when spec\.vlan\.vlanMode is "auto"/,
    );
  });

  it('refuses a /0 subnet for a pool and for a SpiderSubnet', async () => {
    await refused(
      'create',
      object('SpiderIPPool', 'up-all-v4', { subnet: '0.0.0.0/0' }),
      /SpiderIPPool "up-all-v4": spec\.subnet 0\.0\.0\.0\/0 covers every IPv4 address: give the network the addresses are in/,
    );
    await refused(
      'create',
      object('SpiderSubnet', 'up-all-v6', { subnet: '::/0' }),
      /SpiderSubnet "up-all-v6": spec\.subnet ::\/0 covers every IPv6 address/,
    );
  });

  it('refuses an IPv4-mapped IPv6 address in a SpiderReservedIP, naming the field', async () => {
    await refused(
      'create',
      object('SpiderReservedIP', 'up-mapped', { ips: ['10.235.0.4', '::ffff:10.235.0.5'] }),
      /spec\.ips\[1\] "::ffff:10\.235\.0\.5" is an IPv4-mapped IPv6 address: write it as IPv4 \(10\.235\.0\.5\)/,
    );
    await refused(
      'create',
      object('SpiderReservedIP', 'up-mapped-first', { ips: ['::ffff:10.235.0.5'] }),
      /spec\.ips\[0\] "::ffff:10\.235\.0\.5" is an IPv4-mapped IPv6 address/,
    );
  });

  it('refuses resource injection on ovs and custom configs, as upstream', async () => {
    const inject = { 'cni.spidernet.io/network-resource-inject': 'net' };
    for (const [name, spec] of [
      ['up-ovs-inject', { cniType: 'ovs', ovs: { bridge: 'br0', ippools: { ipv4: ['p'] } } }],
      ['up-custom-inject', { cniType: 'custom' }],
    ] as const) {
      const o = object('SpiderMultusConfig', name, spec);
      o.metadata.annotations = inject;
      await refused(
        'create',
        o,
        /metadata\.annotations\["cni\.spidernet\.io\/network-resource-inject"\] is not supported for cniType (ovs|custom)/,
      );
    }
  });

  it('refuses a customCNI that is valid JSON but not an object (upstream only checks that it parses)', async () => {
    await refused(
      'create',
      object('SpiderMultusConfig', 'up-custom-string', { cniType: 'custom', customCNI: '"macvlan"' }),
      /spec\.customCNI must be a JSON object/,
    );
  });

  it('accepts an SR-IOV minimum rate under the default maximum of 0, which means no limit', async () => {
    const stored = await createOk(
      object('SpiderMultusConfig', 'up-sriov-min', {
        cniType: 'sriov',
        sriov: { resourceName: 'spidernet.io/vf', minTxRateMbps: 100 },
      }),
    );
    assert.equal((stored.spec?.sriov as { maxTxRateMbps?: number }).maxTxRateMbps, 0);
  });

  it('refuses podAffinity beyond the application labels on an auto-created pool, as upstream', async () => {
    const pool = object('SpiderIPPool', 'up-auto-affinity', {
      subnet: '10.237.0.0/24',
      podAffinity: { matchLabels: { 'ipam.spidernet.io/app-name': 'nginx', team: 'a' } },
    });
    pool.metadata.labels = { 'ipam.spidernet.io/owner-application-name': 'nginx' };
    await refused('create', pool, /spec\.podAffinity\.matchLabels \["team"\]: an auto-created pool only carries/);
  });

  it('lets a terminating SpiderReservedIP lose its finalizer but not change its spec (upstream refuses both)', async () => {
    const reserved = object('SpiderReservedIP', 'up-reserved-held', { ips: ['10.237.1.1'] });
    reserved.metadata.finalizers = ['example.com/hold'];
    await createOk(reserved);
    const r = await c.kubectl(['delete', ...ref(reserved), '--wait=false']);
    assert.equal(r.code, 0, r.stderr);
    const terminating = (await get(reserved)) as Obj;
    assert.ok(terminating.metadata.deletionTimestamp);
    await refused(
      'replace',
      { ...terminating, spec: { ipVersion: 4, ips: ['10.237.1.2'] } },
      /SpiderReservedIP "up-reserved-held": spec cannot change while the object is being deleted/,
    );
    const released = await write('replace', { ...terminating, metadata: { ...terminating.metadata, finalizers: [] } });
    assert.equal(released.code, 0, released.stderr);
    assert.equal(await get(reserved), undefined);
  });
});
