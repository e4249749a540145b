// The Multus annotations that say which NetworkAttachmentDefinition each pod interface comes from
// (docs/pool-selection.md#multus-networks). Parsing follows Multus, because a value Multus accepts is what the pod
// really got.
import { isIP } from 'node:net';
import type { V1Pod } from '@kubernetes/client-node';
import { MULTUS_ANNOTATION } from '../../api/v2beta1/constants.ts';
import { wrongInput, type SelectionError } from './errors.ts';
import { interfaceNameProblem, isDns1123Label } from './names.ts';

/** One NetworkSelectionElement with its namespace resolved. */
export interface NetworkSelection {
  namespace: string;
  name: string;
  /** The interface in the pod: the requested name, or `net<i+1>` for element i as Multus names it. */
  interface: string;
  /** Whether the annotation asked for that interface name. */
  interfaceRequested: boolean;
  mac?: string;
  ips?: string[];
  infinibandGuid?: string;
}

type Annotations = Record<string, string> | undefined;

/**
 * The extra networks of a pod (`k8s.v1.cni.cncf.io/networks`), in order; empty when it has none. Entries
 * without a namespace are in the pod's namespace, as in Multus.
 */
export function parseMultusNetworks(annotations: Annotations, podNamespace: string): NetworkSelection[] {
  const text = annotationValue(annotations, MULTUS_ANNOTATION.networks);
  if (text === undefined) return [];
  return parseSelections(MULTUS_ANNOTATION.networks, text, podNamespace).map((s, i) => ({
    ...s,
    interface: s.interface || `net${i + 1}`,
  }));
}

/**
 * The pod's own default network (`v1.multus-cni.io/default-network`), or undefined when it names none.
 * Multus looks a bare name up in its own namespace, which is the install namespace here.
 */
export function parseMultusDefaultNetwork(
  annotations: Annotations,
  installNamespace: string,
): NetworkSelection | undefined {
  const text = annotationValue(annotations, MULTUS_ANNOTATION.defaultNetwork);
  if (text === undefined) return undefined;
  const selections = parseSelections(MULTUS_ANNOTATION.defaultNetwork, text, installNamespace);
  const [only] = selections;
  if (only === undefined || selections.length > 1)
    throw invalid(MULTUS_ANNOTATION.defaultNetwork, `must name exactly one network, found ${selections.length}`);
  return { ...only, interface: only.interface || 'eth0' };
}

/** The network of one pod NIC as `namespace/name`, or why it cannot be known. */
export type NicNetwork = { network: string } | { unknown: string };

export interface NicNetworkQuery {
  pod: V1Pod;
  nic: string;
  /** The pod's first interface is attached to Multus' default network; the others to the networks annotation. */
  firstNic: boolean;
  installNamespace: string;
  multusClusterNetwork?: string;
}

/** Throws WrongInput when the annotation it needs is malformed. */
export function nicNetwork(q: NicNetworkQuery): NicNetwork {
  const annotations = q.pod.metadata?.annotations;
  if (q.firstNic) {
    const own = parseMultusDefaultNetwork(annotations, q.installNamespace);
    if (own) return { network: `${own.namespace}/${own.name}` };
    const cluster = q.multusClusterNetwork?.trim() ?? '';
    if (cluster === '')
      return {
        unknown: `the pod has no ${MULTUS_ANNOTATION.defaultNetwork} annotation and no Multus cluster network is configured`,
      };
    const slash = cluster.indexOf('/');
    const ns = slash < 0 ? q.installNamespace : cluster.slice(0, slash);
    const name = slash < 0 ? cluster : cluster.slice(slash + 1);
    if (name === '') return { unknown: `the Multus cluster network "${cluster}" names no NetworkAttachmentDefinition` };
    return { network: `${ns}/${name}` };
  }
  const networks = parseMultusNetworks(annotations, q.pod.metadata?.namespace ?? '');
  if (networks.length === 0) return { unknown: `the pod has no ${MULTUS_ANNOTATION.networks} annotation` };
  const match = networks.find((n) => n.interface === q.nic);
  if (!match)
    return {
      unknown: `${MULTUS_ANNOTATION.networks} has no entry for ${q.nic} (its interfaces: ${networks.map((n) => n.interface).join(', ')})`,
    };
  return { network: `${match.namespace}/${match.name}` };
}

function annotationValue(annotations: Annotations, key: string): string | undefined {
  if (!annotations || !Object.hasOwn(annotations, key)) return undefined;
  const text = (annotations[key] as string).trim();
  return text === '' ? undefined : text;
}

/** Elements with an empty `interface` when none was requested. */
function parseSelections(key: string, text: string, defaultNamespace: string): NetworkSelection[] {
  return /[[{"]/u.test(text) ? parseJsonForm(key, text, defaultNamespace) : parseTextForm(key, text, defaultNamespace);
}

// `[<namespace>/]<name>[@<interface>]`, comma separated.
function parseTextForm(key: string, text: string, defaultNamespace: string): NetworkSelection[] {
  return text.split(',').map((raw, i) => {
    const item = raw.trim();
    if (item === '') throw invalid(key, `entry ${i} is empty`);
    const slash = item.split('/');
    if (slash.length > 2) throw invalid(key, `entry "${item}" has more than one '/'`);
    const [nsPart, rest] = slash.length === 2 ? [(slash[0] as string).trim(), slash[1] as string] : ['', item];
    const at = rest.split('@');
    if (at.length > 2) throw invalid(key, `entry "${item}" has more than one '@'`);
    const name = (at[0] as string).trim();
    const ifName = (at[1] ?? '').trim();
    if (at.length === 2 && ifName === '') throw invalid(key, `entry "${item}" has an empty interface name after '@'`);
    return selection(key, `entry "${item}"`, { namespace: nsPart, name, ifName }, defaultNamespace);
  });
}

function parseJsonForm(key: string, text: string, defaultNamespace: string): NetworkSelection[] {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw invalid(key, `not valid JSON (${(err as Error).message})`);
  }
  if (!Array.isArray(value)) throw invalid(key, 'the JSON form must be an array of network selection objects');
  return value.map((raw: unknown, i) => {
    const where = `element ${i}`;
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
      throw invalid(key, `${where} must be a JSON object`);
    const el = raw as Record<string, unknown>;
    const str = (member: string): string => {
      const v = el[member];
      if (v === undefined || v === null) return '';
      if (typeof v !== 'string') throw invalid(key, `${where}: "${member}" must be a string`);
      return v;
    };
    const base = selection(
      key,
      where,
      { namespace: str('namespace'), name: str('name'), ifName: str('interface') },
      defaultNamespace,
    );
    const mac = str('mac');
    if (mac !== '' && !isHardwareAddress(mac)) throw invalid(key, `${where}: mac "${mac}" is not a hardware address`);
    const guid = str('infiniband-guid');
    if (guid !== '' && !isHardwareAddress(guid))
      throw invalid(key, `${where}: infiniband-guid "${guid}" is not a hardware address`);
    const ips = el.ips;
    if (ips !== undefined && ips !== null) {
      if (!Array.isArray(ips) || !ips.every((ip): ip is string => typeof ip === 'string'))
        throw invalid(key, `${where}: "ips" must be an array of strings`);
      const wrong = ips.find((ip) => isIP(ip.split('/')[0] as string) === 0);
      if (wrong !== undefined) throw invalid(key, `${where}: "${wrong}" in "ips" is not an IP address or CIDR`);
      base.ips = ips;
    }
    if (mac !== '') base.mac = mac;
    if (guid !== '') base.infinibandGuid = guid;
    return base;
  });
}

function selection(
  key: string,
  where: string,
  parts: { namespace: string; name: string; ifName: string },
  defaultNamespace: string,
): NetworkSelection {
  if (parts.name === '') throw invalid(key, `${where} names no network`);
  if (!isDns1123Label(parts.name))
    throw invalid(key, `${where}: network name "${parts.name}" must be lower-case alphanumerics and '-'`);
  if (parts.namespace !== '' && !isDns1123Label(parts.namespace)) {
    throw invalid(key, `${where}: namespace "${parts.namespace}" must be lower-case alphanumerics and '-'`);
  }
  if (parts.ifName !== '') {
    const problem = interfaceNameProblem(parts.ifName);
    if (problem) throw invalid(key, `${where}: interface name "${parts.ifName}" ${problem}`);
  }
  return {
    namespace: parts.namespace || defaultNamespace,
    name: parts.name,
    interface: parts.ifName,
    interfaceRequested: parts.ifName !== '',
  };
}

// Go's net.ParseMAC: EUI-48, EUI-64 and 20-octet InfiniBand addresses, written with ':' or '-' between
// octets or '.' between groups of four hex digits.
function isHardwareAddress(text: string): boolean {
  const octets = /^[0-9a-fA-F]{2}([:-])[0-9a-fA-F]{2}(\1[0-9a-fA-F]{2})*$/u.test(text) ? text.split(/[:-]/u).length : 0;
  const groups = /^[0-9a-fA-F]{4}(\.[0-9a-fA-F]{4})*$/u.test(text) ? text.split('.').length * 2 : 0;
  return [6, 8, 20].includes(octets || groups);
}

function invalid(key: string, what: string): SelectionError {
  return wrongInput(`annotation ${key} is invalid: ${what}`);
}
