// Runs the admission server in the test process against the shared cluster and registers its routes
// with the apiserver by URL (https://127.0.0.1:PORT/path; there is no Service network here). The
// configurations are live when runWebhooks resolves and gone from the apiserver when stop() resolves:
// probe webhooks in both configurations, matching only dry-run ConfigMaps with a probe label, show when
// the apiserver has started and stopped calling the server, so no test sees a half-registered webhook
// and no failurePolicy Fail webhook outlives its server.
import { CoreV1Api } from '@kubernetes/client-node';
import { CONTROLLER_NAME, INSTALL_NAMESPACE } from '../../api/v2beta1/constants.ts';
import { isAlreadyExists } from '../../lib/kube.ts';
import { createLogger } from '../../lib/log.ts';
import { deleteWebhookConfigurations } from '../../webhooks/registration.ts';
import { startWebhooks, type WebhookTLSOptions, type Webhooks } from '../../webhooks/start.ts';
import type { ClusterView, WebhookRoute } from '../../webhooks/types.ts';
import type { TestCluster } from './cluster.ts';
import { eventually } from './wait.ts';

export interface RunWebhooksOptions {
  /** Namespace of the certificate Secret; created when missing. Default `spiderpool`. */
  namespace?: string;
  /** Default `spiderpool-controller`. */
  configurationName?: string;
  tls?: WebhookTLSOptions;
  cluster?: ClusterView;
  /** See StartWebhooksOptions. */
  admittedWritesHorizonMs?: number;
}

export interface RunningWebhooks {
  port: number;
  webhooks: Webhooks;
  /** Deletes the configurations, waits until the apiserver stops calling, then stops the server. */
  stop(): Promise<void>;
}

export interface WebhookProbe {
  /** Serve these with the routes under test (one mutating, one validating, failurePolicy Ignore). */
  routes: WebhookRoute[];
  /** Resolves once the apiserver calls both probe webhooks. */
  untilCalled(): Promise<void>;
  /** Resolves once the apiserver calls neither (after the configurations were deleted). */
  untilNotCalled(): Promise<void>;
}

const PROBE_LABEL = 'spiderpool.spidernet.io/webhook-probe';

export async function ensureNamespace(cluster: TestCluster, name: string): Promise<void> {
  try {
    await cluster.kubeConfig.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name } } });
  } catch (err) {
    if (!isAlreadyExists(err)) throw err;
  }
}

/** Probe webhooks for the configurations named `configurationName`; dry-run ConfigMaps go to `namespace`. */
export function webhookProbe(cluster: TestCluster, configurationName: string, namespace: string): WebhookProbe {
  const core = cluster.kubeConfig.makeApiClient(CoreV1Api);
  const hits = { mutating: 0, validating: 0 };
  const probe = (type: 'mutating' | 'validating'): WebhookRoute => ({
    path: `/probe-${type}-${configurationName}`,
    type,
    rule: {
      apiGroups: [''],
      apiVersions: ['v1'],
      resources: ['configmaps'],
      operations: ['CREATE'],
      scope: 'Namespaced',
    },
    failurePolicy: 'Ignore',
    objectSelector: { matchLabels: { [PROBE_LABEL]: configurationName } },
    handler: async () => {
      hits[type]++;
      return { allowed: true };
    },
  });
  const called = async () => {
    const before = { ...hits };
    await core.createNamespacedConfigMap({
      namespace,
      dryRun: 'All',
      body: { metadata: { generateName: 'webhook-probe-', labels: { [PROBE_LABEL]: configurationName } } },
    });
    return { mutating: hits.mutating > before.mutating, validating: hits.validating > before.validating };
  };
  return {
    routes: [probe('mutating'), probe('validating')],
    untilCalled: async () => {
      await eventually(`the apiserver calling webhooks ${configurationName}`, 30_000, async () => {
        const c = await called();
        return c.mutating && c.validating ? true : undefined;
      });
    },
    untilNotCalled: async () => {
      await eventually(`the apiserver to stop calling webhooks ${configurationName}`, 30_000, async () => {
        const c = await called();
        return !c.mutating && !c.validating ? true : undefined;
      });
    },
  };
}

export async function runWebhooks(
  cluster: TestCluster,
  routes: WebhookRoute[],
  options: RunWebhooksOptions = {},
): Promise<RunningWebhooks> {
  const namespace = options.namespace ?? INSTALL_NAMESPACE;
  const configurationName = options.configurationName ?? CONTROLLER_NAME;
  await ensureNamespace(cluster, namespace);
  const probe = webhookProbe(cluster, configurationName, namespace);
  const webhooks = await startWebhooks({
    kubeConfig: cluster.kubeConfig,
    routes: [...routes, ...probe.routes],
    cluster: options.cluster,
    namespace,
    host: '127.0.0.1',
    port: 0,
    configurationName,
    tls: options.tls,
    register: { urlHost: '127.0.0.1' },
    log: createLogger('webhooks', process.env.LOG_LEVEL ?? 'warn'),
    ...(options.admittedWritesHorizonMs ? { admittedWritesHorizonMs: options.admittedWritesHorizonMs } : {}),
  });
  try {
    await probe.untilCalled();
  } catch (err) {
    await deleteWebhookConfigurations(cluster.kubeConfig, configurationName);
    await webhooks.stop();
    throw err;
  }

  let stopped = false;
  return {
    port: webhooks.port,
    webhooks,
    async stop() {
      if (stopped) return;
      stopped = true;
      try {
        await deleteWebhookConfigurations(cluster.kubeConfig, configurationName);
        await probe.untilNotCalled();
      } finally {
        await webhooks.stop();
      }
    },
  };
}
