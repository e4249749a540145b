// One writer per SpiderIPPool per agent. Every allocation and release that arrives while a status write
// is in flight is folded into the next write, so N concurrent requests cost one read-modify-write instead
// of N (the apiserver manages about 100 writes/s on one object). Writes carry the resourceVersion they
// were computed from; a 409 means another agent wrote first, and the whole batch is recomputed.
import type { SpiderIPPool } from '../../api/v2beta1/types.ts';
import type { IPSet } from '../../lib/ip/index.ts';
import { isConflict } from '../../lib/kube.ts';
import { AgentFailure } from '../errors.ts';
import { applyOps, type OpOutcome, type PoolOp } from '../../ipam/pool-status.ts';
import { isNewer, updatePoolStatus, type PoolStatusClient } from '../../ipam/retry.ts';

export interface BatcherObserver {
  /** A refused write; `carried` holds the kinds of operation it carried (allocation or release conflicts). */
  conflict(pool: string, carried: ReadonlySet<PoolOp['kind']>): void;
  batch(pool: string, size: number): void;
  /** A read or write whose outcome is unknown (no answer in time, connection lost, 5xx): the pool is re-read. */
  unknown?(pool: string, err: unknown): void;
  /** Entries of allocatedIPs that are no pod's record (readRecords); they are left as they are. */
  malformed?(pool: string, problems: string[]): void;
}

export interface PoolBatcherOptions {
  client: PoolStatusClient;
  reserved: (pool: SpiderIPPool) => IPSet;
  /** Addresses other pools covering them have recorded (AllocationRules.elsewhere). */
  elsewhere?: (pool: SpiderIPPool) => IPSet;
  observer?: BatcherObserver;
  maxRecords?: number;
  /**
   * How long an allocation or rebind is retried through conflicting writes before it fails with RetriesExhausted,
   * counted from its own arrival: a request that joined a long-contended batch late goes on into the next batch.
   * A release is retried until it is written: each refusal is another writer's success, so the pool is live, and
   * a release given up would leave its record until the garbage collector comes by.
   */
  retryBudgetMs?: number;
  /** The deadline of each read and write of the pool (UpdateOptions.callTimeoutMs). */
  callTimeoutMs?: number;
  /** The pool as the agent's watch last delivered it: written from when it is newer than what a write knows. */
  watched?: () => SpiderIPPool | undefined;
}

/** How often a batch whose write has an unknown outcome is re-read and recomputed before its requests fail. */
const UNKNOWN_RETRIES = 2;

/**
 * How long a write of releases waits for releases on their way (expectRelease) to join it. A DEL reaches the pool at
 * the pace of the endpoint deletions, so without the wait a storm of DELs becomes a write per handful of releases,
 * each carrying the whole pool to etcd and to every agent's watch.
 */
export const RELEASE_LINGER_MS = 200;

/** An allocated address; `fresh` when this request took it, not when the pod UID already held it. */
export interface Allocated {
  ip: string;
  fresh: boolean;
}

/** A request waiting for the write that carries it; release and rebind resolve with their own address. */
interface Pending {
  op: PoolOp;
  resolve: (allocated: Allocated) => void;
  reject: (e: Error) => void;
  /**
   * The address an attempt took for this allocation. When that attempt's write has an unknown outcome and the
   * re-read shows the address held by the pod, it was still this request that took it.
   */
  tried?: string;
  /** When the request arrived (Date.now()). */
  since: number;
}

/** Thrown to an allocation when the pool has no address left; the caller moves on to its next pool. */
export class PoolExhausted extends Error {
  constructor(
    readonly pool: string,
    detail: string,
  ) {
    super(`IPPool ${pool}: all IP addresses used out (${detail})`);
  }
}

/** Thrown to a rebind when the address was freed and has since been given to another pod. */
export class AddressTaken extends AgentFailure {
  constructor(pool: string, ip: string, holder: string, wanted: string) {
    super('Internal', `IP ${ip} of IPPool ${pool} now belongs to ${holder}, not ${wanted}`);
  }
}

export class PoolBatcher {
  private pending: Pending[] = [];
  private running = false;
  private latest?: SpiderIPPool;
  /** Releases announced by expectRelease that have not arrived yet. */
  private coming = 0;
  /** Wakes a lingering write when a request arrives or an announced release arrives or is called off. */
  private wake?: () => void;

  constructor(
    readonly poolName: string,
    private readonly options: PoolBatcherOptions,
  ) {}

  /**
   * Takes the lowest free address for one NIC of the pod. A pod UID that already holds an address of this
   * pool for that NIC gets the same one back, so a retried ADD never takes a second address.
   */
  allocate(pod: string, podUid: string, nic: string): Promise<Allocated> {
    return new Promise((resolve, reject) =>
      this.enqueue({ op: { kind: 'allocate', pod, podUid, nic }, resolve, reject, since: Date.now() }),
    );
  }

  /** Frees the address if, and only if, it is still recorded for this pod UID; true when it was. */
  release(ip: string, podUid: string): Promise<boolean> {
    return new Promise((resolve, reject) =>
      this.enqueue({
        op: { kind: 'release', ip, podUid },
        resolve: ({ fresh }) => resolve(fresh),
        reject,
        since: Date.now(),
      }),
    );
  }

  /**
   * Records the address for the pod UID. Not `exclusive`: a record of the same pod name moves to the new UID (a
   * StatefulSet pod that was recreated). `exclusive`: the address must be free or already this UID's (a repeated
   * ADD restoring what its endpoint shows). Fails with AddressTaken otherwise.
   */
  rebind(ip: string, pod: string, podUid: string, exclusive = false): Promise<void> {
    return new Promise((resolve, reject) =>
      this.enqueue({
        op: { kind: 'rebind', ip, pod, podUid, exclusive },
        resolve: () => resolve(),
        reject,
        since: Date.now(),
      }),
    );
  }

  /**
   * Announces a release that will arrive shortly (its pod's endpoint is being deleted). Each announcement is ended by
   * `arrived`, called right before that release is made, or when it will not be.
   */
  expectRelease(): { arrived(): void } {
    this.coming++;
    let ended = false;
    return {
      arrived: () => {
        if (ended) return;
        ended = true;
        this.coming--;
        this.wake?.();
      },
    };
  }

  private enqueue(request: Pending): void {
    this.pending.push(request);
    this.wake?.();
    if (!this.running) void this.drain();
  }

  private async drain(): Promise<void> {
    this.running = true;
    try {
      while (this.pending.length) {
        // Checked here as well as in the wait: awaiting even a wait that returns at once would let requests that
        // arrive in the same tick join a write that would otherwise go alone.
        if (this.pending.every((p) => p.op.kind === 'release')) await this.lingerForReleases();
        await this.apply(this.pending.splice(0));
      }
    } finally {
      this.running = false;
    }
  }

  /** Waits up to RELEASE_LINGER_MS while announced releases have not arrived; a request that is no release ends it. */
  private async lingerForReleases(): Promise<void> {
    const until = Date.now() + RELEASE_LINGER_MS;
    while (this.coming > 0 && this.pending.every((p) => p.op.kind === 'release') && Date.now() < until) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, until - Date.now());
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wake = undefined;
    }
  }

  private async apply(batch: Pending[]): Promise<void> {
    const { client, observer, reserved, elsewhere, maxRecords, watched } = this.options;
    const budgetMs = this.options.retryBudgetMs ?? 30_000;
    const newer = (known: SpiderIPPool | undefined) => {
      const seen = watched?.();
      return seen && (!known || isNewer(seen, known)) ? seen : undefined;
    };
    let conflicts = 0;
    try {
      const updated = await updatePoolStatus(
        client,
        this.poolName,
        (pool, attempt) => {
          // Requests that arrived since the last attempt join the retry: its write carries them too.
          if (attempt > 0) batch.push(...this.pending.splice(0));
          const update = applyOps(
            pool,
            batch.map((b) => b.op),
            { reserved, elsewhere, maxRecords },
          );
          if (update.problems.length) observer?.malformed?.(this.poolName, update.problems);
          update.outcomes.forEach((o, i) => {
            if (o.kind === 'done' && o.changed && batch[i]!.op.kind === 'allocate') batch[i]!.tried = o.ip;
          });
          if (update.changed) observer?.batch(this.poolName, batch.length);
          return { next: update.changed ? update.pool : undefined, result: update.outcomes };
        },
        {
          policy: { budgetMs, firstPauseMs: 5, maxPauseMs: 100 },
          cached: newer(this.latest) ?? this.latest,
          newer,
          onConflict: () => {
            conflicts++;
            observer?.conflict(this.poolName, new Set(batch.map((b) => b.op.kind)));
          },
          callTimeoutMs: this.options.callTimeoutMs,
          unknownRetries: UNKNOWN_RETRIES,
          onUnknown: (err) => observer?.unknown?.(this.poolName, err),
        },
      );
      if (updated.gone) {
        this.latest = undefined;
        // A pool that is gone holds nothing: releasing from it is done, anything else cannot be.
        const gone = new AgentFailure('NoAvailablePool', `IPPool ${this.poolName} does not exist`);
        for (const { op, resolve, reject } of batch) {
          if (op.kind === 'release') resolve({ ip: op.ip, fresh: false });
          else reject(gone);
        }
        return;
      }
      this.latest = updated.pool;
      updated.result.forEach((outcome, i) => this.settle(batch[i]!, outcome));
    } catch (err) {
      this.latest = undefined;
      let failed = batch;
      if (isConflict(err)) {
        const now = Date.now();
        const [young, spent] = partition(batch, (b) => b.op.kind === 'release' || now - b.since < budgetMs);
        this.pending.unshift(...young);
        failed = spent;
      }
      const failure = isConflict(err)
        ? new AgentFailure(
            'RetriesExhausted',
            `exhaust all retries: ${conflicts} conflicting writes to IPPool ${this.poolName}`,
          )
        : err instanceof Error
          ? err
          : new Error(String(err));
      for (const { reject } of failed) reject(failure);
    }
  }

  private settle({ resolve, reject, tried }: Pending, outcome: OpOutcome): void {
    if (outcome.kind === 'done') resolve({ ip: outcome.ip, fresh: outcome.changed || outcome.ip === tried });
    else if (outcome.kind === 'exhausted') reject(new PoolExhausted(this.poolName, outcome.detail));
    else reject(new AddressTaken(this.poolName, outcome.ip, outcome.holder, outcome.wanted));
  }
}

function partition<T>(items: T[], keep: (item: T) => boolean): [T[], T[]] {
  const kept: T[] = [];
  const rest: T[] = [];
  for (const item of items) (keep(item) ? kept : rest).push(item);
  return [kept, rest];
}
