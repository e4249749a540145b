// SpiderMultusConfig → NetworkAttachmentDefinition on the real control plane: the operator runs the
// multusconfig reconciler, the quick-start YAML is applied as users apply it, and the real
// kube-controller-manager's garbage collector removes the NAD of a deleted SpiderMultusConfig.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { CoreV1Api, CustomObjectsApi } from '@kubernetes/client-node';
import type { NetworkAttachmentDefinition, SpiderMultusConfig } from '../api/v2beta1/types.ts';
import { isNotFound } from '../lib/kube.ts';
import { createMultusConfigReconciler } from '../operator/multusconfig/reconciler.ts';
import type { RunningOperator } from '../operator/runtime/types.ts';
import { repoRoot } from './cluster/install.ts';
import { kubectlOk } from './cluster/kubectl.ts';
import { testCluster, type TestCluster } from './harness/cluster.ts';
import { runOperator } from './harness/operator.ts';
import { table } from './harness/table.ts';
import { eventually } from './harness/wait.ts';

const NS = 'multusconfig-e2e';
const fixture = (path: string) => join(repoRoot, 'e2e', 'fixtures', path);
const WAIT_MS = 30_000;

interface Conflist {
  cniVersion: string;
  name: string;
  plugins: Record<string, unknown>[];
}

// What the quick start shows for macvlan-ens192 (main plugin macvlan on ens192 in bridge mode with the
// spiderpool IPAM and pool 10-6-v4, then coordinator), with the defaults the API adds.
const MACVLAN_ENS192: Conflist = {
  cniVersion: '0.3.1',
  name: 'macvlan-ens192',
  plugins: [
    {
      type: 'macvlan',
      master: 'ens192',
      mode: 'bridge',
      mtu: 0,
      ipam: { type: 'spiderpool', default_ipv4_ippool: ['10-6-v4'] },
    },
    { type: 'coordinator', mode: 'auto', tunePodRoutes: true, podRPFilter: 0 },
  ],
};

describe('SpiderMultusConfig reconciler: NetworkAttachmentDefinitions on the real control plane', function () {
  this.timeout(120_000);
  let c: TestCluster;
  let operator: RunningOperator;
  let custom: CustomObjectsApi;
  let core: CoreV1Api;

  const getNad = async (name: string, namespace = NS): Promise<NetworkAttachmentDefinition | undefined> => {
    try {
      return (await custom.getNamespacedCustomObject({
        group: 'k8s.cni.cncf.io',
        version: 'v1',
        plural: 'network-attachment-definitions',
        namespace,
        name,
      })) as NetworkAttachmentDefinition;
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  };
  const getSmc = async (name: string) =>
    (await custom.getNamespacedCustomObject({
      group: 'spiderpool.spidernet.io',
      version: 'v2beta1',
      plural: 'spidermultusconfigs',
      namespace: NS,
      name,
    })) as SpiderMultusConfig;
  const conflist = (nad: NetworkAttachmentDefinition | undefined) =>
    JSON.parse(nad?.spec?.config ?? 'null') as Conflist | null;
  /** Waits until the NAD exists with exactly this config (compared as JSON values). */
  const nadWithConfig = (name: string, expected: unknown, namespace = NS) =>
    eventually(`NAD ${namespace}/${name} with the expected config`, WAIT_MS, async () => {
      const nad = await getNad(name, namespace);
      try {
        assert.deepEqual(conflist(nad), expected);
        return nad;
      } catch {
        return undefined;
      }
    });
  const warnings = async (smc: string, reason: string) =>
    (await core.listNamespacedEvent({ namespace: NS, fieldSelector: `involvedObject.name=${smc},reason=${reason}` }))
      .items;
  const reconcileErrors = async () =>
    ((await operator.registry.getSingleMetric('spiderpool_controller_reconcile_errors_total')?.get())?.values ?? [])
      .filter((v) => v.labels.controller === 'multusconfig')
      .reduce((sum, v) => sum + v.value, 0);
  const apply = (yaml: string) => kubectlOk(c.kubectl, ['apply', '-n', NS, '-f', '-'], { stdin: yaml });

  before(async () => {
    c = await testCluster();
    custom = c.kubeConfig.makeApiClient(CustomObjectsApi);
    core = c.kubeConfig.makeApiClient(CoreV1Api);
    await kubectlOk(c.kubectl, ['create', 'namespace', NS]);
    operator = await runOperator(c.kubeConfig, [createMultusConfigReconciler]);
  });

  after(async () => {
    await c?.kubectl([
      'delete',
      '-f',
      fixture('public-cloud-ipvlan/ipvlan-multusconfigs.yaml'),
      '--ignore-not-found',
      '--wait=false',
    ]);
    await c?.kubectl(['delete', 'namespace', NS, '--wait=false']);
    await operator?.stop();
  });

  it('the quick-start macvlan-ens192 yields its NAD with the documented config, controlled by the SpiderMultusConfig', async () => {
    await kubectlOk(c.kubectl, ['apply', '-n', NS, '-f', fixture('macvlan-overlay/macvlan-ens192.yaml')]);
    const nad = await nadWithConfig('macvlan-ens192', MACVLAN_ENS192);

    // The shape the quick start shows to the user.
    const config = conflist(nad)!;
    const [main, last] = [config.plugins[0]!, config.plugins.at(-1)!];
    assert.equal(main.type, 'macvlan');
    assert.equal(main.master, 'ens192');
    assert.equal(main.mode, 'bridge');
    assert.deepEqual(main.ipam, { type: 'spiderpool', default_ipv4_ippool: ['10-6-v4'] });
    assert.equal(last.type, 'coordinator');

    const smc = await getSmc('macvlan-ens192');
    assert.deepEqual(nad.metadata.ownerReferences, [
      {
        apiVersion: 'spiderpool.spidernet.io/v2beta1',
        kind: 'SpiderMultusConfig',
        name: 'macvlan-ens192',
        uid: smc.metadata.uid,
        controller: true,
        blockOwnerDeletion: true,
      },
    ]);
    // kubectl's record of the SpiderMultusConfig is not copied onto the NAD.
    assert.equal(nad.metadata.annotations?.['kubectl.kubernetes.io/last-applied-configuration'], undefined);
    const listed = table(
      await kubectlOk(c.kubectl, ['get', 'network-attachment-definitions.k8s.cni.cncf.io', '-n', NS]),
    );
    assert.ok(
      listed.rows.some((r) => r[0] === 'macvlan-ens192'),
      'kubectl get network-attachment-definitions lists macvlan-ens192',
    );
  });

  it('a deleted NAD comes back', async () => {
    const before = await getNad('macvlan-ens192');
    await kubectlOk(c.kubectl, [
      'delete',
      'network-attachment-definitions.k8s.cni.cncf.io',
      '-n',
      NS,
      'macvlan-ens192',
    ]);
    const restored = await eventually('macvlan-ens192 recreated', WAIT_MS, async () => {
      const nad = await getNad('macvlan-ens192');
      return nad && nad.metadata.uid !== before?.metadata.uid ? nad : undefined;
    });
    assert.deepEqual(conflist(restored), MACVLAN_ENS192);
  });

  it('a hand-edited config, annotation or label is restored', async () => {
    // The config the quick start page shows from an older release, typo included.
    const stale =
      '{"cniVersion":"0.3.1","name":"macvlan-ens192","plugins":[{"type":"macvlan","ipam":{"type":"spiderpool","default_ipv4_ippool":["10-6-v4"]},"master":"ens192","mode":"bridge"},{"type":"coordinattor","mode":"overlay"}]}';
    await kubectlOk(c.kubectl, [
      'patch',
      'network-attachment-definitions.k8s.cni.cncf.io',
      '-n',
      NS,
      'macvlan-ens192',
      '--type',
      'merge',
      '-p',
      JSON.stringify({ spec: { config: stale } }),
    ]);
    await kubectlOk(c.kubectl, [
      'annotate',
      'network-attachment-definitions.k8s.cni.cncf.io',
      '-n',
      NS,
      'macvlan-ens192',
      'edited=by-hand',
    ]);
    await kubectlOk(c.kubectl, [
      'label',
      'network-attachment-definitions.k8s.cni.cncf.io',
      '-n',
      NS,
      'macvlan-ens192',
      'edited=by-hand',
    ]);
    const nad = await eventually('macvlan-ens192 restored', WAIT_MS, async () => {
      const n = await getNad('macvlan-ens192');
      return n?.metadata.annotations?.edited === undefined &&
        n?.metadata.labels?.edited === undefined &&
        n?.spec?.config !== stale
        ? n
        : undefined;
    });
    assert.deepEqual(conflist(nad), MACVLAN_ENS192);
  });

  it('the NAD follows changes of the SpiderMultusConfig', async () => {
    await kubectlOk(c.kubectl, [
      'patch',
      'smc',
      '-n',
      NS,
      'macvlan-ens192',
      '--type',
      'merge',
      '-p',
      JSON.stringify({ spec: { macvlan: { vlanID: 100 }, coordinator: { mode: 'overlay' } } }),
    ]);
    // The coordinator block now exists, so the apiserver fills its defaults (txQueueLen 0, ...).
    await nadWithConfig('macvlan-ens192', {
      cniVersion: '0.3.1',
      name: 'macvlan-ens192',
      plugins: [
        { type: 'ifacer', interfaces: ['ens192'], vlanID: 100 },
        {
          type: 'macvlan',
          master: 'ens192.100',
          mode: 'bridge',
          mtu: 0,
          ipam: { type: 'spiderpool', default_ipv4_ippool: ['10-6-v4'] },
        },
        { type: 'coordinator', mode: 'overlay', tunePodRoutes: true, txQueueLen: 0, podRPFilter: 0 },
      ],
    });
    await kubectlOk(c.kubectl, ['annotate', 'smc', '-n', NS, 'macvlan-ens192', 'example.com/owner=network-team']);
    await eventually('the annotation copied onto the NAD', WAIT_MS, async () =>
      (await getNad('macvlan-ens192'))?.metadata.annotations?.['example.com/owner'] === 'network-team'
        ? true
        : undefined,
    );
  });

  it('multus.spidernet.io/cr-name names the NAD and multus.spidernet.io/cni-version sets its cniVersion', async () => {
    await apply(
      [
        'apiVersion: spiderpool.spidernet.io/v2beta1',
        'kind: SpiderMultusConfig',
        'metadata:',
        '  name: named',
        '  annotations:',
        '    multus.spidernet.io/cr-name: other-name',
        '    multus.spidernet.io/cni-version: 1.0.0',
        'spec:',
        '  cniType: macvlan',
        '  enableCoordinator: false',
        '  macvlan:',
        '    master: [eth1]',
      ].join('\n'),
    );
    await nadWithConfig('other-name', {
      cniVersion: '1.0.0',
      name: 'other-name',
      plugins: [{ type: 'macvlan', master: 'eth1', mode: 'bridge', mtu: 0, ipam: { type: 'spiderpool' } }],
    });
    assert.equal(await getNad('named'), undefined);
    await kubectlOk(c.kubectl, ['delete', 'network-attachment-definitions.k8s.cni.cncf.io', '-n', NS, 'other-name']);
    await eventually('other-name recreated', WAIT_MS, async () => ((await getNad('other-name')) ? true : undefined));
  });

  it('a NAD written by hand is left alone and reported on the SpiderMultusConfig; deleted, it is replaced by the generated one', async () => {
    const byHand = '{"cniVersion":"0.3.1","name":"by-hand","type":"bridge"}';
    await kubectlOk(c.kubectl, ['apply', '-n', NS, '-f', '-'], {
      stdin: `apiVersion: k8s.cni.cncf.io/v1\nkind: NetworkAttachmentDefinition\nmetadata:\n  name: by-hand\nspec:\n  config: '${byHand}'\n`,
    });
    const errorsBefore = await reconcileErrors();
    await apply(
      'apiVersion: spiderpool.spidernet.io/v2beta1\nkind: SpiderMultusConfig\nmetadata:\n  name: by-hand\nspec:\n  cniType: ipoib\n  ipoib:\n    master: ib0\n',
    );
    const [event] = await eventually('a conflict event on the SpiderMultusConfig', WAIT_MS, async () => {
      const items = await warnings('by-hand', 'NetworkAttachmentDefinitionConflict');
      return items.length ? items : undefined;
    });
    assert.equal(event?.type, 'Warning');
    assert.match(
      event?.message ?? '',
      /NetworkAttachmentDefinition multusconfig-e2e\/by-hand already exists and is not managed by a SpiderMultusConfig/,
    );
    // Retried with back-off (reported as reconcile errors), and the NAD is untouched.
    await eventually('the conflict counted as a reconcile error', WAIT_MS, async () =>
      (await reconcileErrors()) > errorsBefore ? true : undefined,
    );
    const untouched = await getNad('by-hand');
    assert.equal(untouched?.spec?.config, byHand);
    assert.equal(untouched?.metadata.ownerReferences, undefined);
    assert.equal(
      (await warnings('by-hand', 'NetworkAttachmentDefinitionConflict')).length,
      1,
      'one event, not one per retry',
    );

    await kubectlOk(c.kubectl, ['delete', 'network-attachment-definitions.k8s.cni.cncf.io', '-n', NS, 'by-hand']);
    const nad = await nadWithConfig('by-hand', {
      cniVersion: '0.3.1',
      name: 'by-hand',
      plugins: [
        { type: 'ipoib', master: 'ib0', ipam: { type: 'spiderpool' } },
        { type: 'coordinator', mode: 'auto', tunePodRoutes: true, podRPFilter: 0 },
      ],
    });
    assert.equal(nad.metadata.ownerReferences?.[0]?.name, 'by-hand');
  });

  it('a SpiderMultusConfig that describes no network gets a Warning event and no NAD, without retries, and its NAD once fixed', async () => {
    // Without the admission webhook the apiserver accepts a macvlan SpiderMultusConfig with no macvlan block.
    const errorsBefore = await reconcileErrors();
    await apply(
      'apiVersion: spiderpool.spidernet.io/v2beta1\nkind: SpiderMultusConfig\nmetadata:\n  name: broken\nspec:\n  cniType: macvlan\n',
    );
    const [event] = await eventually('an InvalidSpec event', WAIT_MS, async () => {
      const items = await warnings('broken', 'InvalidSpec');
      return items.length ? items : undefined;
    });
    assert.equal(
      event?.message,
      'SpiderMultusConfig multusconfig-e2e/broken: spec.macvlan: required when spec.cniType is macvlan',
    );
    await operator.resync();
    await eventually('the operator idle', WAIT_MS, async () => (operator.idle() ? true : undefined));
    assert.equal(await getNad('broken'), undefined);
    assert.equal(await reconcileErrors(), errorsBefore, 'invalid input is not retried');
    assert.equal((await warnings('broken', 'InvalidSpec')).length, 1, 'the resync reports nothing new');

    await kubectlOk(c.kubectl, [
      'patch',
      'smc',
      '-n',
      NS,
      'broken',
      '--type',
      'merge',
      '-p',
      '{"spec":{"macvlan":{"master":["eth2"]}}}',
    ]);
    await nadWithConfig('broken', {
      cniVersion: '0.3.1',
      name: 'broken',
      plugins: [
        { type: 'macvlan', master: 'eth2', mode: 'bridge', mtu: 0, ipam: { type: 'spiderpool' } },
        { type: 'coordinator', mode: 'auto', tunePodRoutes: true, podRPFilter: 0 },
      ],
    });
  });

  it('the ipvlan SpiderMultusConfigs of the public-cloud quick start yield ipvlan-eth0 and ipvlan-eth1 in kube-system', async () => {
    await kubectlOk(c.kubectl, ['apply', '-f', fixture('public-cloud-ipvlan/ipvlan-multusconfigs.yaml')]);
    for (const master of ['eth0', 'eth1']) {
      await nadWithConfig(
        `ipvlan-${master}`,
        {
          cniVersion: '0.3.1',
          name: `ipvlan-${master}`,
          plugins: [
            { type: 'ipvlan', master, mtu: 0, ipam: { type: 'spiderpool' } },
            { type: 'coordinator', mode: 'underlay', tunePodRoutes: true, txQueueLen: 0, podRPFilter: 0 },
          ],
        },
        'kube-system',
      );
    }
    const listed = table(
      await kubectlOk(c.kubectl, ['get', 'network-attachment-definitions.k8s.cni.cncf.io', '-n', 'kube-system']),
    );
    assert.deepEqual(
      listed.rows
        .map((r) => r[0])
        .filter((n) => n?.startsWith('ipvlan-'))
        .sort(),
      ['ipvlan-eth0', 'ipvlan-eth1'],
    );
  });

  it('deleting the SpiderMultusConfig removes its NAD (garbage collector)', async () => {
    await kubectlOk(c.kubectl, ['delete', 'smc', '-n', NS, 'macvlan-ens192']);
    await eventually('macvlan-ens192 NAD collected', 60_000, async () =>
      (await getNad('macvlan-ens192')) ? undefined : true,
    );
    assert.ok((await getNad('other-name')) !== undefined, 'other NADs stay');
  });
});
