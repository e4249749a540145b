// `kubectl spiderpool gc --dry-run`: what the controller's garbage collector would free if it ran now, and why,
// from its own decisions (operator/gc/decide.ts). The collector re-reads each suspect before it frees anything, so
// a record shown here may still be kept if its pod changes in between.
import type { ReleaseReason } from '../operator/gc/decide.ts';
import type { PluginCluster } from './cluster.ts';
import { PluginError } from './errors.ts';
import { objectKey, readInventory } from './inventory.ts';
import type { Report } from './output.ts';

const WHY: Record<ReleaseReason, string> = {
  InvalidRecord: 'the record names no pod or no UID',
  PodDeleted: 'the pod is gone',
  PodUIDMismatch: 'a pod of another UID has the name now',
  PodTerminatedPastGrace: 'the pod is terminating past its grace period',
  PodCompleted: 'the pod has completed',
  StatefulSetScaledDown: 'the StatefulSet was scaled below this ordinal',
  StatefulSetDeleted: 'the StatefulSet is gone',
  VirtualMachineDeleted: 'the VirtualMachine is gone',
};

export async function gcDryRun(cluster: PluginCluster, dryRun: boolean, graceMarginMs: number): Promise<Report> {
  if (!dryRun)
    throw new PluginError('gc only previews: pass --dry-run (the controller frees addresses, on its own schedule)');
  const inventory = await readInventory(cluster, graceMarginMs);
  const kept = new Map<string, number>();
  const records = inventory.records.flatMap((record) => {
    const decision = inventory.decideRecord(record);
    if (decision.action === 'keep') {
      kept.set(decision.reason, (kept.get(decision.reason) ?? 0) + 1);
      return [];
    }
    return [{ ...record, reason: decision.reason, why: WHY[decision.reason], deleteEndpoint: decision.deleteEndpoint }];
  });
  const endpoints = inventory.endpoints.flatMap((endpoint) =>
    inventory.decideEndpoint(endpoint).action === 'delete'
      ? [{ endpoint: objectKey(endpoint), podUid: endpoint.status?.current.uid ?? '' }]
      : [],
  );
  const keptText = [...kept].map(([reason, n]) => `${n} ${reason}`).join(', ');
  return {
    tables: [
      {
        headers: ['POOL', 'IP', 'POD', 'UID', 'REASON', 'ENDPOINT TOO'],
        rows: records.map((r) => [
          r.pool,
          r.ip,
          r.pod,
          r.podUid,
          `${r.reason}: ${r.why}`,
          r.deleteEndpoint ? 'yes' : 'no',
        ]),
      },
      {
        headers: ['ORPHANED ENDPOINT', 'UID'],
        rows: endpoints.map((e) => [e.endpoint, e.podUid]),
      },
    ],
    notes: [
      `${records.length} of ${inventory.records.length} records would be freed` +
        (keptText ? ` (kept: ${keptText})` : '') +
        `, ${endpoints.length} orphaned endpoint${endpoints.length === 1 ? '' : 's'} deleted`,
    ],
    data: { release: records, deleteEndpoints: endpoints, kept: Object.fromEntries(kept) },
    ok: true,
  };
}
