// spiderpool-agent: one per node. Serves IPAM over a unix socket for the `spiderpool` CNI plugin, and
// /metrics, /healthz and /readyz (ready once its cluster caches have started) on TCP.
//
// Environment: NODE_NAME (required), KUBECONFIG (else in-cluster), SPIDERPOOL_NAMESPACE (spiderpool),
// SPIDERPOOL_ENABLE_IPV4 / _IPV6 / _STATEFULSET / _KUBEVIRT_STATIC_IP (true), MULTUS_CLUSTER_NETWORK (Multus'
// cluster network namespace/name), SPIDERPOOL_IPPOOL_MAX_ALLOCATED_IPS (5000 records per pool), SPIDERPOOL_AGENT_SOCKET
// (/var/run/spidernet/spiderpool.sock), SPIDERPOOL_AGENT_METRICS_PORT (5711), SPIDERPOOL_AGENT_METRICS_HOST
// (127.0.0.1), LOG_LEVEL (info), SPIDERPOOL_CONFIG_PATH (a conf.yml, lib/daemon/config.ts).
import { DEFAULT_AGENT_SOCKET } from '../lib/agent-api.ts';
import { CLUSTER_SETTINGS, setting } from '../lib/daemon/config.ts';
import { runDaemon } from '../lib/daemon/daemon.ts';
import { loadKubeConfig } from '../lib/kube.ts';
import { AddressEvents } from './address-events.ts';
import { API_TIMEOUT_MS, Cluster } from './cluster.ts';
import { CoordinatorConfigSource } from './coordinator-config.ts';
import { Ipam } from './ipam.ts';
import { AgentMetrics } from './metrics.ts';
import { serveAgent } from './server.ts';

/** How long a stopping agent waits for releases still being written: well inside the pod's 30 s grace period. */
const STOP_RELEASES_MS = 10_000;

await runDaemon({
  name: 'spiderpool-agent',
  settings: {
    nodeName: setting.string({ env: 'NODE_NAME' }),
    ...CLUSTER_SETTINGS,
    enableIPv4: setting.boolean({ env: 'SPIDERPOOL_ENABLE_IPV4', key: 'enableIPv4', default: true }),
    enableIPv6: setting.boolean({ env: 'SPIDERPOOL_ENABLE_IPV6', key: 'enableIPv6', default: true }),
    enableStatefulSet: setting.boolean({
      env: 'SPIDERPOOL_ENABLE_STATEFULSET',
      key: 'enableStatefulSet',
      default: true,
    }),
    enableKubevirtStaticIP: setting.boolean({
      env: 'SPIDERPOOL_ENABLE_KUBEVIRT_STATIC_IP',
      key: 'enableKubevirtStaticIP',
      default: true,
    }),
    multusClusterNetwork: setting.optional(setting.string({ env: 'MULTUS_CLUSTER_NETWORK', key: 'clusterNetwork' })),
    maxRecordsPerPool: setting.integer({ env: 'SPIDERPOOL_IPPOOL_MAX_ALLOCATED_IPS', default: 5000, min: 1 }),
    socketPath: setting.string({
      env: 'SPIDERPOOL_AGENT_SOCKET',
      key: 'ipamUnixSocketPath',
      default: DEFAULT_AGENT_SOCKET,
    }),
    metricsPort: setting.port({ env: 'SPIDERPOOL_AGENT_METRICS_PORT', default: 5711 }),
    metricsHost: setting.listenAddress({ env: 'SPIDERPOOL_AGENT_METRICS_HOST', default: '127.0.0.1' }),
  },
  health: (config) => ({ port: config.metricsPort, host: config.metricsHost }),
  async start({ config, log, registry }) {
    const { nodeName } = config;
    const cluster = new Cluster(loadKubeConfig(config.kubeconfig, { requestTimeoutMs: API_TIMEOUT_MS }), nodeName, log);
    await cluster.start();
    const metrics = new AgentMetrics(registry);
    const ipam = new Ipam(
      cluster,
      {
        nodeName,
        installNamespace: config.namespace,
        enableIPv4: config.enableIPv4,
        enableIPv6: config.enableIPv6,
        enableStatefulSet: config.enableStatefulSet,
        enableKubevirtStaticIP: config.enableKubevirtStaticIP,
        multusClusterNetwork: config.multusClusterNetwork,
        maxRecordsPerPool: config.maxRecordsPerPool,
        apiTimeoutMs: API_TIMEOUT_MS,
      },
      metrics,
      log,
      new AddressEvents(cluster.json, log, {
        node: nodeName,
        poolUid: (name) => cluster.pools().find((p) => p.metadata.name === name)?.metadata.uid,
      }),
    );
    const coordinator = new CoordinatorConfigSource(cluster, config.enableKubevirtStaticIP);
    const server = await serveAgent({ socketPath: config.socketPath, ipam, metrics, log, coordinator });
    log.info('agent ready', { node: nodeName, socket: server.socketPath });
    return {
      async stop() {
        await server.close();
        if (!(await ipam.finishReleases(STOP_RELEASES_MS)))
          log.warn('stopping with releases not yet written; the garbage collector frees their records');
        await cluster.stop();
      },
    };
  },
});
