// spiderpool-agent: one per node. Serves IPAM over a unix socket for the `spiderpool` CNI plugin.
import { DEFAULT_AGENT_SOCKET } from '../lib/agent-api.ts';
import { loadKubeConfig } from '../lib/kube.ts';
import { createLogger } from '../lib/log.ts';
import { Cluster } from './cluster.ts';
import { CoordinatorConfigSource } from './coordinator-config.ts';
import { Ipam } from './ipam.ts';
import { AgentMetrics } from './metrics.ts';
import { serveAgent } from './server.ts';

const env = (name: string, fallback?: string): string => {
  const value = process.env[name] ?? fallback;
  if (value === undefined || value === '') throw new Error(`environment variable ${name} is required`);
  return value;
};
const flag = (name: string, fallback: boolean) => (process.env[name] ?? String(fallback)).toLowerCase() === 'true';

const log = createLogger('spiderpool-agent');
try {
  const nodeName = env('NODE_NAME');
  const cluster = new Cluster(loadKubeConfig(process.env.KUBECONFIG), nodeName, log);
  await cluster.start();
  const metrics = new AgentMetrics();
  const ipam = new Ipam(cluster, {
    nodeName,
    installNamespace: env('SPIDERPOOL_NAMESPACE', 'spiderpool'),
    enableIPv4: flag('SPIDERPOOL_ENABLE_IPV4', true),
    enableIPv6: flag('SPIDERPOOL_ENABLE_IPV6', true),
    enableStatefulSet: flag('SPIDERPOOL_ENABLE_STATEFULSET', true),
    multusClusterNetwork: process.env.MULTUS_CLUSTER_NETWORK || undefined,
    maxRecordsPerPool: Number(env('SPIDERPOOL_IPPOOL_MAX_ALLOCATED_IPS', '5000')),
  }, metrics, log);
  const server = await serveAgent({
    socketPath: env('SPIDERPOOL_AGENT_SOCKET', DEFAULT_AGENT_SOCKET),
    metricsPort: Number(env('SPIDERPOOL_AGENT_METRICS_PORT', '5711')),
    metricsHost: process.env.SPIDERPOOL_AGENT_METRICS_HOST,
    ipam, metrics, log,
    coordinator: new CoordinatorConfigSource(cluster.core, cluster.custom),
  });
  log.info('agent ready', { node: nodeName, socket: server.socketPath, metricsPort: server.metricsPort });
  const shutdown = async () => {
    await server.close();
    await cluster.stop();
    log.info('agent stopped');
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown());
  process.on('SIGINT', () => void shutdown());
} catch (err) {
  log.error('agent failed to start', err);
  process.exit(1);
}
