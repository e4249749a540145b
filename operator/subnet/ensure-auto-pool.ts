// One auto-created pool brought to its size (docs/auto-pools.md#carving). The subnet's ledger
// (status.controlledIPPools) is written with a resourceVersion precondition before a pool gains
// addresses, so concurrent carvers cannot hand out the same address; a pool loses addresses before the
// ledger releases them, and that pool write carries the pool's resourceVersion, which the agent's
// allocations also bump, so an address a pod has just been given is never dropped.
import { CustomObjectsApi } from '@kubernetes/client-node';
import { parseRecords, usedSet } from '../../ipam/records.ts';
import { AUTO_POOL_LABEL, GROUP, VERSION } from '../../api/v2beta1/constants.ts';
import { KINDS, type ApiKind } from '../../api/v2beta1/kinds.ts';
import type { SpiderIPPool, SpiderReservedIP, SpiderSubnet } from '../../api/v2beta1/types.ts';
import { IPSet, type Family } from '../../lib/ip/index.ts';
import { isConflict, orUndefined } from '../../lib/kube.ts';
import { applicationRecord, describeApp, type Application, type AutoPoolRequest } from './application.ts';
import { autoPoolName, newAutoPool, updatedAutoPool } from './auto-pool.ts';
import { carvableIPs, resize, subnetFamily } from './carve.ts';
import {
  entryIPs,
  parseControlledPools,
  reservedIPs,
  subnetStatusFor,
  type ControlledPools,
} from './controlled-pools.ts';

/** What the caller should do next. */
export type EnsureOutcome =
  | { kind: 'done'; pool: string }
  /** The pool cannot be made or sized now; `reason` is the Event reason, `message` says why. */
  | { kind: 'wait' | 'stop'; reason: string; message: string };

/** The cached view the carver needs besides the fresh reads it makes itself. */
export interface CarveView {
  pools(): SpiderIPPool[];
  reservedIPs(): SpiderReservedIP[];
}

const CONFLICT_RETRIES = 8;

export class AutoPoolWriter {
  constructor(
    private readonly custom: CustomObjectsApi,
    private readonly view: CarveView,
  ) {}

  /**
   * Sizes the application's pool for one NIC and family, creating it when `poolName` is undefined.
   * Conflicts are retried on fresh reads a few times, then thrown so the work queue retries later.
   */
  async ensure(app: Application, req: AutoPoolRequest, poolName: string | undefined): Promise<EnsureOutcome> {
    return await retryConflicts(() => this.attempt(app, req, poolName));
  }

  /**
   * Drops the subnet's records of the application (`record`) for pools other than `keep`: pools that
   * are gone, or were reserved for but never made. Only the application's own reconcile calls this, so
   * no carve for the same application can run meanwhile.
   */
  async forget(subnetName: string, record: string, keep: ReadonlySet<string>): Promise<void> {
    await retryConflicts(async () => {
      const subnet = await this.read<SpiderSubnet>(KINDS.SpiderSubnet, subnetName);
      if (!subnet) return;
      const ledger = parseControlledPools(subnet);
      const next = new Map([...ledger].filter(([name, entry]) => entry.application !== record || keep.has(name)));
      if (next.size !== ledger.size) await this.writeLedger(subnet, next);
    });
  }

  private async attempt(app: Application, req: AutoPoolRequest, poolName: string | undefined): Promise<EnsureOutcome> {
    const what = `${describeApp(app)} (${req.nic} IPv${req.family})`;
    const subnet = await this.read<SpiderSubnet>(KINDS.SpiderSubnet, req.subnet);
    if (!subnet)
      return {
        kind: 'wait',
        reason: 'SubnetNotFound',
        message: `SpiderSubnet "${req.subnet}" named by the pod template of ${what} does not exist`,
      };
    if (subnet.metadata.deletionTimestamp) {
      return {
        kind: 'wait',
        reason: 'SubnetTerminating',
        message: `SpiderSubnet "${req.subnet}" named by the pod template of ${what} is being deleted`,
      };
    }
    const family = subnetFamily(subnet);
    if (family !== req.family) {
      return {
        kind: 'stop',
        reason: 'WrongSubnetFamily',
        message: `the pod template of ${what} names SpiderSubnet "${req.subnet}" as IPv${req.family}, but it is IPv${family}`,
      };
    }
    // Without a known pool, the name it would get is read too: an earlier attempt may have created it
    // and lost the answer.
    const pool = await this.read<SpiderIPPool>(KINDS.SpiderIPPool, poolName ?? autoPoolName(app, req.nic, req.family));
    if (pool && pool.metadata.labels?.[AUTO_POOL_LABEL.ownerApplicationUID] !== app.uid && poolName === undefined) {
      return {
        kind: 'stop',
        reason: 'IPPoolNameTaken',
        message: `SpiderIPPool "${pool.metadata.name}", the name of the auto-created pool of ${what}, belongs to something else; delete or rename it`,
      };
    }
    if (pool?.metadata.deletionTimestamp) {
      return {
        kind: 'wait',
        reason: 'IPPoolTerminating',
        message: `the auto-created IPPool "${pool.metadata.name}" of ${what} is being deleted; a new one is made once it is gone`,
      };
    }
    if (pool && pool.spec.subnet !== subnet.spec.subnet) {
      return {
        kind: 'stop',
        reason: 'ApplicationSubnetChanged',
        message: `${what} has the auto-created IPPool "${pool.metadata.name}" in ${pool.spec.subnet}, but its pod template now names SpiderSubnet "${req.subnet}" (${subnet.spec.subnet}); an application cannot change its subnet, recreate it instead`,
      };
    }
    const name = pool?.metadata.name ?? autoPoolName(app, req.nic, req.family);
    const ledger = parseControlledPools(subnet);
    const reserved = entryIPs(subnet, ledger.get(name));
    const current = pool ? IPSet.fromRanges(pool.spec.ips ?? [], family) : IPSet.empty(family);
    const others = reservedIPs(subnet, ledger, name).union(this.otherPoolsIPs(subnet, name, family));
    const strays = current.subtract(reserved).intersect(others);
    if (!strays.isEmpty()) {
      return {
        kind: 'stop',
        reason: 'IPPoolOverlaps',
        message: `the auto-created IPPool "${name}" of ${what} holds ${strays.toRanges().join(',')}, which SpiderSubnet "${req.subnet}" has given to other pools; remove them from the pool`,
      };
    }
    const held = reserved.union(current);
    const free = carvableIPs(subnet).subtract(others).subtract(this.reservedByReservedIPs(family));
    const allocated = pool ? usedSet(family, parseRecords(pool)) : IPSet.empty(family);
    const next = resize(held, req.size, free, allocated);
    if (!next.ok && next.reason === 'exhausted') {
      return {
        kind: 'wait',
        reason: 'SubnetExhausted',
        message: `SpiderSubnet "${req.subnet}" cannot supply ${what}: the pool needs ${req.size} addresses (${req.ipNumber.startsWith('+') ? `${app.replicas} replicas, ippool-ip-number ${req.ipNumber}` : `fixed by ippool-ip-number ${req.ipNumber}`}), ${next.missing} more than it holds, but only ${next.free} are free`,
      };
    }
    if (!next.ok) {
      return {
        kind: 'wait',
        reason: 'IPPoolShrinkBlocked',
        // No counts of free addresses here: they change with every pod that goes, and each change would be a new event.
        message: `the auto-created IPPool "${name}" of ${what} must drop ${next.excess} addresses to shrink to ${req.size}, but pods still use some of them (IPPool available free IPs are not enough); it shrinks as pods release theirs`,
      };
    }
    const entry = { ips: next.ips.toRanges(), application: applicationRecord(app) };
    const ledgerChanged = !reserved.equals(next.ips) || ledger.get(name)?.application !== entry.application;
    const writeLedger = async (): Promise<void> => {
      if (ledgerChanged) await this.writeLedger(subnet, new Map(ledger).set(name, entry));
    };
    if (!next.ips.containsSet(current)) {
      await this.writePool(pool, name, app, req, subnet, next.ips);
      await writeLedger();
    } else {
      await writeLedger();
      await this.writePool(pool, name, app, req, subnet, next.ips);
    }
    return { kind: 'done', pool: name };
  }

  /** Addresses of the other pools of the subnet's CIDR, whether or not the ledger lists them yet. */
  private otherPoolsIPs(subnet: SpiderSubnet, except: string, family: Family): IPSet {
    let set = IPSet.empty(family);
    for (const pool of this.view.pools()) {
      if (pool.metadata.name === except || pool.spec.subnet !== subnet.spec.subnet) continue;
      set = set.union(
        IPSet.fromRanges(pool.spec.ips ?? [], family).subtract(IPSet.fromRanges(pool.spec.excludeIPs ?? [], family)),
      );
    }
    return set;
  }

  private reservedByReservedIPs(family: Family): IPSet {
    let set = IPSet.empty(family);
    for (const r of this.view.reservedIPs()) {
      if (r.metadata.deletionTimestamp || (r.spec.ipVersion ?? family) !== family) continue;
      const ips = (r.spec.ips ?? []).filter((ip) => ip.includes(':') === (family === 6));
      set = set.union(IPSet.fromRanges(ips, family));
    }
    return set;
  }

  private async writeLedger(subnet: SpiderSubnet, ledger: ControlledPools): Promise<void> {
    const status = subnetStatusFor(subnet, ledger);
    await this.custom.replaceClusterCustomObjectStatus({
      group: GROUP,
      version: VERSION,
      plural: KINDS.SpiderSubnet.plural,
      name: subnet.metadata.name,
      body: { ...subnet, status },
    });
  }

  private async writePool(
    pool: SpiderIPPool | undefined,
    name: string,
    app: Application,
    req: AutoPoolRequest,
    subnet: SpiderSubnet,
    ips: IPSet,
  ): Promise<void> {
    if (!pool) {
      await this.custom.createClusterCustomObject({
        group: GROUP,
        version: VERSION,
        plural: KINDS.SpiderIPPool.plural,
        body: newAutoPool(name, app, req, subnet, ips.toRanges()),
      });
      return;
    }
    const updated = updatedAutoPool(pool, app, req, subnet, ips);
    if (updated)
      await this.custom.replaceClusterCustomObject({
        group: GROUP,
        version: VERSION,
        plural: KINDS.SpiderIPPool.plural,
        name,
        body: updated,
      });
  }

  /** Read from the apiserver, not the cache, which may not show yet what an earlier attempt wrote. */
  private async read<T>(kind: ApiKind, name: string): Promise<T | undefined> {
    return await orUndefined(
      this.custom.getClusterCustomObject({ group: GROUP, version: VERSION, plural: kind.plural, name }) as Promise<T>,
    );
  }
}

async function retryConflicts<T>(fn: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (!isConflict(err) || attempt >= CONFLICT_RETRIES) throw err;
      await new Promise((r) => setTimeout(r, Math.random() * 20 * attempt));
    }
  }
}
