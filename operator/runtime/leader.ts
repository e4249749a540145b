// Leader election on a coordination.k8s.io/v1 Lease, after client-go's leaderelection: the leader renews
// every retry period; a candidate takes the lease once its holder has not renewed for the *holder's*
// leaseDurationSeconds; a leader that cannot renew within the renew deadline, or that finds another
// holder, stops leading at once (its deadline timer fires even while a renew call hangs). Every write
// carries the lease's resourceVersion, so two candidates can never both win.
import { CoordinationV1Api, V1MicroTime, type KubeConfig, type V1Lease } from '@kubernetes/client-node';
import { isConflict, isNotFound, apiMessage } from '../../lib/kube.ts';
import type { Logger } from '../../lib/log.ts';
import { requestTimeout } from './api.ts';
import { sleep } from '../../lib/watch/backoff.ts';

export interface LeaseTimings {
  leaseDurationMs: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
}

export const DEFAULT_LEASE_TIMINGS: LeaseTimings = {
  leaseDurationMs: 15_000,
  renewDeadlineMs: 10_000,
  retryPeriodMs: 2_000,
};

export interface LeaderElectorOptions extends LeaseTimings {
  kubeConfig: KubeConfig;
  namespace: string;
  name: string;
  identity: string;
  log: Logger;
  onStartedLeading: () => void;
  onStoppedLeading: () => void;
}

const timeOf = (t: unknown): number | undefined => {
  if (t instanceof Date) return t.getTime();
  const ms = typeof t === 'string' ? Date.parse(t) : NaN;
  return Number.isNaN(ms) ? undefined : ms;
};

/** When the holder's claim lapses: its last renewal plus its own leaseDurationSeconds. */
function leaseExpiry(lease: V1Lease): number | undefined {
  const spec = lease.spec ?? {};
  const renewed = timeOf(spec.renewTime) ?? timeOf(spec.acquireTime);
  return renewed === undefined ? undefined : renewed + (spec.leaseDurationSeconds ?? 15) * 1000;
}

/** Who may hold the lease now: this identity already does, nobody validly does, or someone else does. */
export function leaseState(lease: V1Lease, identity: string, now: number): 'mine' | 'free' | 'held' {
  const holder = lease.spec?.holderIdentity;
  if (!holder) return 'free';
  if (holder === identity) return 'mine';
  const expiry = leaseExpiry(lease);
  return expiry === undefined || expiry < now ? 'free' : 'held';
}

export class LeaderElector {
  private readonly api: CoordinationV1Api;
  private readonly stopping = new AbortController();
  private leading = false;
  private deadline?: NodeJS.Timeout;
  private observedExpiry?: number;
  private running?: Promise<void>;

  constructor(private readonly options: LeaderElectorOptions) {
    if (options.renewDeadlineMs >= options.leaseDurationMs)
      throw new Error('leader election: the renew deadline must be shorter than the lease duration');
    if (options.retryPeriodMs >= options.renewDeadlineMs)
      throw new Error('leader election: the retry period must be shorter than the renew deadline');
    this.api = options.kubeConfig.makeApiClient(CoordinationV1Api);
  }

  isLeader(): boolean {
    return this.leading;
  }

  start(): void {
    this.running ??= this.run();
  }

  /** Stops competing; a leader stops leading first and then hands the lease back so a successor need not wait. */
  async stop(): Promise<void> {
    this.stopping.abort();
    await this.running;
    if (this.leading) {
      this.lose('shutting down', 'info');
      await this.release().catch((err: unknown) =>
        this.options.log.warn('could not release the leader lease', { err: apiMessage(err) }),
      );
    }
  }

  private async run(): Promise<void> {
    const { log, retryPeriodMs } = this.options;
    const signal = this.stopping.signal;
    while (!signal.aborted) {
      let state: 'mine' | 'free' | 'held' | 'error';
      try {
        state = await this.tryAcquireOrRenew();
      } catch (err) {
        state = 'error';
        // Only the leader's failures matter: they count down to the renew deadline.
        log.log(this.leading ? 'warn' : 'debug', 'leader lease request failed', {
          lease: this.leaseRef(),
          err: apiMessage(err),
        });
      }
      if (signal.aborted) break;
      if (state === 'mine') this.renewed();
      else if (state === 'held' && this.leading) this.lose('the lease is held by another replica');
      await sleep(this.leading ? retryPeriodMs : this.candidateDelay(), signal);
    }
  }

  /**
   * A candidate retries with jitter so that replicas started together do not collide each time, but
   * wakes right when the holder's claim lapses, so that a dead leader is replaced within one lease period.
   */
  private candidateDelay(): number {
    const jittered = this.options.retryPeriodMs * (1 + 0.2 * Math.random());
    if (this.observedExpiry === undefined) return jittered;
    return Math.max(20, Math.min(jittered, this.observedExpiry - Date.now() + 5));
  }

  private renewed(): void {
    clearTimeout(this.deadline);
    this.deadline = setTimeout(
      () => this.lose(`no renewal within ${this.options.renewDeadlineMs} ms`),
      this.options.renewDeadlineMs,
    );
    this.deadline.unref();
    if (!this.leading) {
      this.leading = true;
      this.options.log.info('became leader', { lease: this.leaseRef(), identity: this.options.identity });
      this.options.onStartedLeading();
    }
  }

  private lose(reason: string, level: 'info' | 'warn' = 'warn'): void {
    clearTimeout(this.deadline);
    if (!this.leading) return;
    this.leading = false;
    this.options.log.log(level, 'stopped leading', { lease: this.leaseRef(), identity: this.options.identity, reason });
    this.options.onStoppedLeading();
  }

  private leaseRef(): string {
    return `${this.options.namespace}/${this.options.name}`;
  }

  private async tryAcquireOrRenew(): Promise<'mine' | 'held'> {
    const { namespace, name, identity, leaseDurationMs, renewDeadlineMs } = this.options;
    const timeout = requestTimeout(renewDeadlineMs / 2);
    const now = new V1MicroTime();
    const leaseDurationSeconds = Math.ceil(leaseDurationMs / 1000);
    let lease: V1Lease;
    try {
      lease = await this.api.readNamespacedLease({ name, namespace }, timeout);
    } catch (err) {
      if (!isNotFound(err)) throw err;
      try {
        await this.api.createNamespacedLease(
          {
            namespace,
            body: {
              metadata: { name, namespace },
              spec: {
                holderIdentity: identity,
                leaseDurationSeconds,
                acquireTime: now,
                renewTime: now,
                leaseTransitions: 0,
              },
            },
          },
          timeout,
        );
        return 'mine';
      } catch (createErr) {
        if (isConflict(createErr)) return 'held';
        if (isNotFound(createErr))
          throw new Error(`cannot create Lease ${this.leaseRef()}: namespace ${namespace} does not exist`, {
            cause: createErr,
          });
        throw createErr;
      }
    }
    const state = leaseState(lease, identity, Date.now());
    this.observedExpiry = state === 'held' ? leaseExpiry(lease) : undefined;
    if (state === 'held') return 'held';
    const spec = lease.spec ?? {};
    const takingOver = spec.holderIdentity !== identity;
    try {
      await this.api.replaceNamespacedLease(
        {
          name,
          namespace,
          body: {
            ...lease,
            spec: {
              ...spec,
              holderIdentity: identity,
              leaseDurationSeconds,
              renewTime: now,
              ...(takingOver ? { acquireTime: now, leaseTransitions: (spec.leaseTransitions ?? 0) + 1 } : {}),
            },
          },
        },
        timeout,
      );
      return 'mine';
    } catch (err) {
      if (isConflict(err)) return 'held';
      throw err;
    }
  }

  private async release(): Promise<void> {
    const { namespace, name, identity } = this.options;
    const timeout = requestTimeout(this.options.renewDeadlineMs / 2);
    const lease = await this.api.readNamespacedLease({ name, namespace }, timeout);
    if (lease.spec?.holderIdentity !== identity) return;
    const now = new V1MicroTime();
    await this.api.replaceNamespacedLease(
      {
        name,
        namespace,
        body: { ...lease, spec: { ...lease.spec, holderIdentity: '', leaseDurationSeconds: 1, renewTime: now } },
      },
      timeout,
    );
    this.options.log.info('released the leader lease', { lease: this.leaseRef() });
  }
}
