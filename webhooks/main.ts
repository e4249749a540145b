// The admission webhook process: serves every route on WEBHOOK_PORT, keeps its certificates in the
// Secret and the webhook configurations' caBundle in step with it. Besides /healthz and /metrics on the
// HTTPS port (what the apiserver-facing probes use), it serves /metrics, /healthz and /readyz over plain
// HTTP on WEBHOOK_METRICS_PORT, like the agent and the controller; ready once it serves with a certificate.
//
// KUBECONFIG                    kubeconfig path; in-cluster service account when unset
// SPIDERPOOL_NAMESPACE          namespace of the Secret and the Service (default spiderpool)
// WEBHOOK_PORT                  listening port (default 5722)
// WEBHOOK_HOST                  listening address of both ports (default 0.0.0.0)
// WEBHOOK_METRICS_PORT          plain-HTTP /metrics, /healthz and /readyz (default 5723)
// WEBHOOK_URL_HOST              register by URL https://<host>:<port>/<path> (clusters without a Service network)
// WEBHOOK_SERVICE_NAME          otherwise register through this Service (default spiderpool-controller)
// WEBHOOK_SERVICE_PORT          the Service's port (default WEBHOOK_PORT)
// WEBHOOK_REGISTER              false: configurations come with the manifests, only their caBundle is kept
//                               (default true)
// WEBHOOK_CONFIGURATION_NAME    name of both webhook configurations (default spiderpool-controller)
// WEBHOOK_TLS_MODE              self-managed (default) | cert-manager
// WEBHOOK_TLS_SECRET            certificate Secret (default spiderpool-controller-webhook-tls)
// SPIDERPOOL_ENABLE_IPV4/IPV6   families the pool rules accept (default true)
// SPIDERPOOL_POD_WEBHOOK        false: no pod webhook (default true)
// MULTUS_CLUSTER_NETWORK        Multus' cluster network namespace/name, for the pod webhook
// LOG_LEVEL                     winston level (default info)
// SPIDERPOOL_CONFIG_PATH        a conf.yml the settings above may come from (lib/daemon/config.ts)
import { CONTROLLER_NAME } from '../api/v2beta1/constants.ts';
import { CLUSTER_SETTINGS, setting } from '../lib/daemon/config.ts';
import { runDaemon } from '../lib/daemon/daemon.ts';
import { loadKubeConfig } from '../lib/kube.ts';
import { WebhookMetrics } from './metrics.ts';
import { createRoutes } from './routes.ts';
import { startWebhooks } from './start.ts';

await runDaemon({
  name: 'spiderpool-webhooks',
  settings: {
    ...CLUSTER_SETTINGS,
    port: setting.port({ env: 'WEBHOOK_PORT', default: 5722 }),
    host: setting.string({ env: 'WEBHOOK_HOST', default: '0.0.0.0' }),
    metricsPort: setting.port({ env: 'WEBHOOK_METRICS_PORT', default: 5723 }),
    urlHost: setting.optional(setting.string({ env: 'WEBHOOK_URL_HOST' })),
    serviceName: setting.string({ env: 'WEBHOOK_SERVICE_NAME', default: CONTROLLER_NAME }),
    servicePort: setting.optional(setting.port({ env: 'WEBHOOK_SERVICE_PORT' })),
    register: setting.boolean({ env: 'WEBHOOK_REGISTER', default: true }),
    configurationName: setting.string({ env: 'WEBHOOK_CONFIGURATION_NAME', default: CONTROLLER_NAME }),
    tlsMode: setting.oneOf(['self-managed', 'cert-manager'], { env: 'WEBHOOK_TLS_MODE', default: 'self-managed' }),
    tlsSecret: setting.string({ env: 'WEBHOOK_TLS_SECRET', default: 'spiderpool-controller-webhook-tls' }),
    enableIPv4: setting.boolean({ env: 'SPIDERPOOL_ENABLE_IPV4', key: 'enableIPv4', default: true }),
    enableIPv6: setting.boolean({ env: 'SPIDERPOOL_ENABLE_IPV6', key: 'enableIPv6', default: true }),
    podWebhook: setting.boolean({ env: 'SPIDERPOOL_POD_WEBHOOK', default: true }),
    multusClusterNetwork: setting.optional(setting.string({ env: 'MULTUS_CLUSTER_NETWORK', key: 'clusterNetwork' })),
  },
  health: (config) => ({ port: config.metricsPort, host: config.host }),
  async start({ config, log, registry }) {
    const routes = createRoutes({
      rules: { enableIPv4: config.enableIPv4, enableIPv6: config.enableIPv6 },
      pod: config.podWebhook && {
        installNamespace: config.namespace,
        multusClusterNetwork: config.multusClusterNetwork,
      },
    });
    const register = !config.register
      ? undefined
      : config.urlHost
        ? { urlHost: config.urlHost }
        : { service: { port: config.servicePort ?? config.port } };
    // Resolves once the certificate is in the Secret, the HTTPS server listens and the caBundles trust it.
    const webhooks = await startWebhooks({
      kubeConfig: loadKubeConfig(config.kubeconfig),
      routes,
      namespace: config.namespace,
      host: config.host,
      port: config.port,
      serviceName: config.serviceName,
      configurationName: config.configurationName,
      tls: { mode: config.tlsMode, secretName: config.tlsSecret },
      register,
      metrics: new WebhookMetrics(registry),
      log,
    });
    return { stop: () => webhooks.stop() };
  },
});
