// SpiderMultusConfig admission (docs/admission.md#spidermultusconfig). Mutation fills the per-type defaults, the
// coordinator block and the injection labels. Validation: the NAD name annotation, the CNI version, exactly the block
// that cniType names, that block's fields, the injection annotations, the coordinator block and the chained plugins.
import type {
  CoordinatorSpec,
  SpiderMultusConfig,
  SpiderMultusConfigSpec,
  SpiderpoolPools,
} from '../../api/v2beta1/types.ts';
import { MULTUS_CONFIG_ANNOTATION } from '../../api/v2beta1/constants.ts';
import { KINDS } from '../../api/v2beta1/kinds.ts';
import { interfaceNameProblem } from '../../ipam/selection/names.ts';
import type { AdmissionHandler, ClusterView } from '../types.ts';
import { checkCoordinatorSpec, normalizeCoordinator } from './coordinator.ts';
import { ALLOWED, decide, isTerminating, objectRef, show, terminatingUpdate } from './decision.ts';
import { isDns1123Subdomain, isLabelValue } from './names.ts';
import { mutation, setLabel } from './patch.ts';

const KIND = KINDS.SpiderMultusConfig.kind;
type CniType = NonNullable<SpiderMultusConfigSpec['cniType']>;
type BlockKey = 'macvlan' | 'ipvlan' | 'vlan' | 'sriov' | 'ibsriov' | 'ipoib' | 'ovs';
type Block = Record<string, unknown> & { ippools?: SpiderpoolPools };

const BLOCK_OF: Record<CniType, BlockKey | undefined> = {
  macvlan: 'macvlan',
  ipvlan: 'ipvlan',
  vlan: 'vlan',
  sriov: 'sriov',
  'ib-sriov': 'ibsriov',
  ipoib: 'ipoib',
  ovs: 'ovs',
  custom: undefined,
};
const BLOCKS = Object.values(BLOCK_OF).filter((k): k is BlockKey => k !== undefined);
const CNI_VERSIONS = ['0.3.0', '0.3.1', '0.4.0', '1.0.0'];
const PCI_ADDRESS = /^[0-9a-fA-F]{4}:[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\.[0-7]$/;

// Spiderpool's empty-string defaults (rdmaResourceName, pkey, bond.options, customCNI and the coordinator's
// strings) are left out: absent means the same, and the apiserver cannot receive "" in a patch (see patch.ts).
const BLOCK_DEFAULTS: Record<BlockKey, Record<string, unknown>> = {
  macvlan: { vlanID: 0, mtu: 0 },
  ipvlan: { vlanID: 0, mtu: 0 },
  vlan: { vlanMode: 'manual', mtu: 0 },
  sriov: { vlanID: 0, mtu: 0, minTxRateMbps: 0, maxTxRateMbps: 0, rdmaIsolation: false },
  ibsriov: { enableIbKubernetes: false, rdmaIsolation: true, linkState: 'enable' },
  ipoib: {},
  ovs: { vlan: 0 },
};

// Spiderpool defaults tunePodRoutes to false when the block is present but the field is not, and to
// true when the block is absent; true is used in both cases (the CRD's own default is true as well).
const coordinatorDefaults = (): CoordinatorSpec => ({
  mode: 'auto',
  hijackCIDR: [],
  policyRoutes: [],
  podRPFilter: 0,
  txQueueLen: 0,
  tunePodRoutes: true,
});

function defaultBlock(key: BlockKey, block: Block): Block {
  const out: Block = { ...BLOCK_DEFAULTS[key], ...block };
  if (key === 'vlan' && out.vlanMode === 'manual') out.vlanID ??= 0;
  out.ippools = { ipv4: [], ipv6: [], matchMasterSubnet: false, ...out.ippools };
  return out;
}

export const mutateMultusConfig = (): AdmissionHandler => async (request) => {
  const smc = request.object as SpiderMultusConfig | undefined;
  if (!smc || isTerminating(smc)) return ALLOWED;
  return mutation(smc, (copy) => {
    const spec = (copy.spec ??= {});
    spec.cniType ??= 'custom';
    const key = BLOCK_OF[spec.cniType];
    const blocks = spec as Record<string, unknown> as Record<BlockKey, Block | undefined>;
    const block = key && blocks[key];
    if (key && block) blocks[key] = defaultBlock(key, block);
    if (spec.cniType === 'custom') {
      delete spec.coordinator;
      spec.enableCoordinator = false;
    } else {
      const coordinator = { ...coordinatorDefaults(), ...spec.coordinator };
      normalizeCoordinator(coordinator);
      spec.coordinator = coordinator;
    }
    spec.chainCNIJsonData ??= [];
    for (const annotation of [MULTUS_CONFIG_ANNOTATION.rdmaInject, MULTUS_CONFIG_ANNOTATION.networkInject]) {
      const value = copy.metadata.annotations?.[annotation];
      if (value && isLabelValue(value)) setLabel(copy, annotation, value);
    }
  });
};

const annotationPath = (key: string): string => `metadata.annotations[${show(key)}]`;

async function checkNadName(
  smc: SpiderMultusConfig,
  stored: SpiderMultusConfig | undefined,
  cluster: ClusterView,
  problems: string[],
): Promise<void> {
  const customName = smc.metadata.annotations?.[MULTUS_CONFIG_ANNOTATION.nadName];
  if (stored) {
    const before = stored.metadata.annotations?.[MULTUS_CONFIG_ANNOTATION.nadName];
    if (before !== customName) {
      problems.push(
        `${annotationPath(MULTUS_CONFIG_ANNOTATION.nadName)} cannot be added, changed or removed after creation (was ${show(before ?? null)}, now ${show(customName ?? null)}): the NetworkAttachmentDefinition keeps its name`,
      );
      return;
    }
  }
  if (customName !== undefined && !isDns1123Subdomain(customName)) {
    problems.push(
      `${annotationPath(MULTUS_CONFIG_ANNOTATION.nadName)} ${show(customName)} is not a valid NetworkAttachmentDefinition name: use lower case letters, digits, '-' and '.' (DNS-1123 subdomain)`,
    );
    return;
  }
  const namespace = smc.metadata.namespace ?? 'default';
  const nadName = customName ?? smc.metadata.name;
  const nad = await cluster.getNetworkAttachmentDefinition(namespace, nadName);
  const owner = nad?.metadata.ownerReferences?.find((r) => r.controller && r.kind === KIND);
  if (owner && owner.name !== smc.metadata.name) {
    const field = customName === undefined ? 'metadata.name' : annotationPath(MULTUS_CONFIG_ANNOTATION.nadName);
    problems.push(
      `${field}: the NetworkAttachmentDefinition ${namespace}/${nadName} already exists and is managed by ${KIND} ${namespace}/${owner.name}`,
    );
  }
}

function checkPools(field: string, pools: SpiderpoolPools | undefined, problems: string[]): void {
  for (const family of ['ipv4', 'ipv6'] as const) {
    const names = pools?.[family] ?? [];
    names.forEach((name, i) => {
      if (!isDns1123Subdomain(name))
        problems.push(`${field}.ippools.${family}[${i}] ${show(name)} is not a valid SpiderIPPool name`);
      else if (names.indexOf(name) !== i)
        problems.push(`${field}.ippools.${family}[${i}] ${show(name)} is listed twice`);
    });
  }
}

function checkInterface(field: string, name: unknown, problems: string[]): void {
  const problem = typeof name === 'string' ? interfaceNameProblem(name) : 'is not a string';
  if (problem) problems.push(`${field} ${show(name)} ${problem}`);
}

function checkRange(field: string, value: unknown, min: number, max: number, problems: string[]): void {
  if (typeof value === 'number' && (value < min || value > max || !Number.isInteger(value)))
    problems.push(`${field} ${value} must be an integer from ${min} to ${max}`);
}

function checkMasterBased(key: 'macvlan' | 'ipvlan' | 'vlan', block: Block, problems: string[]): void {
  const f = `spec.${key}`;
  const masters = Array.isArray(block.master) ? (block.master as unknown[]) : [];
  if (masters.length === 0) problems.push(`${f}.master must list at least one host interface`);
  masters.forEach((m, i) => {
    checkInterface(`${f}.master[${i}]`, m, problems);
    if (masters.indexOf(m) !== i) problems.push(`${f}.master[${i}] ${show(m)} is listed twice`);
  });
  const bond = block.bond as { name?: string } | undefined;
  if (masters.length >= 2 && !bond)
    problems.push(`${f}.bond is required when ${f}.master lists ${masters.length} interfaces: they are bonded`);
  if (bond) checkInterface(`${f}.bond.name`, bond.name ?? '', problems);
  checkRange(`${f}.vlanID`, block.vlanID, 0, 4094, problems);
  checkRange(`${f}.mtu`, block.mtu, 0, 2 ** 31 - 1, problems);
  if (block.ippools?.matchMasterSubnet)
    problems.push(`${f}.ippools.matchMasterSubnet is not supported for cniType ${key}`);
  if (key === 'vlan') {
    if (block.vlanMode === 'auto' && block.vlanID !== undefined)
      problems.push(`${f}.vlanID must not be set when ${f}.vlanMode is "auto": the VLAN is learned from the master`);
    if (block.vlanMode === 'manual' && block.vlanID === undefined)
      problems.push(`${f}.vlanID is required when ${f}.vlanMode is "manual"`);
    if (block.vlanMode !== undefined && block.vlanMode !== 'manual' && block.vlanMode !== 'auto')
      problems.push(`${f}.vlanMode ${show(block.vlanMode)} is not one of manual, auto`);
  }
}

function checkBlock(key: BlockKey, block: Block, problems: string[]): void {
  const f = `spec.${key}`;
  switch (key) {
    case 'macvlan':
    case 'ipvlan':
    case 'vlan':
      checkMasterBased(key, block, problems);
      break;
    case 'sriov': {
      if (!block.resourceName)
        problems.push(`${f}.resourceName is required: the SR-IOV device plugin resource of the VFs`);
      checkRange(`${f}.vlanID`, block.vlanID, 0, 4094, problems);
      checkRange(`${f}.mtu`, block.mtu, 0, 2 ** 31 - 1, problems);
      const min = (block.minTxRateMbps as number | undefined) ?? 0;
      const max = (block.maxTxRateMbps as number | undefined) ?? 0;
      // A maximum of 0 means "no limit".
      if (max > 0 && min > max) problems.push(`${f}.minTxRateMbps ${min} is greater than ${f}.maxTxRateMbps ${max}`);
      break;
    }
    case 'ibsriov':
      if (!block.resourceName)
        problems.push(`${f}.resourceName is required: the SR-IOV device plugin resource of the VFs`);
      break;
    case 'ipoib':
      checkInterface(`${f}.master`, block.master ?? '', problems);
      break;
    case 'ovs': {
      if (!block.bridge) problems.push(`${f}.bridge is required: the OVS bridge to attach to`);
      checkRange(`${f}.vlan`, block.vlan, 0, 4094, problems);
      const trunks = Array.isArray(block.trunk)
        ? (block.trunk as { minID?: number; maxID?: number; id?: number }[])
        : [];
      trunks.forEach((t, i) => {
        const at = `${f}.trunk[${i}]`;
        for (const k of ['minID', 'maxID', 'id'] as const) checkRange(`${at}.${k}`, t[k], 0, 4094, problems);
        if (t.id === undefined && (t.minID === undefined || t.maxID === undefined))
          problems.push(`${at} must set id, or both minID and maxID`);
        if (t.minID !== undefined && t.maxID !== undefined && t.minID > t.maxID)
          problems.push(`${at}.minID ${t.minID} is greater than ${at}.maxID ${t.maxID}`);
      });
      if (block.deviceID !== undefined && block.deviceID !== '' && !PCI_ADDRESS.test(String(block.deviceID))) {
        problems.push(`${f}.deviceID ${show(block.deviceID)} is not a PCI address such as "0000:81:00.1"`);
      }
      break;
    }
  }
  checkPools(f, block.ippools, problems);
}

const rdmaResource = (key: BlockKey, block: Block): string => {
  const value =
    key === 'sriov' || key === 'ibsriov' ? block.resourceName : key === 'ipoib' ? block.master : block.rdmaResourceName;
  return typeof value === 'string' ? value : '';
};

function checkInjection(smc: SpiderMultusConfig, key: BlockKey | undefined, problems: string[]): void {
  const annotations = smc.metadata.annotations ?? {};
  const block = key ? ((smc.spec as Record<BlockKey, Block | undefined>)[key] ?? {}) : {};
  const hasPools = (block.ippools?.ipv4?.length ?? 0) + (block.ippools?.ipv6?.length ?? 0) > 0;
  for (const annotation of [MULTUS_CONFIG_ANNOTATION.rdmaInject, MULTUS_CONFIG_ANNOTATION.networkInject]) {
    const value = annotations[annotation];
    if (value === undefined) continue;
    const at = annotationPath(annotation);
    if (!isLabelValue(value))
      problems.push(`${at} ${show(value)} is not a valid label value, and it is copied to the labels`);
    if (!key || key === 'ovs') {
      problems.push(`${at} is not supported for cniType ${smc.spec?.cniType}`);
      continue;
    }
    const resource = rdmaResource(key, block);
    if (annotation === MULTUS_CONFIG_ANNOTATION.rdmaInject && !resource)
      problems.push(`${at} needs an RDMA resource name in spec.${key}`);
    if ((annotation === MULTUS_CONFIG_ANNOTATION.rdmaInject || resource) && !hasPools)
      problems.push(`${at} needs at least one default pool in spec.${key}.ippools`);
  }
}

function checkChain(entries: string[], problems: string[]): void {
  entries.forEach((text, i) => {
    let plugin: unknown;
    try {
      plugin = JSON.parse(text);
    } catch (err) {
      problems.push(`spec.chainCNIJsonData[${i}] is not valid JSON: ${(err as Error).message}`);
      return;
    }
    const type = (plugin as { type?: unknown } | null)?.type;
    if (typeof plugin !== 'object' || Array.isArray(plugin) || typeof type !== 'string' || type === '') {
      problems.push(
        `spec.chainCNIJsonData[${i}] is not a CNI plugin configuration: it must be a JSON object with a "type"`,
      );
    }
  });
}

function checkCustom(spec: SpiderMultusConfigSpec, problems: string[]): void {
  if (!spec.customCNI) return;
  let parsed: unknown;
  try {
    parsed = JSON.parse(spec.customCNI);
  } catch (err) {
    problems.push(`spec.customCNI is not valid JSON: ${(err as Error).message}`);
    return;
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    problems.push('spec.customCNI must be a JSON object (a CNI configuration or configuration list)');
}

export const validateMultusConfig = (): AdmissionHandler => async (request, cluster) => {
  const ref = objectRef(KIND, request);
  const terminating = terminatingUpdate(ref, request);
  if (terminating) return terminating;
  const smc = request.object as SpiderMultusConfig;
  const spec = smc.spec ?? {};
  const stored = request.operation === 'UPDATE' ? (request.oldObject as SpiderMultusConfig | undefined) : undefined;
  const problems: string[] = [];
  const version = smc.metadata.annotations?.[MULTUS_CONFIG_ANNOTATION.cniVersion];
  if (version !== undefined && !CNI_VERSIONS.includes(version)) {
    problems.push(
      `${annotationPath(MULTUS_CONFIG_ANNOTATION.cniVersion)} ${show(version)} is not a supported CNI version: one of ${CNI_VERSIONS.join(', ')}`,
    );
  }
  const cniType = spec.cniType;
  if (cniType === undefined || !Object.hasOwn(BLOCK_OF, cniType)) {
    problems.push(`spec.cniType ${show(cniType ?? null)} is not one of ${Object.keys(BLOCK_OF).join(', ')}`);
    return decide(ref, problems);
  }
  const key = BLOCK_OF[cniType];
  for (const other of BLOCKS) {
    if (other !== key && spec[other] !== undefined)
      problems.push(
        `spec.${other} must not be set when spec.cniType is ${show(cniType)}: only ${key ? `spec.${key}` : 'spec.customCNI'} is used`,
      );
  }
  if (key && spec.customCNI) problems.push(`spec.customCNI must be empty when spec.cniType is ${show(cniType)}`);
  if (key) {
    const block = spec[key] as Block | undefined;
    if (!block) problems.push(`spec.${key} is required when spec.cniType is ${show(cniType)}`);
    else checkBlock(key, block, problems);
  } else {
    checkCustom(spec, problems);
  }
  checkInjection(smc, key, problems);
  if (spec.coordinator) checkCoordinatorSpec('spec.coordinator', spec.coordinator, false, problems);
  checkChain(spec.chainCNIJsonData ?? [], problems);
  await checkNadName(smc, stored, cluster, problems);
  return decide(ref, problems);
};
