// The precedence rules (docs/pool-selection.md#rules): the first rule that yields anything wins, later rules are not
// consulted and results are never merged.
import { ANNOTATION } from '../../api/v2beta1/constants.ts';
import {
  parseNamespaceDefaultPools,
  type IPPoolsItem,
  type PodIPAMAnnotations,
  type PoolNames,
  type SubnetItem,
} from './annotations.ts';
import { findAutoPool } from './auto-pools.ts';
import { noAvailablePool, noPoolFor, podRef, wrongInput } from './errors.ts';
import { parseMultusNetworks } from './multus.ts';
import { expandPoolNames } from './pool-names.ts';
import { poolFamily } from '../records.ts';
import type { Family } from '../../lib/ip/index.ts';
import type { SelectionInput, SelectionRule } from './types.ts';
import { isThirdParty } from '../owner.ts';

export interface FamilyCandidates {
  /** Pool names in the order the rule produced them; empty when the NIC gets no address of this family. */
  names: string[];
  /** Why names is empty, for the error raised when a NIC ends up with no family at all. */
  absent?: string;
}

export interface NicCandidates {
  nic: string;
  /** The pod's first interface, whose network is Multus' default network rather than an extra one. */
  firstNic: boolean;
  cleanGateway: boolean;
  ipv4: FamilyCandidates;
  ipv6: FamilyCandidates;
}

export interface Candidates {
  rule: SelectionRule;
  nics: NicCandidates[];
}

/** How messages name each rule. */
export const RULE_SOURCE: Record<SelectionRule, string> = {
  subnet: 'subnet annotation',
  ippools: 'ippools annotation',
  ippool: 'ippool annotation',
  namespace: 'namespace annotation',
  cni: 'CNI config',
  'cluster-default': 'cluster default pools',
};

export function generateCandidates(input: SelectionInput, annotations: PodIPAMAnnotations): Candidates {
  if ((input.enableSpiderSubnet ?? true) && (annotations.subnets || annotations.subnet)) {
    if (!(input.enableAutoPoolForApplication ?? true)) {
      throw wrongInput(
        `pod ${podRef(input.pod)}: annotations ${ANNOTATION.subnets} and ${ANNOTATION.subnet} cannot be used while the ` +
          `auto-pool feature (enableAutoPoolForApplication) is disabled; name pools with ${ANNOTATION.ippool} instead`,
      );
    }
    return fromSubnets(input, annotations);
  }
  if (annotations.ippools) return fromIPPools(input, annotations.ippools);
  if (annotations.ippool)
    return singleNic(input, 'ippool', annotations.ippool, () => `annotation ${ANNOTATION.ippool}`);
  const nsDefaults = parseNamespaceDefaultPools(input.namespace);
  if (nsDefaults.ipv4.length > 0 || nsDefaults.ipv6.length > 0) {
    const ns = input.namespace.metadata?.name ?? '';
    return singleNic(
      input,
      'namespace',
      nsDefaults,
      (family) =>
        `annotation ${family === 4 ? ANNOTATION.namespaceDefaultIPv4 : ANNOTATION.namespaceDefaultIPv6} of namespace ${ns}`,
    );
  }
  const cni: PoolNames = { ipv4: input.cniDefaults.ipv4 ?? [], ipv6: input.cniDefaults.ipv6 ?? [] };
  if (cni.ipv4.length > 0 || cni.ipv6.length > 0) {
    return singleNic(input, 'cni', cni, (family) => `default_ipv${family}_ippool of the CNI config`);
  }
  return clusterDefault(input);
}

function fromSubnets(input: SelectionInput, annotations: PodIPAMAnnotations): Candidates {
  const { pod, ifName, topController: top } = input;
  const key = annotations.subnets ? ANNOTATION.subnets : ANNOTATION.subnet;
  if (top.kind === 'Pod') {
    throw wrongInput(
      `pod ${podRef(pod)}: ${key} asks for an auto-created IPPool, but the SpiderSubnet feature doesn't support no-controller pod; ` +
        `create the pod through a Deployment, StatefulSet, DaemonSet or Job, or name pools with ${ANNOTATION.ippool}`,
    );
  }
  if (isThirdParty(top) && (!annotations.ippoolIPNumber || annotations.ippoolIPNumber.flexible)) {
    throw wrongInput(
      `pod ${podRef(pod)}: ${key} asks for an auto-created IPPool, but its controller ${top.apiVersion} ${top.kind} ${top.namespace}/${top.name} ` +
        `is not a Kubernetes workload, whose pools can only be sized by a fixed number; set ${ANNOTATION.ippoolIPNumber} to one, such as "5"`,
    );
  }
  const items: SubnetItem[] = annotations.subnets ?? (annotations.subnet ? [annotations.subnet] : []);
  const item = items.find((i) => i.interface === ifName);
  if (!item) {
    const listed = items.map((i) => i.interface).join(', ');
    throw wrongInput(
      annotations.subnets
        ? `pod ${podRef(pod)}: annotation ${key} has no item for interface ${ifName} (it lists ${listed}); every NIC of the pod must be listed`
        : `pod ${podRef(pod)}: annotation ${key} covers interface ${listed} only, not ${ifName}; list every NIC in ${ANNOTATION.subnets}`,
    );
  }
  const family = (fam: Family): FamilyCandidates => {
    const subnet = fam === 4 ? item.ipv4 : item.ipv6;
    if (!familyEnabled(input, fam)) return { names: [], absent: `IPv${fam} is disabled in the agent configuration` };
    if (subnet === undefined) return { names: [], absent: `annotation ${key} names no IPv${fam} subnet for ${ifName}` };
    const context = noPoolFor(ifName, fam, pod, RULE_SOURCE.subnet);
    return {
      names: [
        findAutoPool({
          pools: input.pools,
          top,
          nic: ifName,
          family: fam,
          subnet,
          context,
          annotation: `annotation ${key}`,
        }).metadata.name,
      ],
    };
  };
  return {
    rule: 'subnet',
    nics: [
      {
        nic: ifName,
        firstNic: ifName === 'eth0',
        cleanGateway: input.cniDefaults.cleanGateway ?? false,
        ipv4: family(4),
        ipv6: family(6),
      },
    ],
  };
}

function fromIPPools(input: SelectionInput, items: IPPoolsItem[]): Candidates {
  const named = items.every((item) => item.interface !== undefined);
  const nics = named ? items.map((item) => item.interface as string) : positionalNics(input, items.length);
  if (named && !nics.includes(input.ifName)) {
    throw wrongInput(
      `pod ${podRef(input.pod)}: annotation ${ANNOTATION.ippools} lists interfaces ${nics.join(', ')} but not ${input.ifName}, ` +
        'the interface of this CNI call; add an item for it',
    );
  }
  return {
    rule: 'ippools',
    nics: items.map((item, i) => {
      const nic = nics[i] as string;
      const where = (): string => `annotation ${ANNOTATION.ippools} (item ${i})`;
      return {
        nic,
        firstNic: named ? nic === 'eth0' : i === 0,
        cleanGateway: item.cleanGateway,
        ipv4: familyCandidates(input, nic, 4, item.ipv4, where),
        ipv6: familyCandidates(input, nic, 6, item.ipv6, where),
      };
    }),
  };
}

/**
 * NIC names for `ippools` items without names. Item 0 is the NIC of this call and item k the k-th extra
 * network, named as Multus names it: its requested interface or `net<k>`. When this call is itself for an
 * extra network (a retry after the first NIC was served), item 0 is the pod's first interface, which
 * kubelet always calls eth0.
 */
function positionalNics(input: SelectionInput, count: number): string[] {
  const networks = parseMultusNetworks(input.pod.metadata?.annotations, input.pod.metadata?.namespace ?? '');
  const extra = Array.from({ length: count - 1 }, (_, i) => networks[i]?.interface ?? `net${i + 1}`);
  return [extra.includes(input.ifName) ? 'eth0' : input.ifName, ...extra];
}

function singleNic(
  input: SelectionInput,
  rule: SelectionRule,
  names: PoolNames,
  where: (family: Family) => string,
): Candidates {
  const nic = input.ifName;
  return {
    rule,
    nics: [
      {
        nic,
        firstNic: nic === 'eth0',
        cleanGateway: input.cniDefaults.cleanGateway ?? false,
        ipv4: familyCandidates(input, nic, 4, names.ipv4, where),
        ipv6: familyCandidates(input, nic, 6, names.ipv6, where),
      },
    ],
  };
}

function clusterDefault(input: SelectionInput): Candidates {
  const defaults = input.pools.filter((pool) => pool.spec.default === true);
  if (defaults.length === 0) {
    throw noAvailablePool(
      `${noPoolFor(input.ifName, undefined, input.pod, RULE_SOURCE['cluster-default'])}: no pool selection rules of any type are specified; ` +
        `name pools in the pod annotation ${ANNOTATION.ippool}, in the namespace annotation ${ANNOTATION.namespaceDefaultIPv4}, ` +
        'or in default_ipv4_ippool of the CNI config, or mark a SpiderIPPool with default: true',
    );
  }
  const family = (fam: Family): FamilyCandidates => {
    if (!familyEnabled(input, fam)) return { names: [], absent: `IPv${fam} is disabled in the agent configuration` };
    // By name, the order the API server lists pools in.
    const names = defaults
      .filter((pool) => poolFamily(pool) === fam)
      .map((pool) => pool.metadata.name)
      .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    return names.length > 0 ? { names } : { names, absent: `no IPv${fam} SpiderIPPool has default: true` };
  };
  const nic = input.ifName;
  return {
    rule: 'cluster-default',
    nics: [
      {
        nic,
        firstNic: nic === 'eth0',
        cleanGateway: input.cniDefaults.cleanGateway ?? false,
        ipv4: family(4),
        ipv6: family(6),
      },
    ],
  };
}

function familyCandidates(
  input: SelectionInput,
  nic: string,
  family: Family,
  entries: string[],
  where: (family: Family) => string,
): FamilyCandidates {
  const label = `IPv${family}`;
  if (!familyEnabled(input, family)) return { names: [], absent: `${label} is disabled in the agent configuration` };
  if (entries.length === 0) return { names: [], absent: `${where(family)} lists no ${label} pool` };
  const { names, unmatched } = expandPoolNames(entries, family, input.pools, `${where(family)} for ${nic} ${label}`);
  if (names.length === 0) {
    const patterns = `pattern${unmatched.length > 1 ? 's' : ''} ${unmatched.map((p) => `"${p}"`).join(', ')}`;
    return { names, absent: `${label} ${patterns} in ${where(family)} matched no ${label} pool` };
  }
  return { names };
}

const familyEnabled = (input: SelectionInput, family: Family): boolean =>
  family === 4 ? input.enableIPv4 : input.enableIPv6;
