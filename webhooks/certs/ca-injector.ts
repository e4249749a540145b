// Keeps clientConfig.caBundle of every webhook in the named Mutating/ValidatingWebhookConfiguration equal
// to the certificate Secret's ca.crt. A CA that leaves the Secret stays in the bundles for a grace period,
// so replicas still serving a certificate of the old CA stay trusted while they switch. Replicas agree:
// all add only the Secret's CAs and all remove only CAs absent from it, each after its own grace period,
// so they never undo each other's writes. Someone overwriting a bundle (a Helm upgrade) is corrected
// from the watch.
import type {
  KubeConfig,
  V1MutatingWebhookConfiguration,
  V1ValidatingWebhookConfiguration,
} from '@kubernetes/client-node';
import { isConflict } from '../../lib/kube.ts';
import type { Logger } from '../../lib/log.ts';
import { Informer } from '../../lib/watch/informer.ts';
import type { Kind } from '../../lib/watch/kind.ts';
import { WebhookConfigurationClient } from '../registration.ts';
import { splitPem } from './secret.ts';

const admission = (plural: string, kind: string): Kind => ({
  group: 'admissionregistration.k8s.io',
  version: 'v1',
  plural,
  kind,
  namespaced: false,
});
const KINDS = [
  { kind: 'mutating', resource: admission('mutatingwebhookconfigurations', 'MutatingWebhookConfiguration') },
  { kind: 'validating', resource: admission('validatingwebhookconfigurations', 'ValidatingWebhookConfiguration') },
] as const;

type Configuration = V1MutatingWebhookConfiguration | V1ValidatingWebhookConfiguration;

const decodeBundle = (b64: string | undefined) => splitPem(b64 ? Buffer.from(b64, 'base64').toString('utf8') : '');
const sameSet = (a: string[], b: string[]) => a.length === b.length && a.every((x) => b.includes(x));

export class CABundleInjector {
  private readonly client: WebhookConfigurationClient;
  private readonly staleSince = new Map<string, number>();
  private readonly watches: Informer<Configuration>[] = [];
  private required: string[] = [];
  private chain: Promise<void> = Promise.resolve();
  private graceTimer?: ReturnType<typeof setTimeout>;
  private stopped = false;

  constructor(
    private readonly kubeConfig: KubeConfig,
    private readonly name: string,
    private readonly log: Logger,
    private readonly graceMs = 120_000,
  ) {
    this.client = new WebhookConfigurationClient(kubeConfig);
  }

  /** Sets the bundle the configurations must trust and waits until they do (or the attempt failed). */
  async inject(caBundle: string): Promise<void> {
    this.required = splitPem(caBundle);
    for (const pem of this.required) this.staleSince.delete(pem);
    if (this.watches.length === 0 && !this.stopped) {
      for (const { resource } of KINDS) {
        const watch = new Informer<Configuration>({
          kind: { ...resource, fieldSelector: `metadata.name=${this.name}` },
          kubeConfig: this.kubeConfig,
          log: this.log,
        });
        watch.onChange(({ after }) => {
          if (after) void this.reconcile();
        });
        watch.start();
        this.watches.push(watch);
      }
    }
    await this.reconcile();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.graceTimer);
    for (const w of this.watches) void w.stop();
  }

  /** Serialised: overlapping triggers run one after the other, each reading the objects afresh. */
  reconcile(): Promise<void> {
    this.chain = this.chain
      .then(() => this.reconcileOnce())
      .catch((err: unknown) => {
        this.log.warn('could not update the caBundle of the webhook configurations', {
          name: this.name,
          err: String(err),
        });
      });
    return this.chain;
  }

  private async reconcileOnce(): Promise<void> {
    if (this.stopped || this.required.length === 0) return;
    const now = Date.now();
    let nextExpiry = Infinity;
    const desiredFor = (current: string[]) => {
      const kept = current
        .filter((pem) => !this.required.includes(pem))
        .filter((pem) => {
          const since = this.staleSince.get(pem) ?? now;
          this.staleSince.set(pem, since);
          if (now - since >= this.graceMs) return false;
          nextExpiry = Math.min(nextExpiry, since + this.graceMs);
          return true;
        });
      return [...this.required, ...kept];
    };
    for (const { kind } of KINDS) {
      for (let attempt = 1; attempt <= 5; attempt++) {
        const config = await this.client.read(kind, this.name);
        if (!config?.webhooks?.length) break;
        let changed = false;
        for (const webhook of config.webhooks) {
          const current = decodeBundle(webhook.clientConfig.caBundle);
          const desired = desiredFor(current);
          if (sameSet(current, desired)) continue;
          webhook.clientConfig.caBundle = Buffer.from(desired.join('')).toString('base64');
          changed = true;
        }
        if (!changed) break;
        try {
          await this.client.replace(kind, config);
          this.log.info('updated the caBundle of a webhook configuration', {
            kind,
            name: this.name,
            trusted: this.required.length,
          });
          break;
        } catch (err) {
          if (!isConflict(err) || attempt === 5) throw err;
        }
      }
    }
    clearTimeout(this.graceTimer);
    if (nextExpiry !== Infinity && !this.stopped)
      this.graceTimer = setTimeout(() => void this.reconcile(), nextExpiry - Date.now() + 50);
  }
}
