// spiderpool-controller: the operator process. One replica leads (Lease `spiderpool-controller` in
// SPIDERPOOL_NAMESPACE) and runs the reconcilers; every replica keeps warm caches and serves /metrics,
// /healthz and /readyz (ready once every cache has synced).
//
// Environment: KUBECONFIG (else in-cluster), SPIDERPOOL_NAMESPACE (spiderpool), OPERATOR_METRICS_PORT
// (5721), LOG_LEVEL (info), SPIDERPOOL_POD_NAME (this replica's Lease identity; host name + pid if
// unset), SPIDERPOOL_LEADER_DURATION / _RENEW_DEADLINE / _RETRY_PERIOD in seconds (15 / 10 / 2),
// SPIDERPOOL_RESYNC_PERIOD in seconds (300), SPIDERPOOL_CONTROLLER_WORKERS per reconciler (8),
// SPIDERPOOL_CNI_CONFIG_DIR (/etc/cni/net.d, where the coordinator reads the node's CNI configuration),
// the GC's SPIDERPOOL_GC_IP_ENABLED, _DEFAULT_INTERVAL_DURATION, _ADDITIONAL_GRACE_DELAY, _DRY_RUN and
// SPIDERPOOL_ENABLE_STATEFULSET (operator/gc/options.ts), SPIDERPOOL_CONFIG_PATH (lib/daemon/config.ts).
import { CLUSTER_SETTINGS, setting } from '../lib/daemon/config.ts';
import { runDaemon } from '../lib/daemon/daemon.ts';
import { loadKubeConfig } from '../lib/kube.ts';
import { GC_SETTINGS } from './gc/options.ts';
import { createReconcilers } from './reconcilers.ts';
import { DEFAULT_WORKERS, startOperator } from './start.ts';

await runDaemon({
  name: 'spiderpool-controller',
  settings: {
    ...CLUSTER_SETTINGS,
    metricsPort: setting.port({ env: 'OPERATOR_METRICS_PORT', default: 5721 }),
    identity: setting.optional(setting.string({ env: 'SPIDERPOOL_POD_NAME' })),
    leaseDurationMs: setting.seconds({ env: 'SPIDERPOOL_LEADER_DURATION', default: 15 }),
    renewDeadlineMs: setting.seconds({ env: 'SPIDERPOOL_LEADER_RENEW_DEADLINE', default: 10 }),
    retryPeriodMs: setting.seconds({ env: 'SPIDERPOOL_LEADER_RETRY_PERIOD', default: 2 }),
    resyncMs: setting.seconds({ env: 'SPIDERPOOL_RESYNC_PERIOD', default: 300 }),
    workers: setting.integer({ env: 'SPIDERPOOL_CONTROLLER_WORKERS', default: DEFAULT_WORKERS, min: 1 }),
    cniConfigDir: setting.optional(setting.string({ env: 'SPIDERPOOL_CNI_CONFIG_DIR' })),
    gc: GC_SETTINGS,
  },
  health: (config) => ({ port: config.metricsPort, host: '0.0.0.0' }),
  async start({ config, log, registry }) {
    const kubeConfig = loadKubeConfig(config.kubeconfig);
    // The caches, the Lease and the reconcilers: startOperator returns with the caches filling.
    const operator = await startOperator({
      kubeConfig,
      reconcilers: createReconcilers({ cniConfigDir: config.cniConfigDir, gc: config.gc }),
      identity: config.identity,
      leaseNamespace: config.namespace,
      leaseDurationMs: config.leaseDurationMs,
      renewDeadlineMs: config.renewDeadlineMs,
      retryPeriodMs: config.retryPeriodMs,
      resyncMs: config.resyncMs,
      workers: config.workers,
      registry,
      log,
    });
    log.info('controller started', { identity: operator.identity });
    return { ready: () => operator.hasSynced(), stop: () => operator.stop() };
  },
});
