// Never one address for two pods: 60 pods churn through the kubelet stand-in and the real plugin chain
// while agents are SIGKILLed mid-burst, kube-apiserver and etcd restart, the operator leader dies during a
// GC scan and the fault proxy fails about 5% of the agents' apiserver requests (e2e/faults/chaos.ts).
// A control plane of its own: its components are restarted.
import assert from 'node:assert/strict';
import { loadKubeConfig } from '../lib/kube.ts';
import { startControlPlane, type ControlPlane } from './cluster/control-plane.ts';
import { installCrds } from './cluster/install.ts';
import { kubectlFor } from './cluster/kubectl.ts';
import { runChaos } from './faults/chaos.ts';
import { describeViolations } from './harness/invariants.ts';

describe('chaos: pods churn through agents, apiserver, etcd and operator failures', function () {
  this.timeout(300_000);
  let cp: ControlPlane;

  before(async function () {
    this.timeout(180_000);
    cp = await startControlPlane({ controllers: false });
    await installCrds(kubectlFor(cp.binDir, cp.kubeconfig));
  });

  after(async () => {
    await cp?.stop();
  });

  it('ends with every invariant holding: no duplicate, no leaked record after GC', async () => {
    const report = await runChaos(cp, loadKubeConfig(cp.kubeconfig), {
      pods: 60,
      nodes: 2,
      soakMs: 0,
      faultRate: 0.05,
      log: (m) => console.log(`      ${m}`),
    });
    const { violations, ...figures } = report;
    console.log(`      ${JSON.stringify(figures)}`);
    assert.deepEqual(describeViolations(violations), '');
    assert.equal(report.duplicates, 0);
    assert.equal(report.leaked, 0);
    assert.ok(report.agentRestarts >= 2 && report.apiserverRestarts >= 1 && report.etcdRestarts >= 1);
    assert.equal(report.leaderKills, 1, 'the operator leader was killed');
    assert.ok(Object.values(report.faultsInjected).reduce((a, b) => a + b, 0) > 0, 'the proxy injected faults');
  });
});
