// What the plugin reads, with the user's kubeconfig: KUBECONFIG or --kubeconfig, --context, and the context's
// namespace unless -n names one, as kubectl does. Reads only; every failure names what was being read.
import {
  AppsV1Api,
  BatchV1Api,
  CoreV1Api,
  CustomObjectsApi,
  type CoreV1Event,
  type V1Namespace,
  type V1Node,
  type V1Pod,
  type V1StatefulSet,
} from '@kubernetes/client-node';
import { parse as parseYaml } from 'yaml';
import type { SpiderEndpoint, SpiderIPPool, SpiderReservedIP } from '../api/v2beta1/types.ts';
import { INSTALL_NAMESPACE } from '../api/v2beta1/constants.ts';
import { KINDS, customResource } from '../api/v2beta1/kinds.ts';
import { ADDRESS_EVENT_REASON, parseAddressEvents, type AddressEvent } from '../lib/address-events.ts';
import { apiMessage, loadKubeConfig, orUndefined } from '../lib/kube.ts';
import { SpiderpoolClient } from '../lib/spiderpool-client.ts';
import { PluginError } from './errors.ts';

export interface ConnectOptions {
  kubeconfig?: string;
  context?: string;
  namespace?: string;
  /** Where the product is installed: its spiderpool-conf ConfigMap is read from there. */
  installNamespace?: string;
}

/** The keys of spiderpool-conf's conf.yml that change what the agent and the garbage collector decide. */
export interface ProductConfig {
  installNamespace: string;
  enableIPv4: boolean;
  enableIPv6: boolean;
  enableStatefulSet: boolean;
  clusterNetwork?: string;
}

export interface HistoryEntry extends AddressEvent {
  pool: string;
  time: Date;
  node?: string;
}

const REQUEST_TIMEOUT_MS = 30_000;

export class PluginCluster extends SpiderpoolClient {
  private readonly core: CoreV1Api;
  private readonly apps: AppsV1Api;
  private readonly custom: CustomObjectsApi;
  private readonly batch: BatchV1Api;

  constructor(
    kubeConfig: ReturnType<typeof loadKubeConfig>,
    readonly namespace: string,
    private readonly installNamespace: string,
  ) {
    super(kubeConfig);
    this.core = kubeConfig.makeApiClient(CoreV1Api);
    this.apps = kubeConfig.makeApiClient(AppsV1Api);
    this.custom = kubeConfig.makeApiClient(CustomObjectsApi);
    this.batch = kubeConfig.makeApiClient(BatchV1Api);
  }

  static connect(options: ConnectOptions): PluginCluster {
    let kubeConfig;
    try {
      kubeConfig = loadKubeConfig(options.kubeconfig, { requestTimeoutMs: REQUEST_TIMEOUT_MS });
    } catch (err) {
      throw new PluginError(
        `kubeconfig ${options.kubeconfig ?? process.env.KUBECONFIG ?? '~/.kube/config'}: ${apiMessage(err)}`,
      );
    }
    if (options.context !== undefined) {
      if (!kubeConfig.getContextObject(options.context))
        throw new PluginError(`context "${options.context}" is not in the kubeconfig`);
      kubeConfig.setCurrentContext(options.context);
    }
    if (!kubeConfig.getCurrentCluster())
      throw new PluginError('the kubeconfig has no current context; pass --kubeconfig or --context');
    const namespace = options.namespace ?? kubeConfig.getContextObject(kubeConfig.getCurrentContext())?.namespace;
    return new PluginCluster(kubeConfig, namespace || 'default', options.installNamespace ?? INSTALL_NAMESPACE);
  }

  private async attempt<T>(what: string, call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (err) {
      throw new PluginError(`reading ${what}: ${apiMessage(err)}`);
    }
  }

  pools(): Promise<SpiderIPPool[]> {
    return this.list('SpiderIPPools', () => this.custom.listClusterCustomObject(customResource(KINDS.SpiderIPPool)));
  }

  reservedIPs(): Promise<SpiderReservedIP[]> {
    return this.list('SpiderReservedIPs', () =>
      this.custom.listClusterCustomObject(customResource(KINDS.SpiderReservedIP)),
    );
  }

  endpoints(): Promise<SpiderEndpoint[]> {
    return this.list('SpiderEndpoints', () =>
      this.custom.listCustomObjectForAllNamespaces(customResource(KINDS.SpiderEndpoint)),
    );
  }

  private list<T>(what: string, call: () => Promise<object>): Promise<T[]> {
    return this.attempt(what, async () => ((await call()) as { items: T[] }).items);
  }

  pods(): Promise<V1Pod[]> {
    return this.attempt('pods', async () => (await this.core.listPodForAllNamespaces()).items);
  }

  statefulSets(): Promise<V1StatefulSet[]> {
    return this.attempt('StatefulSets', async () => (await this.apps.listStatefulSetForAllNamespaces()).items);
  }

  async readPod(namespace: string, name: string): Promise<V1Pod> {
    const pod = await this.attempt(`pod ${namespace}/${name}`, () => this.pod(namespace, name));
    if (!pod) throw new PluginError(`pod ${namespace}/${name} not found`);
    return pod;
  }

  readEndpoint(namespace: string, name: string): Promise<SpiderEndpoint | undefined> {
    return this.attempt(`SpiderEndpoint ${namespace}/${name}`, () => this.endpoint(namespace, name));
  }

  readNamespace(name: string): Promise<V1Namespace> {
    return this.attempt(`namespace ${name}`, () => this.core.readNamespace({ name }));
  }

  readNode(name: string): Promise<V1Node> {
    return this.attempt(`node ${name}`, () => this.core.readNode({ name }));
  }

  /** The owner readers of topController (ipam/owner.ts): an owner whose name now holds another UID is no owner. */
  readonly owners = {
    replicaSet: (namespace: string, name: string, uid: string) =>
      this.attempt(`ReplicaSet ${namespace}/${name}`, async () => {
        const rs = await orUndefined(this.apps.readNamespacedReplicaSet({ namespace, name }));
        return rs?.metadata?.uid === uid ? rs : undefined;
      }),
    job: (namespace: string, name: string, uid: string) =>
      this.attempt(`Job ${namespace}/${name}`, async () => {
        const job = await orUndefined(this.batch.readNamespacedJob({ namespace, name }));
        return job?.metadata?.uid === uid ? job : undefined;
      }),
  };

  /** The message of the pod's latest FailedCreatePodSandBox event, as kubelet records a failed CNI ADD. */
  async sandboxFailure(pod: V1Pod): Promise<string | undefined> {
    const namespace = pod.metadata?.namespace ?? 'default';
    const events = await this.attempt(`events of pod ${namespace}/${pod.metadata?.name}`, async () => {
      const list = await this.core.listNamespacedEvent({
        namespace,
        fieldSelector: `involvedObject.uid=${pod.metadata?.uid},reason=FailedCreatePodSandBox`,
      });
      return list.items;
    });
    const last = (e: CoreV1Event) => new Date(e.lastTimestamp ?? e.eventTime ?? e.firstTimestamp ?? 0).getTime();
    return events.sort((a, b) => last(a) - last(b)).at(-1)?.message;
  }

  /** spiderpool-conf's conf.yml, or the daemons' defaults when the ConfigMap is absent. */
  async productConfig(): Promise<ProductConfig> {
    const ns = this.installNamespace;
    const cm = await this.attempt(`ConfigMap ${ns}/spiderpool-conf`, () =>
      orUndefined(this.core.readNamespacedConfigMap({ namespace: ns, name: 'spiderpool-conf' })),
    );
    let conf: Record<string, unknown> = {};
    const text = cm?.data?.['conf.yml'];
    if (text !== undefined) {
      try {
        conf = (parseYaml(text) as Record<string, unknown> | null) ?? {};
      } catch (err) {
        throw new PluginError(`ConfigMap ${ns}/spiderpool-conf: conf.yml is not YAML: ${apiMessage(err)}`);
      }
    }
    const flag = (key: string): boolean => (typeof conf[key] === 'boolean' ? (conf[key] as boolean) : true);
    const clusterNetwork = typeof conf.clusterNetwork === 'string' ? conf.clusterNetwork : '';
    return {
      installNamespace: ns,
      enableIPv4: flag('enableIPv4'),
      enableIPv6: flag('enableIPv6'),
      enableStatefulSet: flag('enableStatefulSet'),
      ...(clusterNetwork ? { clusterNetwork } : {}),
    };
  }

  /** The agents' IPAllocated and IPReleased events, oldest first; `pool` narrows them to one pool. */
  async history(pool?: string): Promise<HistoryEntry[]> {
    const selector = [
      `involvedObject.kind=${KINDS.SpiderIPPool.kind}`,
      ...(pool ? [`involvedObject.name=${pool}`] : []),
    ];
    const events: CoreV1Event[] = await this.attempt('events of SpiderIPPools', async () => {
      const list = await this.core.listNamespacedEvent({ namespace: 'default', fieldSelector: selector.join(',') });
      return list.items;
    });
    const reasons: string[] = Object.values(ADDRESS_EVENT_REASON);
    const entries = events.flatMap((e): HistoryEntry[] =>
      (reasons.includes(e.reason ?? '') ? parseAddressEvents(e.message) : []).map((parsed) => ({
        ...parsed,
        pool: e.involvedObject.name ?? '',
        time: eventTime(e),
        ...(e.source?.host ? { node: e.source.host } : {}),
      })),
    );
    return entries.sort((a, b) => a.time.getTime() - b.time.getTime());
  }
}

/**
 * Timestamps have whole seconds, but the recorder's event names end in their creation time in nanoseconds (hex),
 * which orders the events of one second.
 */
function eventTime(e: CoreV1Event): Date {
  const suffix = /\.([0-9a-f]{12,})$/.exec(e.metadata.name ?? '')?.[1];
  if (suffix) return new Date(Math.floor(parseInt(suffix, 16) / 1e6));
  return new Date(e.eventTime ?? e.firstTimestamp ?? e.metadata.creationTimestamp ?? 0);
}
