// The API as the real apiserver serves it: every CRD established, the quick-start examples accepted
// unchanged, and `kubectl get` printing the documented columns.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { CustomObjectsApi } from '@kubernetes/client-node';
import type { SpiderIPPool, SpiderMultusConfig } from '../api/v2beta1/types.ts';
import { GROUP, VERSION } from '../api/v2beta1/constants.ts';
import { allCrds } from '../api/v2beta1/crds.ts';
import { repoRoot } from './cluster/install.ts';
import { kubectlOk } from './cluster/kubectl.ts';
import { testCluster, type TestCluster } from './harness/cluster.ts';
import { table } from './harness/table.ts';

const fixture = (path: string) => join(repoRoot, 'e2e', 'fixtures', path);

describe('CRDs on the real apiserver', function () {
  this.timeout(180_000);
  let c: TestCluster;

  before(async () => {
    c = await testCluster();
    await kubectlOk(c.kubectl, ['apply', '-f', fixture('calico-quickstart/nginx-ippool-v4.yaml')]);
    await kubectlOk(c.kubectl, ['apply', '-f', fixture('public-cloud-ipvlan/ippools.yaml')]);
    await kubectlOk(c.kubectl, ['apply', '-f', fixture('public-cloud-ipvlan/ipvlan-multusconfigs.yaml')]);
    await kubectlOk(c.kubectl, ['apply', '-f', fixture('macvlan-overlay/10-6-v4.yaml')]);
    await kubectlOk(c.kubectl, ['apply', '-f', fixture('macvlan-overlay/macvlan-ens192.yaml')]);
  });

  it('every CRD is Established with its scope, short names and categories', async () => {
    for (const crd of allCrds) {
      const got = JSON.parse(await kubectlOk(c.kubectl, ['get', 'crd', `${crd.plural}.${crd.group}`, '-o', 'json']));
      const established = got.status.conditions.find((x: { type: string }) => x.type === 'Established');
      assert.equal(established?.status, 'True', `${crd.kind} established`);
      assert.equal(got.spec.scope, crd.scope);
      assert.deepEqual(got.spec.names.shortNames, crd.shortNames);
      assert.deepEqual(got.spec.names.categories ?? [], crd.categories);
    }
    const resources = await kubectlOk(c.kubectl, ['api-resources', '--api-group', GROUP, '--no-headers']);
    for (const [plural, short, namespaced] of [
      ['spiderippools', 'sp', 'false'],
      ['spidersubnets', 'ss', 'false'],
      ['spiderreservedips', 'sr', 'false'],
      ['spiderendpoints', 'se', 'true'],
      ['spidermultusconfigs', 'smc', 'true'],
      ['spidercoordinators', 'scc', 'false'],
    ]) {
      assert.match(resources, new RegExp(`^${plural}\\s+${short}\\s+${GROUP}/${VERSION}\\s+${namespaced}\\s`, 'm'));
    }
  });

  it('the quick-start SpiderIPPools are stored unchanged, with the schema defaults filled in', async () => {
    const pool: SpiderIPPool = JSON.parse(await kubectlOk(c.kubectl, ['get', 'sp', 'nginx-ippool-v4', '-o', 'json']));
    assert.deepEqual(pool.spec.ips, ['10.244.100.0-10.244.200.1']);
    assert.equal(pool.spec.subnet, '10.244.0.0/16');
    assert.equal(pool.metadata.labels?.['ipam.spidernet.io/subnet-cidr'], '10-244-0-0-16');
    assert.equal(pool.spec.default, false);
    assert.equal(pool.spec.disable, false);

    const master172: SpiderIPPool = JSON.parse(await kubectlOk(c.kubectl, ['get', 'sp', 'master-172', '-o', 'json']));
    assert.deepEqual(master172.spec, {
      default: true,
      disable: false,
      ips: ['172.31.199.185-172.31.199.189'],
      subnet: '172.31.192.0/20',
      gateway: '172.31.207.253',
      nodeName: ['master'],
      multusName: ['kube-system/ipvlan-eth0'],
    });
    const pool106: SpiderIPPool = JSON.parse(await kubectlOk(c.kubectl, ['get', 'sp', '10-6-v4', '-o', 'json']));
    assert.deepEqual(pool106.spec, {
      default: false,
      disable: false,
      gateway: '10.6.0.1',
      ips: ['10.6.212.100-10.6.212.200'],
      subnet: '10.6.0.0/16',
    });
  });

  it('the quick-start SpiderMultusConfigs are stored unchanged, with the schema defaults filled in', async () => {
    const smc: SpiderMultusConfig = JSON.parse(
      await kubectlOk(c.kubectl, ['get', 'smc', 'macvlan-ens192', '-o', 'json']),
    );
    assert.equal(smc.spec?.cniType, 'macvlan');
    assert.deepEqual(smc.spec?.macvlan, {
      master: ['ens192'],
      ippools: { ipv4: ['10-6-v4'], matchMasterSubnet: false },
      vlanID: 0,
      mtu: 0,
    });
    assert.equal(smc.spec?.enableCoordinator, true);
    assert.equal(smc.spec?.disableIPAM, false);

    for (const [name, master] of [
      ['ipvlan-eth0', 'eth0'],
      ['ipvlan-eth1', 'eth1'],
    ]) {
      const ipvlan: SpiderMultusConfig = JSON.parse(
        await kubectlOk(c.kubectl, ['get', 'smc', '-n', 'kube-system', name!, '-o', 'json']),
      );
      assert.equal(ipvlan.spec?.cniType, 'ipvlan');
      assert.deepEqual(ipvlan.spec?.ipvlan?.master, [master]);
      assert.equal(ipvlan.spec?.coordinator?.mode, 'underlay');
      assert.equal(ipvlan.spec?.coordinator?.tunePodRoutes, true);
      assert.equal(ipvlan.spec?.coordinator?.podCIDRType, 'cluster');
      assert.equal(ipvlan.spec?.enableCoordinator, true);
    }
  });

  it('`kubectl get sp` prints the documented columns, and -o wide adds the wide-only ones', async () => {
    const narrow = table(await kubectlOk(c.kubectl, ['get', 'sp']));
    assert.deepEqual(narrow.header, ['NAME', 'VERSION', 'SUBNET', 'ALLOCATED-IP-COUNT', 'TOTAL-IP-COUNT', 'DEFAULT']);
    const names = narrow.rows.map((r) => r[0]);
    for (const name of ['10-6-v4', 'master-172', 'master-192', 'nginx-ippool-v4', 'worker-172', 'worker-192'])
      assert.ok(names.includes(name), `${name} listed`);
    const worker192 = narrow.rows.find((r) => r[0] === 'worker-192');
    assert.equal(worker192?.[2], '192.168.0.0/24');
    assert.equal(worker192?.[1], '', 'VERSION is empty until the mutating webhook derives it');
    assert.equal(worker192?.at(-1), 'true');

    const wide = table(await kubectlOk(c.kubectl, ['get', 'sp', '-o', 'wide']));
    assert.deepEqual(wide.header, [
      'NAME',
      'VERSION',
      'SUBNET',
      'ALLOCATED-IP-COUNT',
      'TOTAL-IP-COUNT',
      'DEFAULT',
      'DISABLE',
      'NODENAME',
      'MULTUSNAME',
      'APP-NAMESPACE', // kubectl upper-cases column names
    ]);
    const master192 = wide.rows.find((r) => r[0] === 'master-192');
    assert.deepEqual(master192?.slice(-4), ['false', '["master"]', '["kube-system/ipvlan-eth1"]', '']);
  });

  it('`kubectl get` by category lists every kind of the spiderpool category', async () => {
    const out = await kubectlOk(c.kubectl, ['get', 'spiderpool', '-A', '-o', 'name']);
    assert.match(out, /spiderippool\.spiderpool\.spidernet\.io\/nginx-ippool-v4/);
    assert.match(out, /spidermultusconfig\.spiderpool\.spidernet\.io\/ipvlan-eth0/);
  });

  it('`kubectl get se` prints INTERFACE IPV4POOL IPV4 IPV6POOL IPV6 NODE from the first NIC', async () => {
    const endpoint = {
      apiVersion: `${GROUP}/${VERSION}`,
      kind: 'SpiderEndpoint',
      metadata: { name: 'nginx-4653bc4f24-rswak', namespace: 'default' },
      status: {
        current: {
          uid: '0b8b2a52-3a2e-4d55-bf2f-6d3c3c0c1f00',
          node: 'worker01',
          ips: [{ interface: 'net1', ipv4: '10.6.212.145/16', ipv4Pool: '10-6-v4', ipv4Gateway: '10.6.0.1', vlan: 0 }],
        },
        ownerControllerType: 'Deployment',
        ownerControllerName: 'nginx',
      },
    };
    await kubectlOk(c.kubectl, ['apply', '-f', '-'], { stdin: JSON.stringify(endpoint) });
    const out = table(await kubectlOk(c.kubectl, ['get', 'se']));
    assert.deepEqual(out.header, ['NAME', 'INTERFACE', 'IPV4POOL', 'IPV4', 'IPV6POOL', 'IPV6', 'NODE']);
    assert.deepEqual(
      out.rows.find((r) => r[0] === 'nginx-4653bc4f24-rswak'),
      ['nginx-4653bc4f24-rswak', 'net1', '10-6-v4', '10.6.212.145/16', '', '', 'worker01'],
    );
    await kubectlOk(c.kubectl, ['delete', 'se', 'nginx-4653bc4f24-rswak']);
  });

  it('SpiderIPPool and SpiderCoordinator status is a subresource: only /status writes change it', async () => {
    const api = c.kubeConfig.makeApiClient(CustomObjectsApi);
    const read = async () =>
      (await api.getClusterCustomObject({
        group: GROUP,
        version: VERSION,
        plural: 'spiderippools',
        name: '10-6-v4',
      })) as SpiderIPPool;
    const before = (await read()).status;
    await kubectlOk(c.kubectl, [
      'patch',
      'sp',
      '10-6-v4',
      '--type',
      'merge',
      '-p',
      '{"status":{"allocatedIPCount":7}}',
    ]);
    let pool = await read();
    assert.deepEqual(pool.status, before, 'a write to the main resource must not change status');

    pool = (await api.replaceClusterCustomObjectStatus({
      group: GROUP,
      version: VERSION,
      plural: 'spiderippools',
      name: '10-6-v4',
      body: { ...pool, status: { allocatedIPCount: 0, totalIPCount: 101 } },
    })) as SpiderIPPool;
    assert.equal(pool.status?.totalIPCount, 101);
    const row = table(await kubectlOk(c.kubectl, ['get', 'sp', '10-6-v4'])).rows[0];
    assert.deepEqual(row?.slice(3, 5), ['0', '101']);

    await kubectlOk(c.kubectl, ['apply', '-f', '-'], {
      stdin: JSON.stringify({
        apiVersion: `${GROUP}/${VERSION}`,
        kind: 'SpiderCoordinator',
        metadata: { name: 'default' },
        spec: { podCIDRType: 'cluster' },
      }),
    });
    const scc = (await api.getClusterCustomObject({
      group: GROUP,
      version: VERSION,
      plural: 'spidercoordinators',
      name: 'default',
    })) as { spec: Record<string, unknown> };
    assert.deepEqual(scc.spec, {
      mode: 'auto',
      podCIDRType: 'cluster',
      tunePodRoutes: true,
      hostRuleTable: 500,
      podRPFilter: 0,
      txQueueLen: 0,
    });
    const synced = (await api.patchClusterCustomObjectStatus({
      group: GROUP,
      version: VERSION,
      plural: 'spidercoordinators',
      name: 'default',
      body: [
        {
          op: 'add',
          path: '/status',
          value: { phase: 'Synced', overlayPodCIDR: ['10.244.64.0/18'], serviceCIDR: ['10.233.0.0/18'] },
        },
      ],
    })) as { status: { phase: string } };
    assert.equal(synced.status.phase, 'Synced');
    await kubectlOk(c.kubectl, ['delete', 'scc', 'default']);
  });
});
