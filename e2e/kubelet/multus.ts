// What Multus does before and after the CNI calls: turn a pod's annotations into an ordered list of
// attachments (eth0 = the cluster network, then one per element of k8s.v1.cni.cncf.io/networks), load
// each NetworkAttachmentDefinition's config, and describe the result in the network-status annotation.
import { ApiException, CustomObjectsApi, type KubeConfig, type V1Pod } from '@kubernetes/client-node';
import { MULTUS_ANNOTATION } from '../../api/v2beta1/constants.ts';
import { KINDS } from '../../api/v2beta1/kinds.ts';
import { type CniResult, CniError, type NetworkConfigList, resultAddresses, resultMac, toConfList } from './cni.ts';

export interface NetworkSelection {
  name: string;
  namespace: string;
  interface?: string;
  mac?: string;
  ips?: string[];
}

/** One interface of a pod and the configuration that creates it. */
export interface Attachment {
  /** `namespace/name` of the NAD, or the conflist name for a cluster network given inline. */
  network: string;
  ifname: string;
  isDefault: boolean;
  conf: NetworkConfigList;
  capabilityArgs: Record<string, unknown>;
}

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

function checkName(kind: string, value: string, annotation: string): void {
  if (!DNS1123_LABEL.test(value)) throw new CniError(`${annotation}: ${kind} "${value}" is not a valid DNS-1123 label`);
}

function checkInterface(value: string, annotation: string): void {
  if (value.length > 15 || /[/\s]/.test(value) || value.length === 0)
    throw new CniError(`${annotation}: interface name "${value}" is not valid`);
}

/** Parses a networks annotation in either of its two forms (JSON list, or `[ns/]name[@ifname]` items). */
export function parseNetworkSelections(
  value: string,
  defaultNamespace: string,
  annotation: string = MULTUS_ANNOTATION.networks,
): NetworkSelection[] {
  const trimmed = value.trim();
  if (!trimmed) return [];
  let selections: NetworkSelection[];
  if (/[[{"]/.test(trimmed)) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(trimmed);
    } catch (err) {
      throw new CniError(`${annotation}: not valid JSON: ${(err as Error).message}`);
    }
    const list = Array.isArray(parsed) ? parsed : [parsed];
    selections = list.map((e: unknown) => {
      const element = (typeof e === 'object' && e !== null ? e : {}) as Record<string, unknown>;
      if (typeof element.name !== 'string') throw new CniError(`${annotation}: every element needs a "name"`);
      return {
        name: element.name,
        namespace: typeof element.namespace === 'string' && element.namespace ? element.namespace : defaultNamespace,
        ...(typeof element.interface === 'string' ? { interface: element.interface } : {}),
        ...(typeof element.mac === 'string' ? { mac: element.mac } : {}),
        ...(Array.isArray(element.ips) ? { ips: element.ips.map(String) } : {}),
      };
    });
  } else {
    selections = trimmed
      .split(',')
      .map((raw) => raw.trim())
      .filter(Boolean)
      .map((item) => {
        const slash = item.split('/');
        const at = item.split('@');
        if (slash.length > 2 || at.length > 2)
          throw new CniError(`${annotation}: "${item}" has more than one "/" or "@"`);
        const [path = '', ifname] = at;
        const [first = '', second] = path.split('/');
        return {
          name: second ?? first,
          namespace: second === undefined ? defaultNamespace : first,
          ...(ifname !== undefined ? { interface: ifname } : {}),
        };
      });
  }
  for (const s of selections) {
    checkName('name', s.name, annotation);
    checkName('namespace', s.namespace, annotation);
    if (s.interface !== undefined) checkInterface(s.interface, annotation);
  }
  return selections;
}

/** Reads a NAD and returns its config as a list; a missing NAD fails with Multus's wording. */
async function loadNad(kubeConfig: KubeConfig, namespace: string, name: string): Promise<NetworkConfigList> {
  const api = kubeConfig.makeApiClient(CustomObjectsApi);
  let nad: { spec?: { config?: unknown } };
  try {
    nad = (await api.getNamespacedCustomObject({
      group: KINDS.NetworkAttachmentDefinition.group,
      version: KINDS.NetworkAttachmentDefinition.version,
      plural: KINDS.NetworkAttachmentDefinition.plural,
      namespace,
      name,
    })) as typeof nad;
  } catch (err) {
    if (err instanceof ApiException && err.code === 404) {
      throw new CniError(
        `cannot find a network-attachment-definition (${name}) in namespace (${namespace}): network-attachment-definitions.k8s.cni.cncf.io "${name}" not found`,
      );
    }
    throw err;
  }
  const config = nad.spec?.config;
  if (typeof config !== 'string' || !config.trim())
    throw new CniError(`network-attachment-definition ${namespace}/${name} has no spec.config`);
  return toConfList(config, `network-attachment-definition ${namespace}/${name}`);
}

export interface ClusterNetworkRef {
  namespace: string;
  name: string;
}
export type ClusterNetwork = NetworkConfigList | ClusterNetworkRef;

/** Resolves every attachment of a pod, in the order Multus adds them. Nothing is executed yet. */
export async function podAttachments(
  kubeConfig: KubeConfig,
  pod: V1Pod,
  clusterNetwork: ClusterNetwork,
  multusNamespace: string,
): Promise<Attachment[]> {
  const annotations = pod.metadata?.annotations ?? {};
  const podNamespace = pod.metadata?.namespace ?? 'default';
  const attachments: Attachment[] = [];

  const defaultAnnotation = annotations[MULTUS_ANNOTATION.defaultNetwork];
  const defaultRef = defaultAnnotation
    ? parseNetworkSelections(defaultAnnotation, multusNamespace, MULTUS_ANNOTATION.defaultNetwork)[0]
    : undefined;
  const cluster = defaultRef ?? clusterNetwork;
  if ('plugins' in cluster) {
    attachments.push({ network: cluster.name, ifname: 'eth0', isDefault: true, conf: cluster, capabilityArgs: {} });
  } else {
    attachments.push({
      network: `${cluster.namespace}/${cluster.name}`,
      ifname: 'eth0',
      isDefault: true,
      conf: await loadNad(kubeConfig, cluster.namespace, cluster.name),
      capabilityArgs: {},
    });
  }

  const selections = parseNetworkSelections(annotations[MULTUS_ANNOTATION.networks] ?? '', podNamespace);
  for (const [i, s] of selections.entries()) {
    const capabilityArgs: Record<string, unknown> = {};
    if (s.ips) capabilityArgs.ips = s.ips;
    if (s.mac) capabilityArgs.mac = s.mac;
    attachments.push({
      network: `${s.namespace}/${s.name}`,
      ifname: s.interface ?? `net${i + 1}`,
      isDefault: false,
      conf: await loadNad(kubeConfig, s.namespace, s.name),
      capabilityArgs,
    });
  }
  const names = attachments.map((a) => a.ifname);
  const duplicate = names.find((n, i) => names.indexOf(n) !== i);
  if (duplicate) throw new CniError(`${MULTUS_ANNOTATION.networks}: interface ${duplicate} is requested twice`);
  return attachments;
}

export interface NetworkStatus {
  name: string;
  interface: string;
  ips: string[];
  mac?: string;
  default: boolean;
  dns: Record<string, unknown>;
}

/** The k8s.v1.cni.cncf.io/network-status entry Multus writes for one attachment. */
export function networkStatus(attachment: Attachment, result: CniResult): NetworkStatus {
  const mac = resultMac(result, attachment.ifname);
  return {
    name: attachment.network,
    interface: attachment.ifname,
    ips: resultAddresses(result, attachment.ifname).map((a) => a.split('/')[0] ?? a),
    ...(mac ? { mac } : {}),
    default: attachment.isDefault,
    dns: result.dns ?? {},
  };
}
