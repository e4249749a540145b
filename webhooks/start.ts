// Starts the admission webhooks: certificates from the Secret, the HTTPS server, the webhook
// configurations (optionally registered here) and the loops that keep the three in agreement.
import { isIPv6 } from 'node:net';
import type { KubeConfig } from '@kubernetes/client-node';
import { CONTROLLER_NAME, INSTALL_NAMESPACE } from '../api/v2beta1/constants.ts';
import { createLogger, type Logger } from '../lib/log.ts';
import { CABundleInjector } from './certs/ca-injector.ts';
import { CertificateSource, type CertificateMode } from './certs/certificate-source.ts';
import { splitPem, type CertificateSecret } from './certs/secret.ts';
import { AdmittedWrites } from './admitted-writes.ts';
import { createCachedClusterView, type CachedClusterView } from './cached-view.ts';
import { createClusterView } from './cluster-view.ts';
import { WebhookMetrics } from './metrics.ts';
import { applyWebhookConfigurations, buildWebhookConfigurations, type WebhookTarget } from './registration.ts';
import { WebhookServer, type ServingCertificate } from './server/server.ts';
import type { ClusterView, WebhookRoute } from './types.ts';

export interface WebhookTLSOptions {
  /** `self-managed` (default): generate, store and renew in the Secret. `cert-manager`: only read the Secret. */
  mode?: CertificateMode;
  /** Default `spiderpool-controller-webhook-tls`. */
  secretName?: string;
  /** More SANs for the serving certificate besides 127.0.0.1, localhost and the Service names. */
  extraHosts?: string[];
  caValiditySeconds?: number;
  certValiditySeconds?: number;
  renewBeforeSeconds?: number;
  /**
   * How long a new CA is left to reach every apiserver before this replica serves a certificate signed
   * by it. Default 3000 ms.
   */
  caPropagationMs?: number;
  /** How long a CA that left the Secret stays trusted in the caBundles. Default 120000 ms. */
  caGraceMs?: number;
}

export interface StartWebhooksOptions {
  kubeConfig: KubeConfig;
  routes: WebhookRoute[];
  /**
   * What every route reads. Default: consistent apiserver reads (createClusterView), and for routes with
   * cachedReads or provenReads the caches of createCachedClusterView. Given, no route reads caches.
   */
  cluster?: ClusterView;
  /** Namespace of the Secret and the Service. Default `spiderpool`. */
  namespace?: string;
  /** Default 0.0.0.0. */
  host?: string;
  /** Default 0: a free port. */
  port?: number;
  /** Service in front of the replicas; its DNS names go into the certificate. Default `spiderpool-controller`. */
  serviceName?: string;
  tls?: WebhookTLSOptions;
  /** Name of both webhook configurations whose caBundle is kept in sync. Default `spiderpool-controller`. */
  configurationName?: string;
  /**
   * Create or overwrite the configurations from the routes, pointing at https://urlHost:urlPort (default:
   * the listening port) or at the Service. Without it the configurations are expected to exist (installed with
   * the manifests) and only their caBundle is maintained.
   */
  register?: { urlHost: string; urlPort?: number } | { service: { port?: number } };
  metrics?: WebhookMetrics;
  log?: Logger;
  /** How long a note of an admitted write is trusted (webhooks/admitted-writes.ts); shorter only in tests. */
  admittedWritesHorizonMs?: number;
}

export interface Webhooks {
  readonly port: number;
  readonly metrics: WebhookMetrics;
  readonly configurationName: string;
  /** The certificates this replica presents now (taken from the Secret). */
  certificates(): CertificateSecret;
  stop(): Promise<void>;
}

const serving = (cert: CertificateSecret): ServingCertificate => ({ key: cert.serving.key, cert: cert.serving.cert });

export async function startWebhooks(options: StartWebhooksOptions): Promise<Webhooks> {
  const log = options.log ?? createLogger('webhooks');
  const namespace = options.namespace ?? INSTALL_NAMESPACE;
  const serviceName = options.serviceName ?? CONTROLLER_NAME;
  const configurationName = options.configurationName ?? CONTROLLER_NAME;
  const tls = options.tls ?? {};
  const metrics = options.metrics ?? new WebhookMetrics();
  const urlHost = options.register && 'urlHost' in options.register ? options.register.urlHost : undefined;
  const hosts = [
    ...new Set([
      '127.0.0.1',
      'localhost',
      `${serviceName}.${namespace}.svc`,
      `${serviceName}.${namespace}.svc.cluster.local`,
      ...(urlHost ? [urlHost] : []),
      ...(tls.extraHosts ?? []),
    ]),
  ];

  const source = new CertificateSource(
    options.kubeConfig,
    {
      mode: tls.mode ?? 'self-managed',
      namespace,
      secretName: tls.secretName ?? 'spiderpool-controller-webhook-tls',
      hosts,
      caValiditySeconds: tls.caValiditySeconds,
      certValiditySeconds: tls.certValiditySeconds,
      renewBeforeSeconds: tls.renewBeforeSeconds,
    },
    log,
  );
  const injector = new CABundleInjector(options.kubeConfig, configurationName, log, tls.caGraceMs);
  let server: WebhookServer | undefined;
  let served: CertificateSecret | undefined;
  let caches: CachedClusterView | undefined;
  const stop = async () => {
    source.stop();
    injector.stop();
    await server?.close();
    await caches?.stop();
  };

  try {
    served = await source.start(async (next, previous) => {
      // Trust first, serve second: the new CA goes into the caBundles (the old one stays for a grace
      // period) and reaches the apiservers before this replica presents a certificate signed by it.
      await injector.inject(next.caBundle);
      const newCA = splitPem(next.caBundle).some((pem) => !splitPem(previous.caBundle).includes(pem));
      if (newCA) await new Promise((r) => setTimeout(r, tls.caPropagationMs ?? 3000));
      server?.setCertificate(serving(next));
      served = next;
      log.info('serving the certificate from the Secret', { resourceVersion: next.resourceVersion });
    });
    const consistent = options.cluster ?? createClusterView(options.kubeConfig);
    const admitted = new AdmittedWrites(options.kubeConfig, namespace);
    if (!options.cluster && options.routes.some((r) => r.cachedReads || r.provenReads)) {
      caches = createCachedClusterView(options.kubeConfig, log, consistent, {
        admitted,
        onRead: (source) => metrics.read(source),
        ...(options.admittedWritesHorizonMs ? { horizonMs: options.admittedWritesHorizonMs } : {}),
      });
      // The record vouches for caches only a horizon after it was first written: start that clock now.
      await admitted.ensure().catch((err: unknown) =>
        log.warn('cannot create the record of admitted writes; pool and subnet checks read from the apiserver', {
          err: String(err),
        }),
      );
    }
    server = new WebhookServer({
      routes: options.routes,
      cluster: consistent,
      ...(caches
        ? { cachedCluster: caches.view, proven: { cluster: caches.proven, note: (w) => admitted.note(w) } }
        : {}),
      metrics,
      log,
      certificate: serving(served),
      host: options.host,
      port: options.port ?? 0,
    });
    const port = await server.listen();
    if (options.register) {
      const target: WebhookTarget =
        'urlHost' in options.register
          ? {
              url: `https://${isIPv6(options.register.urlHost) ? `[${options.register.urlHost}]` : options.register.urlHost}:${options.register.urlPort ?? port}`,
            }
          : { service: { namespace, name: serviceName, port: options.register.service.port ?? port } };
      await applyWebhookConfigurations(
        options.kubeConfig,
        configurationName,
        buildWebhookConfigurations(configurationName, options.routes, target, served.caBundle),
      );
    }
    await injector.inject(served.caBundle);
    log.info('admission webhooks serving', { port, routes: options.routes.map((r) => r.path), configurationName });
    return { port, metrics, configurationName, certificates: () => served as CertificateSecret, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
