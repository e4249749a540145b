// KubeVirt VM address retention with real agents, the kubelet stand-in and the operator's garbage collector, both
// running as their installed service accounts with the installed conf.yml. No
// KubeVirt runs here: the test plays its controllers, creating the VirtualMachine, its VirtualMachineInstance and
// the virt-launcher pods with the owner references and labels KubeVirt sets, re-creating a pod under a new name, and
// starting a live migration whose target pod runs next to its source.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { CoreV1Api, CustomObjectsApi, type KubernetesObject, type V1Pod } from '@kubernetes/client-node';
import { GROUP, VERSION } from '../api/v2beta1/constants.ts';
import { parseRecords } from '../ipam/records.ts';
import { SpiderpoolClient } from '../lib/spiderpool-client.ts';
import { createGarbageCollector } from '../operator/gc/reconciler.ts';
import type { RunningOperator } from '../operator/runtime/types.ts';
import { repoRoot } from './cluster/install.ts';
import { kubectlOk } from './cluster/kubectl.ts';
import { callAgent } from './harness/agents.ts';
import { testCluster, type TestCluster } from './harness/cluster.ts';
import { startNodeSide, type NodeSide } from './harness/nodes.ts';
import { runOperator } from './harness/operator.ts';
import { eventually } from './harness/wait.ts';
import { installedIdentities, installedGcOptions, type InstalledIdentities } from './harness/installed-identities.ts';

const NS = 'kubevirt-e2e';
const POOL = 'kubevirt-v4';
const NODES = ['kubevirt-w1', 'kubevirt-w2'];
const KUBEVIRT = { group: 'kubevirt.io', version: 'v1' };

describe('KubeVirt VMs keep their addresses', function () {
  this.timeout(300_000);
  let c: TestCluster;
  let nodes: NodeSide | undefined;
  let op: RunningOperator | undefined;
  let core: CoreV1Api;
  let custom: CustomObjectsApi;
  let client: SpiderpoolClient;
  let identities: InstalledIdentities | undefined;

  const create = async (plural: string, body: object) =>
    (await custom.createNamespacedCustomObject({ ...KUBEVIRT, plural, namespace: NS, body })) as KubernetesObject;
  const records = async () => Object.fromEntries(parseRecords(await client.read(POOL)));
  const endpoint = (name: string) => client.endpoint(NS, name);
  const owner = (o: KubernetesObject) => ({
    apiVersion: o.apiVersion as string,
    kind: o.kind as string,
    name: o.metadata?.name as string,
    uid: o.metadata?.uid as string,
    controller: true,
    blockOwnerDeletion: true,
  });

  /** The virt-launcher pod KubeVirt's controller makes for a VMI, on a node, as a migration target if `migration`. */
  const launcher = async (vmi: KubernetesObject, suffix: string, node: string, migration?: KubernetesObject) =>
    core.createNamespacedPod({
      namespace: NS,
      body: {
        metadata: {
          name: `virt-launcher-${vmi.metadata?.name}-${suffix}`,
          labels: {
            'kubevirt.io': 'virt-launcher',
            'kubevirt.io/created-by': vmi.metadata?.uid as string,
            'vm.kubevirt.io/name': vmi.metadata?.name as string,
            ...(migration ? { 'kubevirt.io/migrationJobUID': migration.metadata?.uid as string } : {}),
          },
          annotations: {
            'ipam.spidernet.io/ippool': JSON.stringify({ ipv4: [POOL] }),
            'kubevirt.io/domain': vmi.metadata?.name as string,
            ...(migration ? { 'kubevirt.io/migrationJobName': migration.metadata?.name as string } : {}),
          },
          ownerReferences: [owner(vmi)],
        },
        spec: { nodeName: node, terminationGracePeriodSeconds: 1, containers: [{ name: 'compute', image: 'nginx' }] },
      },
    });
  const running = (name: string) =>
    eventually(`pod ${name} running with an address`, 120_000, async () => {
      const pod = await core.readNamespacedPod({ namespace: NS, name }).catch(() => undefined);
      return pod?.status?.phase === 'Running' && pod.status.podIP ? pod : undefined;
    });
  const podGone = (name: string) =>
    eventually(`pod ${name} gone`, 120_000, async () =>
      (await core.readNamespacedPod({ namespace: NS, name }).catch(() => undefined)) ? undefined : true,
    );
  const ipOf = (pod: V1Pod) => pod.status?.podIP as string;
  const scans = async () => {
    const m = op?.registry.getSingleMetric('spiderpool_ip_gc_full_scan_counts_total');
    return m ? ((await m.get()).values[0]?.value ?? 0) : 0;
  };
  const afterScans = async (n: number) => {
    const target = (await scans()) + n;
    await eventually(`${n} more full scans`, 60_000, async () => ((await scans()) >= target ? true : undefined));
  };

  before(async () => {
    c = await testCluster();
    core = c.kubeConfig.makeApiClient(CoreV1Api);
    custom = c.kubeConfig.makeApiClient(CustomObjectsApi);
    client = new SpiderpoolClient(c.kubeConfig);
    await kubectlOk(c.kubectl, ['apply', '-f', join(repoRoot, 'e2e', 'crds', 'kubevirt.yaml')]);
    await kubectlOk(c.kubectl, [
      'wait',
      '--for=condition=Established',
      '-f',
      join(repoRoot, 'e2e', 'crds', 'kubevirt.yaml'),
    ]);
    await kubectlOk(c.kubectl, ['create', 'namespace', NS]);
    await custom.createClusterCustomObject({
      group: GROUP,
      version: VERSION,
      plural: 'spiderippools',
      body: {
        apiVersion: `${GROUP}/${VERSION}`,
        kind: 'SpiderIPPool',
        metadata: { name: POOL },
        spec: { subnet: '10.252.0.0/24', ips: ['10.252.0.10-10.252.0.60'] },
      },
    });
    identities = await installedIdentities(c);
    nodes = await startNodeSide({
      kubeConfig: c.kubeConfig,
      kubeconfigPath: identities.agentKubeconfig,
      nodes: NODES,
      agentEnv: identities.agentEnv,
    });
    const gc = installedGcOptions({ SPIDERPOOL_GC_DEFAULT_INTERVAL_DURATION: '1' });
    op = await runOperator(
      identities.controllerKubeConfig,
      [(ctx) => createGarbageCollector(ctx, gc)],
      identities.lease,
    );
  });

  after(async () => {
    await op?.stop();
    await c?.kubectl([
      'delete',
      'virtualmachines,virtualmachineinstances,virtualmachineinstancemigrations',
      '--all',
      '-n',
      NS,
      '--wait=false',
    ]);
    await c?.kubectl(['delete', 'pods', '--all', '-n', NS, '--force', '--grace-period=0']);
    await nodes?.stop();
    for (const node of NODES) await c?.kubectl(['delete', 'node', node, '--wait=false']);
    await c?.kubectl(['delete', 'namespace', NS, '--wait=false']);
    await c?.kubectl(['delete', 'sp', POOL, '--ignore-not-found', '--wait=false']);
    identities?.cleanup();
  });

  it('a VM gets its address back in a new virt-launcher pod, keeps it through a live migration, and loses it with the VM', async () => {
    const vm = await create('virtualmachines', {
      apiVersion: 'kubevirt.io/v1',
      kind: 'VirtualMachine',
      metadata: { name: 'vm1' },
      spec: { running: true, template: { spec: {} } },
    });
    const vmi = await create('virtualmachineinstances', {
      apiVersion: 'kubevirt.io/v1',
      kind: 'VirtualMachineInstance',
      metadata: { name: 'vm1', labels: { 'kubevirt.io/vm': 'vm1' }, ownerReferences: [owner(vm)] },
      spec: { domain: {} },
    });

    await launcher(vmi, 'abcde', NODES[0]!);
    const first = await running('virt-launcher-vm1-abcde');
    const address = ipOf(first);
    const se = await endpoint('vm1');
    assert.equal(se?.status?.current.uid, first.metadata?.uid);
    assert.equal(se?.status?.ownerControllerType, 'VirtualMachineInstance');
    assert.equal(se?.status?.ownerControllerName, 'vm1');
    assert.equal(se?.metadata.ownerReferences, undefined, 'the endpoint outlives the pod');
    assert.equal(await endpoint('virt-launcher-vm1-abcde'), undefined);
    // What a CNI CHECK of the pod asks the agent, by the pod's own name.
    const check = await callAgent(
      nodes!.agents.agents[0]!.socket,
      'GET',
      `/v1/workloadendpoint?podNamespace=${NS}&podName=virt-launcher-vm1-abcde`,
    );
    assert.equal(check.status, 200, JSON.stringify(check.body));
    assert.equal((check.body as { podUID: string }).podUID, first.metadata?.uid);
    const table = await kubectlOk(c.kubectl, ['get', 'se', '-n', NS]);
    assert.match(table, /^vm1\s/m, table);
    assert.deepEqual(await records(), { [address]: { pod: `${NS}/vm1`, podUid: first.metadata?.uid, nic: 'eth0' } });

    // The pod goes (a VM restart); the next one has another name and UID and, once created, the same address.
    await core.deleteNamespacedPod({ namespace: NS, name: 'virt-launcher-vm1-abcde' });
    await podGone('virt-launcher-vm1-abcde');
    await afterScans(2);
    assert.equal((await records())[address]?.podUid, first.metadata?.uid, 'deleting only the pod frees nothing');
    assert.ok(await endpoint('vm1'));
    await launcher(vmi, 'fghij', NODES[1]!);
    const second = await running('virt-launcher-vm1-fghij');
    assert.equal(ipOf(second), address);
    assert.deepEqual(await records(), { [address]: { pod: `${NS}/vm1`, podUid: second.metadata?.uid, nic: 'eth0' } });

    // A live migration: the target pod runs while its source still does, with the same address.
    const migration = await create('virtualmachineinstancemigrations', {
      apiVersion: 'kubevirt.io/v1',
      kind: 'VirtualMachineInstanceMigration',
      metadata: { name: 'vm1-migration' },
      spec: { vmiName: 'vm1' },
    });
    await launcher(vmi, 'klmno', NODES[0]!, migration);
    const target = await running('virt-launcher-vm1-klmno');
    assert.equal(ipOf(target), address);
    assert.equal((await running('virt-launcher-vm1-fghij')).status?.phase, 'Running', 'the source still runs');
    await core.deleteNamespacedPod({ namespace: NS, name: 'virt-launcher-vm1-fghij' });
    await podGone('virt-launcher-vm1-fghij');
    await afterScans(2);
    assert.deepEqual(await records(), { [address]: { pod: `${NS}/vm1`, podUid: target.metadata?.uid, nic: 'eth0' } });
    assert.equal((await endpoint('vm1'))?.status?.current.uid, target.metadata?.uid);

    // The VM is deleted: KubeVirt deletes its VMI and the VMI's pod; the address and the endpoint go.
    await custom.deleteNamespacedCustomObject({ ...KUBEVIRT, plural: 'virtualmachines', namespace: NS, name: 'vm1' });
    await custom.deleteNamespacedCustomObject({
      ...KUBEVIRT,
      plural: 'virtualmachineinstances',
      namespace: NS,
      name: 'vm1',
    });
    await core.deleteNamespacedPod({ namespace: NS, name: 'virt-launcher-vm1-klmno' });
    await eventually('the address of vm1 freed', 60_000, async () =>
      Object.keys(await records()).length === 0 ? true : undefined,
    );
    await eventually('the endpoint of vm1 deleted', 60_000, async () => ((await endpoint('vm1')) ? undefined : true));
  });

  it('a VMI without a VM keeps its address while it exists and loses it with the VMI, even with no DEL', async () => {
    const vmi = await create('virtualmachineinstances', {
      apiVersion: 'kubevirt.io/v1',
      kind: 'VirtualMachineInstance',
      metadata: { name: 'vmi2' },
      spec: { domain: {} },
    });
    await launcher(vmi, 'aaaaa', NODES[1]!);
    const pod = await running('virt-launcher-vmi2-aaaaa');
    const address = ipOf(pod);
    await nodes!.kubelet.stop();
    await core.deleteNamespacedPod({ namespace: NS, name: 'virt-launcher-vmi2-aaaaa', gracePeriodSeconds: 0 });
    await podGone('virt-launcher-vmi2-aaaaa');
    await afterScans(2);
    assert.equal((await records())[address]?.pod, `${NS}/vmi2`, 'the VMI still exists');
    await custom.deleteNamespacedCustomObject({
      ...KUBEVIRT,
      plural: 'virtualmachineinstances',
      namespace: NS,
      name: 'vmi2',
    });
    await eventually('the address of vmi2 freed by the collector', 60_000, async () =>
      (await records())[address] ? undefined : true,
    );
    await eventually('the endpoint of vmi2 deleted', 60_000, async () => ((await endpoint('vmi2')) ? undefined : true));
  });
});
