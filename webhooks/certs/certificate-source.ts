// Where the serving certificate comes from: the certificate Secret, followed with a watch. In the
// self-managed mode this process also creates and renews the Secret; in the cert-manager mode it only
// reads what cert-manager (or whoever provides the Secret) writes there.
import { CoreV1Api, type KubeConfig, type V1Secret } from '@kubernetes/client-node';
import type { Logger } from '../../lib/log.ts';
import { isNotFound } from '../../lib/kube.ts';
import { Informer } from '../../lib/watch/informer.ts';
import { parseCertificateSecret, sameCertificates, type CertificateSecret } from './secret.ts';
import { ensureSelfManagedSecret, renewalDue, type SelfManagedOptions } from './self-managed.ts';

export type CertificateMode = 'self-managed' | 'cert-manager';

export interface CertificateSourceOptions extends SelfManagedOptions {
  mode: CertificateMode;
}

// setTimeout holds at most 2^31-1 ms; a far renewal is re-checked daily instead.
const MAX_TIMER_MS = 86_400_000;

export class CertificateSource {
  private readonly core: CoreV1Api;
  private current?: CertificateSecret;
  private watch?: Informer<V1Secret>;
  private renewTimer?: ReturnType<typeof setTimeout>;
  private chain: Promise<void> = Promise.resolve();
  private stopped = false;
  private onChange: (next: CertificateSecret, previous: CertificateSecret) => Promise<void> = async () => undefined;

  constructor(
    private readonly kubeConfig: KubeConfig,
    private readonly options: CertificateSourceOptions,
    private readonly log: Logger,
  ) {
    this.core = kubeConfig.makeApiClient(CoreV1Api);
  }

  get certificates(): CertificateSecret {
    if (!this.current) throw new Error('the certificate source has not started');
    return this.current;
  }

  /**
   * Resolves with the certificates once the Secret holds usable ones; afterwards `onChange` runs, one
   * call at a time, for every different set the Secret comes to hold.
   */
  async start(
    onChange: (next: CertificateSecret, previous: CertificateSecret) => Promise<void>,
  ): Promise<CertificateSecret> {
    this.onChange = onChange;
    this.current =
      this.options.mode === 'self-managed'
        ? await ensureSelfManagedSecret(this.core, this.options, this.log)
        : await this.waitForProvidedSecret();
    this.scheduleRenewal();
    const { namespace, secretName } = this.options;
    this.watch = new Informer<V1Secret>({
      kind: {
        group: '',
        version: 'v1',
        plural: 'secrets',
        kind: 'Secret',
        namespaced: true,
        namespace,
        fieldSelector: `metadata.name=${secretName}`,
      },
      kubeConfig: this.kubeConfig,
      log: this.log,
    });
    this.watch.onChange(({ after: secret }) => {
      this.enqueue(async () => {
        const next = secret ? this.usable(secret) : undefined;
        if (next) return this.adopt(next);
        if (this.options.mode === 'self-managed')
          return this.adopt(await ensureSelfManagedSecret(this.core, this.options, this.log));
        if (!secret)
          this.log.warn('the certificate Secret was deleted; serving the last certificates until it is back', {
            namespace,
            name: secretName,
          });
      });
    });
    this.watch.start();
    return this.current;
  }

  stop(): void {
    this.stopped = true;
    void this.watch?.stop();
    clearTimeout(this.renewTimer);
  }

  private enqueue(work: () => Promise<void>): void {
    this.chain = this.chain.then(work).catch((err: unknown) => {
      this.log.error('could not apply the certificate Secret', {
        namespace: this.options.namespace,
        name: this.options.secretName,
        err: String(err),
      });
    });
  }

  private usable(secret: V1Secret): CertificateSecret | undefined {
    try {
      return parseCertificateSecret(secret);
    } catch (err) {
      this.log.error('the certificate Secret is unusable', { err: (err as Error).message });
      return undefined;
    }
  }

  private async adopt(next: CertificateSecret): Promise<void> {
    const previous = this.certificates;
    if (this.stopped || sameCertificates(previous, next)) return;
    this.current = next;
    this.log.info('the certificate Secret changed', {
      namespace: this.options.namespace,
      name: this.options.secretName,
      resourceVersion: next.resourceVersion,
    });
    this.scheduleRenewal();
    await this.onChange(next, previous);
  }

  private scheduleRenewal(minimumMs = 0): void {
    clearTimeout(this.renewTimer);
    if (this.options.mode !== 'self-managed' || this.stopped) return;
    const due = renewalDue(this.certificates, this.options).getTime() - Date.now();
    this.renewTimer = setTimeout(
      () =>
        this.enqueue(async () => {
          const renewed = await ensureSelfManagedSecret(this.core, this.options, this.log);
          // Nothing to renew yet (a daily re-check, or clocks disagree): look again later, not in a loop.
          if (sameCertificates(renewed, this.certificates)) this.scheduleRenewal(60_000);
          else await this.adopt(renewed);
        }),
      Math.max(minimumMs, Math.min(due, MAX_TIMER_MS)),
    );
  }

  private async waitForProvidedSecret(): Promise<CertificateSecret> {
    const { namespace, secretName: name } = this.options;
    for (let waited = 0; !this.stopped; waited++) {
      try {
        const parsed = this.usable(await this.core.readNamespacedSecret({ namespace, name }));
        if (parsed) return parsed;
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
      if (waited % 30 === 0)
        this.log.info('waiting for the certificate Secret that cert-manager maintains', { namespace, name });
      await new Promise((r) => setTimeout(r, 1000));
    }
    throw new Error(`stopped while waiting for Secret ${namespace}/${name}`);
  }
}
