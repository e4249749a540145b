// npm run bench:chaos -- --pods 300 --nodes 3 --minutes 0
// The chaos run of e2e/faults/chaos.ts on a control plane of its own: pods churn through the kubelet stand-in
// while agents are SIGKILLed mid-burst, kube-apiserver and etcd restart, the operator leader is killed
// during a GC scan and the fault proxy fails --fault-percent of the agents' apiserver requests. --minutes N
// repeats the rounds for N minutes (a soak). Progress on stderr; last line: the figures as one JSON object,
// violations included. Exits 1 when an invariant failed.
import { runChaos } from '../e2e/faults/chaos.ts';
import { describeViolations } from '../e2e/harness/invariants.ts';
import { benchOptions, say, withControlPlane } from './common.ts';

const options = benchOptions({ pods: 300, nodes: 3, minutes: 0, 'fault-percent': 5 });

await withControlPlane(async ({ cp, kubeConfig }) => {
  const report = await runChaos(cp, kubeConfig, {
    pods: options.pods,
    nodes: options.nodes,
    soakMs: options.minutes * 60_000,
    faultRate: options['fault-percent'] / 100,
    log: say,
  });
  say(
    `${report.rounds} rounds in ${report.seconds} s: ${report.podsCreated} pods created, ${report.podsDeleted} deleted; ` +
      `${Object.values(report.faultsInjected).reduce((a, b) => a + b, 0)} faults in ${report.agentRequests} agent requests; ` +
      `${report.agentRestarts} agent kills, ${report.apiserverRestarts} apiserver and ${report.etcdRestarts} etcd restarts, ` +
      `${report.leaderKills} leader kills; ${report.addsRetried} ADDs retried`,
  );
  if (report.violations.length > 0) say(`violations:\n${describeViolations(report.violations)}`);
  process.stdout.write(`${JSON.stringify(report)}\n`);
  if (report.violations.length > 0) process.exitCode = 1;
});
