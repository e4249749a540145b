// The admission webhook process: serves every route on WEBHOOK_PORT, keeps its certificates in the
// Secret and the webhook configurations' caBundle in step with it.
//
// KUBECONFIG                    kubeconfig path; in-cluster service account when unset
// SPIDERPOOL_NAMESPACE          namespace of the Secret and the Service (default spiderpool)
// WEBHOOK_PORT                  listening port (default 5722)
// WEBHOOK_HOST                  listening address (default 0.0.0.0)
// WEBHOOK_URL_HOST              register by URL https://<host>:<port>/<path> (clusters without a Service network)
// WEBHOOK_SERVICE_NAME          otherwise register through this Service (default spiderpool-controller)
// WEBHOOK_SERVICE_PORT          the Service's port (default WEBHOOK_PORT)
// WEBHOOK_REGISTER              false: configurations come with the manifests; only their caBundle is kept (default true)
// WEBHOOK_CONFIGURATION_NAME    name of both webhook configurations (default spiderpool-controller)
// WEBHOOK_TLS_MODE              self-managed (default) | cert-manager
// WEBHOOK_TLS_SECRET            certificate Secret (default spiderpool-controller-webhook-tls)
// SPIDERPOOL_ENABLE_IPV4/IPV6   families the pool rules accept (default true)
// SPIDERPOOL_POD_WEBHOOK        false: no pod webhook (default true)
// MULTUS_CLUSTER_NETWORK        Multus' cluster network namespace/name, for the pod webhook
// LOG_LEVEL                     winston level (default info)
import { loadKubeConfig } from '../lib/kube.ts';
import { createLogger } from '../lib/log.ts';
import type { CertificateMode } from './certs/certificate-source.ts';
import { createRoutes } from './routes.ts';
import { startWebhooks } from './start.ts';

const env = (name: string, fallback: string): string => process.env[name] || fallback;
const flag = (name: string, fallback: boolean): boolean => {
  const value = env(name, String(fallback)).toLowerCase();
  if (value !== 'true' && value !== 'false') throw new Error(`environment variable ${name} must be true or false, got ${JSON.stringify(value)}`);
  return value === 'true';
};
const port = (name: string, fallback: number): number => {
  const value = Number(env(name, String(fallback)));
  if (!Number.isInteger(value) || value < 0 || value > 65535) throw new Error(`environment variable ${name} must be a port number, got ${JSON.stringify(process.env[name])}`);
  return value;
};

const log = createLogger('spiderpool-webhooks');
try {
  const namespace = env('SPIDERPOOL_NAMESPACE', 'spiderpool');
  const mode = env('WEBHOOK_TLS_MODE', 'self-managed');
  if (mode !== 'self-managed' && mode !== 'cert-manager') throw new Error(`environment variable WEBHOOK_TLS_MODE must be self-managed or cert-manager, got ${JSON.stringify(mode)}`);
  const listenPort = port('WEBHOOK_PORT', 5722);
  const urlHost = process.env.WEBHOOK_URL_HOST;
  const routes = createRoutes({
    rules: { enableIPv4: flag('SPIDERPOOL_ENABLE_IPV4', true), enableIPv6: flag('SPIDERPOOL_ENABLE_IPV6', true) },
    pod: flag('SPIDERPOOL_POD_WEBHOOK', true) && { installNamespace: namespace, ...(process.env.MULTUS_CLUSTER_NETWORK ? { multusClusterNetwork: process.env.MULTUS_CLUSTER_NETWORK } : {}) },
  });
  const webhooks = await startWebhooks({
    kubeConfig: loadKubeConfig(process.env.KUBECONFIG),
    routes,
    namespace,
    host: env('WEBHOOK_HOST', '0.0.0.0'),
    port: listenPort,
    serviceName: env('WEBHOOK_SERVICE_NAME', 'spiderpool-controller'),
    configurationName: env('WEBHOOK_CONFIGURATION_NAME', 'spiderpool-controller'),
    tls: { mode: mode as CertificateMode, secretName: env('WEBHOOK_TLS_SECRET', 'spiderpool-controller-webhook-tls') },
    register: !flag('WEBHOOK_REGISTER', true) ? undefined : urlHost ? { urlHost } : { service: { port: port('WEBHOOK_SERVICE_PORT', listenPort) } },
    log,
  });
  const shutdown = async () => {
    await webhooks.stop();
    log.info('admission webhooks stopped');
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown());
  process.on('SIGINT', () => void shutdown());
} catch (err) {
  log.error('admission webhooks failed to start', { err: err instanceof Error ? err.stack : String(err) });
  process.exit(1);
}
