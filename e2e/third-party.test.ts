// Pods of third-party controllers, with OpenKruise's CloneSet and Advanced StatefulSet as the example: the top
// controller is the OpenKruise object as the pod's owner reference names it. No OpenKruise controller runs: the test
// creates the CloneSet and Advanced StatefulSet objects and their pods with the owner references and labels OpenKruise
// sets. Auto-created pools for them come from the controller's third-party reconciler. Agents and the operator run as
// their installed service accounts with the installed conf.yml.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { CoreV1Api, CustomObjectsApi, type KubernetesObject, type V1Pod } from '@kubernetes/client-node';
import type { SpiderIPPool } from '../api/v2beta1/types.ts';
import { GROUP, VERSION } from '../api/v2beta1/constants.ts';
import { parseRecords } from '../ipam/records.ts';
import { SpiderpoolClient } from '../lib/spiderpool-client.ts';
import { repoRoot } from './cluster/install.ts';
import { kubectlOk } from './cluster/kubectl.ts';
import { createIPPoolReconciler } from '../operator/ippool/reconciler.ts';
import type { RunningOperator } from '../operator/runtime/types.ts';
import { createSubnetStatusReconciler } from '../operator/subnet/subnet-status-reconciler.ts';
import { createThirdPartyPoolReconciler } from '../operator/subnet/third-party-reconciler.ts';
import { IPSet, parseIP } from '../lib/ip/index.ts';
import { callAgent } from './harness/agents.ts';
import { runOperator } from './harness/operator.ts';
import { testCluster, type TestCluster } from './harness/cluster.ts';
import { installedIdentities, type InstalledIdentities } from './harness/installed-identities.ts';
import { startNodeSide, type NodeSide } from './harness/nodes.ts';
import { eventually } from './harness/wait.ts';

const NS = 'kruise-e2e';
const POOL = 'kruise-v4';
const NODE = 'kruise-w1';
const CRDS = join(repoRoot, 'e2e', 'crds', 'kruise.yaml');
const SUBNET = 'kruise-subnet';

describe('Third-party controllers: OpenKruise', function () {
  this.timeout(300_000);
  let c: TestCluster;
  let nodes: NodeSide | undefined;
  let core: CoreV1Api;
  let custom: CustomObjectsApi;
  let client: SpiderpoolClient;
  let identities: InstalledIdentities | undefined;
  let op: RunningOperator | undefined;

  const poolsOf = async (name: string) =>
    (
      (await custom.listClusterCustomObject({
        group: GROUP,
        version: VERSION,
        plural: 'spiderippools',
        labelSelector: `ipam.spidernet.io/owner-application-namespace=${NS},ipam.spidernet.io/owner-application-kind=CloneSet,ipam.spidernet.io/owner-application-name=${name}`,
      })) as { items: SpiderIPPool[] }
    ).items;
  const onePool = (name: string, uid?: string) =>
    eventually(`the auto-created pool of CloneSet ${name}`, 120_000, async () => {
      const [pool, ...more] = await poolsOf(name);
      assert.equal(more.length, 0, `one pool for ${name}`);
      return pool && (!uid || pool.metadata.labels?.['ipam.spidernet.io/owner-application-uid'] === uid)
        ? pool
        : undefined;
    });
  const fromSubnet = (reclaim = true) => ({
    'ipam.spidernet.io/subnet': JSON.stringify({ ipv4: [SUBNET] }),
    'ipam.spidernet.io/ippool-ip-number': '5',
    ...(reclaim ? {} : { 'ipam.spidernet.io/ippool-reclaim': 'false' }),
  });
  const within = (pool: SpiderIPPool, pod: V1Pod) =>
    IPSet.fromRanges(pool.spec.ips ?? [], 4).contains(parseIP(ipOf(pod)).value);
  /** What OpenKruise and the garbage collector do when a CloneSet is deleted: its pods go with it. */
  const deleteCloneSet = async (name: string) => {
    await custom.deleteNamespacedCustomObject({
      group: 'apps.kruise.io',
      version: 'v1alpha1',
      plural: 'clonesets',
      namespace: NS,
      name,
    });
    await c.kubectl(['delete', 'pods', '-n', NS, '-l', `app=${name}`, '--wait=true']);
  };

  const records = async () => Object.fromEntries(parseRecords(await client.read(POOL)));
  const endpoint = (name: string) => client.endpoint(NS, name);
  const createApp = async (version: string, plural: string, kind: string, name: string) =>
    (await custom.createNamespacedCustomObject({
      group: 'apps.kruise.io',
      version,
      plural,
      namespace: NS,
      body: {
        apiVersion: `apps.kruise.io/${version}`,
        kind,
        metadata: { name },
        spec: { replicas: 2, selector: { matchLabels: { app: name } }, template: {} },
      },
    })) as KubernetesObject;
  /** A pod as OpenKruise's controller makes it for `app`. */
  const podOf = (
    app: KubernetesObject,
    name: string,
    labels: Record<string, string>,
    annotations: Record<string, string>,
    node = NODE,
  ) =>
    core.createNamespacedPod({
      namespace: NS,
      body: {
        metadata: {
          name,
          labels: { app: app.metadata?.name as string, ...labels },
          annotations,
          ownerReferences: [
            {
              apiVersion: app.apiVersion as string,
              kind: app.kind as string,
              name: app.metadata?.name as string,
              uid: app.metadata?.uid as string,
              controller: true,
              blockOwnerDeletion: true,
            },
          ],
        },
        spec: { nodeName: node, terminationGracePeriodSeconds: 0, containers: [{ name: 'c', image: 'nginx' }] },
      },
    });
  const fromPool = { 'ipam.spidernet.io/ippool': JSON.stringify({ ipv4: [POOL] }) };
  const running = (name: string) =>
    eventually(`pod ${name} running with an address`, 120_000, async () => {
      const pod = await core.readNamespacedPod({ namespace: NS, name }).catch(() => undefined);
      return pod?.status?.phase === 'Running' && pod.status.podIP ? pod : undefined;
    });
  const ipOf = (pod: V1Pod) => pod.status?.podIP as string;

  before(async () => {
    c = await testCluster();
    core = c.kubeConfig.makeApiClient(CoreV1Api);
    custom = c.kubeConfig.makeApiClient(CustomObjectsApi);
    client = new SpiderpoolClient(c.kubeConfig);
    await kubectlOk(c.kubectl, ['apply', '-f', CRDS]);
    await kubectlOk(c.kubectl, ['wait', '--for=condition=Established', '-f', CRDS]);
    await kubectlOk(c.kubectl, ['create', 'namespace', NS]);
    await custom.createClusterCustomObject({
      group: GROUP,
      version: VERSION,
      plural: 'spidersubnets',
      body: {
        apiVersion: `${GROUP}/${VERSION}`,
        kind: 'SpiderSubnet',
        metadata: { name: SUBNET },
        spec: { ipVersion: 4, subnet: '10.248.0.0/24', ips: ['10.248.0.10-10.248.0.60'] },
      },
    });
    await custom.createClusterCustomObject({
      group: GROUP,
      version: VERSION,
      plural: 'spiderippools',
      body: {
        apiVersion: `${GROUP}/${VERSION}`,
        kind: 'SpiderIPPool',
        metadata: { name: POOL },
        spec: { subnet: '10.249.0.0/24', ips: ['10.249.0.10-10.249.0.40'] },
      },
    });
    identities = await installedIdentities(c);
    nodes = await startNodeSide({
      kubeConfig: c.kubeConfig,
      kubeconfigPath: identities.agentKubeconfig,
      nodes: [NODE],
      agentEnv: identities.agentEnv,
    });
    op = await runOperator(
      identities.controllerKubeConfig,
      [createThirdPartyPoolReconciler, createSubnetStatusReconciler, createIPPoolReconciler],
      identities.lease,
    );
  });

  after(async () => {
    await c?.kubectl([
      'delete',
      'clonesets.apps.kruise.io,statefulsets.apps.kruise.io',
      '--all',
      '-n',
      NS,
      '--wait=false',
    ]);
    await c?.kubectl(['delete', 'pods', '--all', '-n', NS, '--force', '--grace-period=0']);
    await c?.kubectl(['delete', 'spiderippools', '-l', `ipam.spidernet.io/owner-application-namespace=${NS}`]);
    await op?.stop();
    await nodes?.stop();
    await c?.kubectl(['delete', 'spidersubnets', SUBNET, '--wait=false']);
    await c?.kubectl(['delete', 'node', NODE, '--wait=false']);
    await c?.kubectl(['delete', 'namespace', NS, '--wait=false']);
    await c?.kubectl(['delete', 'sp', POOL, '--ignore-not-found', '--wait=false']);
    identities?.cleanup();
  });

  it("a CloneSet's pods belong to the CloneSet and free their addresses when they go", async () => {
    const cloneSet = await createApp('v1alpha1', 'clonesets', 'CloneSet', 'web');
    for (const id of ['abcde', 'fghij'])
      await podOf(cloneSet, `web-${id}`, { 'apps.kruise.io/cloneset-instance-id': id }, fromPool);
    const pods = [await running('web-abcde'), await running('web-fghij')];
    for (const pod of pods) {
      const se = await endpoint(pod.metadata?.name as string);
      assert.equal(se?.status?.ownerControllerType, 'CloneSet');
      assert.equal(se?.status?.ownerControllerName, 'web');
      assert.equal(se?.metadata.ownerReferences?.[0]?.kind, 'Pod', 'a CloneSet pod is stateless');
    }
    assert.deepEqual(Object.keys(await records()).sort(), pods.map(ipOf).sort());
    await core.deleteNamespacedPod({ namespace: NS, name: 'web-abcde' });
    await eventually('the address of web-abcde freed', 60_000, async () =>
      (await records())[ipOf(pods[0]!)] ? undefined : true,
    );
    assert.ok((await records())[ipOf(pods[1]!)]);
  });

  it('an Advanced StatefulSet pod is not a Kubernetes StatefulSet pod: its address goes with it', async () => {
    const set = await createApp('v1beta1', 'statefulsets', 'StatefulSet', 'db');
    await podOf(set, 'db-0', { 'statefulset.kubernetes.io/pod-name': 'db-0' }, fromPool);
    const pod = await running('db-0');
    const se = await endpoint('db-0');
    assert.equal(se?.status?.ownerControllerType, 'StatefulSet');
    assert.equal(se?.metadata.ownerReferences?.[0]?.kind, 'Pod');
    await core.deleteNamespacedPod({ namespace: NS, name: 'db-0' });
    await eventually('the address of db-0 freed', 60_000, async () =>
      (await records())[ipOf(pod)] ? undefined : true,
    );
  });

  it('a CloneSet gets one auto-created pool of its fixed size, scales within it, and the pool is reclaimed with it', async () => {
    const cloneSet = await createApp('v1alpha1', 'clonesets', 'CloneSet', 'auto');
    const ids = ['aaaaa', 'bbbbb', 'ccccc'];
    for (const id of ids)
      await podOf(cloneSet, `auto-${id}`, { 'apps.kruise.io/cloneset-instance-id': id }, fromSubnet());
    const pool = await onePool('auto', cloneSet.metadata?.uid);
    assert.equal(IPSet.fromRanges(pool.spec.ips ?? [], 4).count(), 5n);
    assert.equal(pool.metadata.labels?.['ipam.spidernet.io/owner-application-gv'], 'apps.kruise.io_v1alpha1');
    assert.equal(pool.spec.podAffinity?.matchLabels?.['ipam.spidernet.io/app-api-group'], 'apps.kruise.io');
    for (const id of ids) assert.ok(within(pool, await running(`auto-${id}`)));
    // Scaled to 5: the same pool serves the new pods.
    for (const id of ['ddddd', 'eeeee'])
      await podOf(cloneSet, `auto-${id}`, { 'apps.kruise.io/cloneset-instance-id': id }, fromSubnet());
    for (const id of ['ddddd', 'eeeee']) assert.ok(within(pool, await running(`auto-${id}`)));
    assert.deepEqual(
      (await poolsOf('auto')).map((p) => p.metadata.name),
      [pool.metadata.name],
    );
    await deleteCloneSet('auto');
    await eventually('the pool of CloneSet auto reclaimed', 120_000, async () =>
      (await poolsOf('auto')).length === 0 ? true : undefined,
    );
  });

  it('a pool kept with ippool-reclaim "false" is taken over by a new CloneSet of the same name', async () => {
    const first = await createApp('v1alpha1', 'clonesets', 'CloneSet', 'kept');
    await podOf(first, 'kept-aaaaa', { 'apps.kruise.io/cloneset-instance-id': 'aaaaa' }, fromSubnet(false));
    const pool = await onePool('kept', first.metadata?.uid);
    const address = ipOf(await running('kept-aaaaa'));
    await deleteCloneSet('kept');
    const second = await createApp('v1alpha1', 'clonesets', 'CloneSet', 'kept');
    await podOf(second, 'kept-bbbbb', { 'apps.kruise.io/cloneset-instance-id': 'bbbbb' }, fromSubnet(false));
    const taken = await onePool('kept', second.metadata?.uid);
    assert.equal(taken.metadata.name, pool.metadata.name);
    assert.deepEqual(taken.spec.ips, pool.spec.ips);
    const pod = await running('kept-bbbbb');
    assert.ok(within(taken, pod));
    assert.equal(ipOf(pod), address, 'the lowest free address of the same pool');
  });

  it('a third-party pod asking for an auto-created pool without a fixed size is refused, naming its controller', async () => {
    const cloneSet = await createApp('v1alpha1', 'clonesets', 'CloneSet', 'flexible');
    const pod = await podOf(
      cloneSet,
      'flexible-abcde',
      {},
      { 'ipam.spidernet.io/subnet': JSON.stringify({ ipv4: [SUBNET] }), 'ipam.spidernet.io/ippool-ip-number': '+1' },
      'kruise-nowhere',
    );
    const socket = nodes!.agents.agents[0]!.socket;
    const answer = await callAgent(socket, 'POST', '/v1/ipam/ip', {
      containerID: 'c1',
      ifName: 'eth0',
      netNamespace: '/var/run/netns/flexible-abcde',
      podNamespace: NS,
      podName: 'flexible-abcde',
      podUID: pod.metadata?.uid,
    });
    assert.equal(answer.status, 400, JSON.stringify(answer.body));
    assert.match(
      (answer.body as { message: string }).message,
      /controller apps\.kruise\.io\/v1alpha1 CloneSet kruise-e2e\/flexible is not a Kubernetes workload, whose pools can only be sized by a fixed number/,
    );
  });
});
