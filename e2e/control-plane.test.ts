// The local control plane is a real cluster (the scheduler binds pods to nodes) and stopping it
// leaves neither processes nor files behind.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { KubeConfig } from '@kubernetes/client-node';
import { startControlPlane } from './cluster/control-plane.ts';
import { kubectlFor, kubectlOk } from './cluster/kubectl.ts';
import { registerNode } from './kubelet/node.ts';
import { eventually } from './harness/wait.ts';

function processesMentioning(text: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(text)) pids.push(Number(entry));
    } catch {
      // the process ended while we looked
    }
  }
  return pids;
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('local control plane', function () {
  this.timeout(180_000);

  it('schedules a Deployment onto a registered node, then stops without leaving processes or files', async () => {
    const cp = await startControlPlane();
    const pids = cp.pids();
    assert.equal(pids.length, 4, 'etcd, kube-apiserver, kube-controller-manager and kube-scheduler run');
    const kubectl = kubectlFor(cp.binDir, cp.kubeconfig);
    try {
      const kubeConfig = new KubeConfig();
      kubeConfig.loadFromFile(cp.kubeconfig);
      await registerNode(kubeConfig, 'worker1');
      await eventually('the default service account', 60_000, async () =>
        (await kubectl(['get', 'sa', 'default'])).code === 0 ? true : undefined,
      );
      await kubectlOk(kubectl, ['create', 'deployment', 'web', '--image', 'nginx', '--replicas', '2']);
      const nodes = await eventually('pods bound to worker1', 90_000, async () => {
        const out = await kubectlOk(kubectl, [
          'get',
          'pods',
          '-l',
          'app=web',
          '-o',
          'jsonpath={.items[*].spec.nodeName}',
        ]);
        const names = out.split(' ').filter(Boolean);
        return names.length === 2 ? names : undefined;
      });
      assert.deepEqual(nodes, ['worker1', 'worker1']);
    } finally {
      await cp.stop();
    }
    for (const pid of pids) assert.equal(alive(pid), false, `process ${pid} still runs after stop()`);
    assert.deepEqual(processesMentioning(cp.dir), [], 'no process refers to the control plane directory');
    assert.equal(existsSync(cp.dir), false, 'the temporary directory is removed');
  });
});
