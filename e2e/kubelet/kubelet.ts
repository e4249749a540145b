// The kubelet + Multus stand-in: makes pods bound to simulated nodes real. Each pod gets a network
// namespace and a real CNI chain (executed inside its node's namespace on the fabric), then a Running
// status with its IPs; a deleted pod gets CNI DEL, loses its namespace and has its deletion finished.
import { createHash } from 'node:crypto';
import { ApiException, CoreV1Api, type KubeConfig, type V1Pod } from '@kubernetes/client-node';
import {
  addNetworkList,
  type CniExecutor,
  type CniResult,
  delNetworkList,
  type NetworkConfigList,
  resultAddresses,
  type RuntimeConf,
  toConfList,
} from './cni.ts';
import type { Fabric } from './fabric.ts';
import { type Attachment, type ClusterNetwork, networkStatus, podAttachments } from './multus.ts';
import { addNetns, deleteNetns, execInNetns, type ExecResult, NETNS_DIR } from './netns.ts';
import { heartbeatNode, registerNode } from './node.ts';
import { patchPodStatus, recordPodEvent, type RunningPod, runningStatusPatch, statusIsCurrent } from './pod-status.ts';
import { type PodSource, watchNodePods } from './pod-watch.ts';
import { KeyedQueue } from './queue.ts';
import { kernelHasIpvlan, LINK_SUBSTITUTED_REASON, substituteIpvlan, substitutionMessage } from './substitute.ts';

/** A pod's default network as a hook sees it: eth0's addresses (CIDR) and gateways from the ADD result. */
export interface PodNetwork {
  network: string;
  node: string;
  netns: string;
  ips: { address: string; gateway?: string }[];
}

/** What the cluster network's own daemons do beside its CNI plugin (Calico's routes, say). */
export interface PodNetworkHooks {
  /** After eth0's ADD, before the pod's other interfaces are added. */
  added(pod: PodNetwork): Promise<void>;
  /** Before eth0's DEL. */
  removed(pod: PodNetwork): Promise<void>;
}

export interface KubeletOptions {
  kubeConfig: KubeConfig;
  /** Names of the simulated nodes; each is registered and cabled to the fabric. */
  nodes: string[];
  /** Where plugin binaries are looked up, in order; also CNI_PATH. */
  cniBinDirs: string[];
  /** eth0 of every pod: a conflist (or single plugin conf) object, or a NAD reference `[namespace/]name`. */
  clusterNetwork: Record<string, unknown> | NetworkConfigList | string;
  fabric: Fabric;
  log?: (message: string) => void;
  /** Namespace of NAD references without one (cluster network, default-network annotation); default kube-system. */
  multusNamespace?: string;
  /** Pods handled at once; default 16. */
  concurrency?: number;
  /** Node status heartbeat period; default 10 s. */
  heartbeatMs?: number;
  /** Host directories each node sees at other paths (its own /var/run/spidernet, say). */
  nodeMounts?: (node: string) => { source: string; target: string }[];
  podNetworkHooks?: PodNetworkHooks;
}

export interface Kubelet {
  readonly nodes: readonly string[];
  /** Name (under /var/run/netns) of a pod's network namespace, if this kubelet set one up. */
  podNetns(namespace: string, name: string): string | undefined;
  /** Runs a command inside a pod's network namespace. */
  exec(namespace: string, name: string, argv: string[]): Promise<ExecResult>;
  /** Stops watching and heartbeats; pods keep their networks. */
  stop(): Promise<void>;
  /** stop(), then CNI DEL for every pod this kubelet set up and removal of their namespaces. */
  teardown(): Promise<void>;
}

interface Sandbox {
  uid: string;
  namespace: string;
  name: string;
  node: string;
  netns: string;
  containerId: string;
  /** Attachments in the order they were added; result is missing for one whose ADD failed. */
  added: { attachment: Attachment; result?: CniResult }[];
  running: RunningPod;
}

interface Observed {
  node: string;
  pod?: V1Pod;
}

const MAX_RETRY_MS = 30_000;

/** The network namespace a pod gets, derived from its UID so that other processes (the sandbox's --exec) find it. */
export const podNetnsName = (fabricPrefix: string, uid: string) =>
  `${fabricPrefix}-pod-${uid.replaceAll('-', '').slice(0, 12)}`;

/** The id kubelet would give the pod's sandbox container; stable per pod so DEL matches ADD. */
const sandboxId = (uid: string) => createHash('sha256').update(uid).digest('hex');

function parseClusterNetwork(value: KubeletOptions['clusterNetwork'], multusNamespace: string): ClusterNetwork {
  if (typeof value !== 'string') return toConfList(value, 'clusterNetwork');
  const [first = '', second] = value.split('/');
  return second === undefined ? { namespace: multusNamespace, name: first } : { namespace: first, name: second };
}

export async function startKubelet(options: KubeletOptions): Promise<Kubelet> {
  const { kubeConfig, fabric } = options;
  const log = options.log ?? (() => undefined);
  const multusNamespace = options.multusNamespace ?? 'kube-system';
  const clusterNetwork = parseClusterNetwork(options.clusterNetwork, multusNamespace);
  const core = kubeConfig.makeApiClient(CoreV1Api);

  const observed = new Map<string, Observed>();
  const sandboxes = new Map<string, Sandbox>();
  const attempts = new Map<string, number>();

  for (const node of options.nodes) {
    const cabled = await fabric.addNode(node);
    await registerNode(kubeConfig, node, {}, { internalIP: cabled.address });
  }
  // Asked once: every node runs on the same kernel.
  const first = options.nodes[0] !== undefined ? fabric.node(options.nodes[0]) : undefined;
  const ipvlan = first && fabric.nics[0] ? await kernelHasIpvlan(first.netns, fabric.nics[0]) : true;

  const fabricNode = (node: string) => {
    const n = fabric.node(node);
    if (!n) throw new Error(`node ${node} is not on the fabric`);
    return n;
  };
  const executor = (node: string): CniExecutor => ({
    binDirs: options.cniBinDirs,
    netns: fabricNode(node).netns,
    mounts: options.nodeMounts?.(node),
  });
  const runtimeConf = (
    s: Pick<Sandbox, 'uid' | 'namespace' | 'name' | 'netns' | 'containerId'>,
    attachment: Attachment,
  ): RuntimeConf => ({
    containerId: s.containerId,
    netnsPath: `${NETNS_DIR}/${s.netns}`,
    ifname: attachment.ifname,
    args: [
      ['IgnoreUnknown', '1'],
      ['K8S_POD_NAMESPACE', s.namespace],
      ['K8S_POD_NAME', s.name],
      ['K8S_POD_INFRA_CONTAINER_ID', s.containerId],
      ['K8S_POD_UID', s.uid],
    ],
    capabilityArgs: attachment.capabilityArgs,
  });

  const podNetwork = (s: Sandbox, entry: Sandbox['added'][number]): PodNetwork => ({
    network: entry.attachment.network,
    node: s.node,
    netns: s.netns,
    ips: (entry.result?.ips ?? []).map(({ address, gateway }) => ({ address, ...(gateway ? { gateway } : {}) })),
  });

  /** DEL in reverse order of ADD. With force, failures are only logged and the namespace goes anyway. */
  const killSandbox = async (s: Sandbox, force: boolean) => {
    const errors: string[] = [];
    const eth0 = s.added[0];
    if (eth0?.result && options.podNetworkHooks) await options.podNetworkHooks.removed(podNetwork(s, eth0));
    for (const { attachment, result } of [...s.added].reverse()) {
      try {
        await delNetworkList(executor(s.node), attachment.conf, runtimeConf(s, attachment), result);
      } catch (err) {
        errors.push(`${attachment.ifname}: ${(err as Error).message}`);
      }
    }
    if (errors.length > 0) {
      if (!force) throw new Error(`CNI DEL failed for ${s.namespace}/${s.name}: ${errors.join('; ')}`);
      log(`${s.node}: ${s.namespace}/${s.name}: CNI DEL failed, removing the namespace anyway: ${errors.join('; ')}`);
    }
    await deleteNetns(s.netns);
    sandboxes.delete(s.uid);
    log(`${s.node}: ${s.namespace}/${s.name}: sandbox removed`);
  };

  const withoutIpvlan = async (pod: V1Pod, node: string, attachment: Attachment): Promise<Attachment> => {
    const { conf, replaced } = substituteIpvlan(attachment.conf);
    if (replaced.length === 0) return attachment;
    const message = substitutionMessage(attachment.network, attachment.ifname, replaced);
    await recordPodEvent(core, pod, node, 'Warning', LINK_SUBSTITUTED_REASON, message).catch((e: Error) =>
      log(`${node}: ${pod.metadata?.namespace}/${pod.metadata?.name}: recording event failed: ${e.message}`),
    );
    return { ...attachment, conf };
  };

  const runSandbox = async (pod: V1Pod, node: string): Promise<Sandbox> => {
    const uid = pod.metadata?.uid ?? '';
    const namespace = pod.metadata?.namespace ?? 'default';
    const name = pod.metadata?.name ?? '';
    const containerId = sandboxId(uid);
    const prefix = `Multus: [${namespace}/${name}/${uid}]`;
    let attachments: Attachment[];
    try {
      attachments = await podAttachments(kubeConfig, pod, clusterNetwork, multusNamespace);
    } catch (err) {
      throw new Error(`${prefix}: error loading k8s delegates: ${(err as Error).message}`, { cause: err });
    }
    const sandbox: Sandbox = {
      uid,
      namespace,
      name,
      node,
      containerId,
      netns: podNetnsName(fabric.prefix, uid),
      added: [],
      running: {
        hostIP: fabricNode(node).address,
        podIPs: [],
        networks: [],
        sandboxId: containerId,
        startedAt: new Date(),
      },
    };
    if (!ipvlan) attachments = await Promise.all(attachments.map((a) => withoutIpvlan(pod, node, a)));
    await addNetns(sandbox.netns);
    for (const attachment of attachments) {
      const entry: Sandbox['added'][number] = { attachment };
      sandbox.added.push(entry);
      try {
        entry.result = await addNetworkList(executor(node), attachment.conf, runtimeConf(sandbox, attachment));
        if (attachment.isDefault) await options.podNetworkHooks?.added(podNetwork(sandbox, entry));
      } catch (err) {
        await killSandbox(sandbox, true);
        throw new Error(
          `${prefix}: error adding container to network "${attachment.network}": ${(err as Error).message}`,
          { cause: err },
        );
      }
    }
    const eth0 = sandbox.added[0]?.result ?? {};
    sandbox.running.podIPs = resultAddresses(eth0, 'eth0').map((a) => a.split('/')[0] ?? a);
    sandbox.running.networks = sandbox.added.map(({ attachment, result }) => networkStatus(attachment, result ?? {}));
    sandboxes.set(uid, sandbox);
    log(
      `${node}: ${namespace}/${name}: sandbox ${sandbox.netns} up, ${sandbox.running.networks.map((n) => `${n.interface}=${n.ips.join(',')}`).join(' ')}`,
    );
    return sandbox;
  };

  const finishDelete = async (pod: V1Pod) => {
    const { name = '', namespace = '', uid } = pod.metadata ?? {};
    try {
      await core.deleteNamespacedPod({
        name,
        namespace,
        gracePeriodSeconds: 0,
        body: { gracePeriodSeconds: 0, preconditions: { uid } },
      });
    } catch (err) {
      // Gone already, or the name now belongs to a newer pod (UID precondition): nothing left to finish.
      if (!(err instanceof ApiException && (err.code === 404 || err.code === 409))) throw err;
    }
  };

  const sync = async (uid: string) => {
    const seen = observed.get(uid);
    const pod = seen?.pod;
    const sandbox = sandboxes.get(uid);
    if (!seen || !pod) {
      if (sandbox) await killSandbox(sandbox, false);
      observed.delete(uid);
      return;
    }
    const node = seen.node;
    const where = `${node}: ${pod.metadata?.namespace}/${pod.metadata?.name}`;
    if (pod.metadata?.deletionTimestamp) {
      if (sandbox) await killSandbox(sandbox, false);
      await finishDelete(pod);
      return;
    }
    if (pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed') {
      if (sandbox) await killSandbox(sandbox, false);
      return;
    }
    let running: RunningPod;
    if (pod.spec?.hostNetwork) {
      const hostIP = fabricNode(node).address;
      running = { hostIP, podIPs: [hostIP], sandboxId: sandboxId(uid), startedAt: new Date() };
    } else if (sandbox) {
      running = sandbox.running;
    } else {
      try {
        running = (await runSandbox(pod, node)).running;
      } catch (err) {
        const message = `Failed to create pod sandbox: failed to set up network for sandbox "${sandboxId(uid)}": ${(err as Error).message}`;
        log(`${where}: ${message}`);
        await recordPodEvent(core, pod, node, 'Warning', 'FailedCreatePodSandBox', message).catch((e: Error) =>
          log(`${where}: recording event failed: ${e.message}`),
        );
        throw err;
      }
    }
    if (!statusIsCurrent(pod, running)) await patchPodStatus(core, pod, runningStatusPatch(pod, running));
  };

  const queue: KeyedQueue = new KeyedQueue(
    options.concurrency ?? 16,
    async (uid) => {
      await sync(uid);
      attempts.delete(uid);
    },
    (uid, err) => {
      // Like kubelet's pod workers: a failed sync is retried with exponential back-off.
      const attempt = (attempts.get(uid) ?? 0) + 1;
      attempts.set(uid, attempt);
      const delay = Math.min(1000 * 2 ** (attempt - 1), MAX_RETRY_MS);
      log(`pod ${uid}: sync failed (attempt ${attempt}, retry in ${delay} ms): ${(err as Error).message}`);
      queue.enqueueAfter(uid, delay);
    },
  );

  const observe = (node: string, pod: V1Pod | undefined, uid: string) => {
    observed.set(uid, { node, pod });
    queue.enqueue(uid);
  };

  const sources: PodSource[] = options.nodes.map((node) =>
    watchNodePods(
      kubeConfig,
      node,
      {
        resync(pods) {
          const present = new Set<string>();
          for (const pod of pods) {
            const uid = pod.metadata?.uid;
            if (!uid) continue;
            present.add(uid);
            observe(node, pod, uid);
          }
          // Pods that vanished while the watch was down still need their DEL.
          for (const [uid, o] of observed) if (o.node === node && !present.has(uid)) observe(node, undefined, uid);
        },
        change(type, pod) {
          const uid = pod.metadata?.uid;
          if (uid) observe(node, type === 'DELETED' ? undefined : pod, uid);
        },
      },
      log,
    ),
  );

  const heartbeat = setInterval(() => {
    for (const node of options.nodes)
      heartbeatNode(kubeConfig, node).catch((err: Error) => log(`${node}: heartbeat failed: ${err.message}`));
  }, options.heartbeatMs ?? 10_000);
  heartbeat.unref();

  const findSandbox = (namespace: string, name: string) =>
    [...sandboxes.values()].reverse().find((s) => s.namespace === namespace && s.name === name);
  let stopped: Promise<void> | undefined;
  const stop = () => {
    stopped ??= (async () => {
      clearInterval(heartbeat);
      await Promise.all(sources.map((s) => s.stop()));
      await queue.close();
    })();
    return stopped;
  };

  return {
    nodes: [...options.nodes],
    podNetns: (namespace, name) => findSandbox(namespace, name)?.netns,
    exec(namespace, name, argv) {
      const s = findSandbox(namespace, name);
      if (!s) return Promise.reject(new Error(`pod ${namespace}/${name} has no network namespace on this kubelet`));
      return execInNetns(s.netns, argv);
    },
    stop,
    async teardown() {
      await stop();
      for (const s of [...sandboxes.values()]) await killSandbox(s, true);
    },
  };
}
