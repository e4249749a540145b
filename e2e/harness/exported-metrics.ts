// The metric names the product exports, read from its own declarations: the agent's and the webhooks'
// tables and every series the controller registers (its runtime and each reconciler, built against empty
// caches and a kubeconfig that is never dialled). Histograms also answer to their _bucket, _sum and
// _count series.
import { KubeConfig } from '@kubernetes/client-node';
import { Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { AgentMetrics } from '../../agent/metrics.ts';
import { createLogger } from '../../lib/log.ts';
import { DEFAULT_GC_OPTIONS } from '../../operator/gc/options.ts';
import { createRuntimeMetrics } from '../../operator/metrics.ts';
import { createReconcilers } from '../../operator/reconcilers.ts';
import type { ReadCache } from '../../operator/runtime/types.ts';
import { WebhookMetrics } from '../../webhooks/metrics.ts';

const HISTOGRAM_SERIES = ['_bucket', '_sum', '_count'];

function controllerRegistry(): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  createRuntimeMetrics(registry, { queueDepths: () => [], isLeader: () => false, cacheSizes: () => [] });
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromOptions({
    clusters: [{ name: 'none', server: 'https://127.0.0.1:1' }],
    users: [{ name: 'none' }],
    contexts: [{ name: 'none', cluster: 'none', user: 'none' }],
    currentContext: 'none',
  });
  const empty = { list: () => [], get: () => undefined } as unknown as ReadCache<never>;
  const log = createLogger('exported-metrics', 'error');
  for (const factory of createReconcilers({ gc: DEFAULT_GC_OPTIONS }))
    factory({ caches: { of: () => empty }, kubeConfig, log, registry, events: { warn: () => undefined } as never });
  return registry;
}

/** Every series name the agent, the controller and the webhooks can put on /metrics. */
export function exportedMetricNames(): Set<string> {
  const registries = [new AgentMetrics().registry, new WebhookMetrics().registry, controllerRegistry()];
  const names = new Set<string>();
  for (const metric of registries.flatMap((r) => r.getMetricsAsArray())) {
    names.add(metric.name);
    if (metric instanceof Histogram) for (const s of HISTOGRAM_SERIES) names.add(metric.name + s);
  }
  return names;
}
