// The CNI configuration a SpiderMultusConfig stands for (docs/multus-config.md#conflist): the `spec.config` of its
// NetworkAttachmentDefinition and the device-plugin resource the NAD must announce. Pure: the same object
// always gives the same JSON, so the reconciler can compare it with what the cluster holds.
import { MULTUS_CONFIG_ANNOTATION } from '../../api/v2beta1/constants.ts';
import type { SpiderMultusConfig, SpiderMultusConfigSpec } from '../../api/v2beta1/types.ts';
import * as plugin from './plugins.ts';
import type { MasterBased, Plugin } from './plugins.ts';

export const CNI_VERSIONS = ['0.3.0', '0.3.1', '0.4.0', '1.0.0'] as const;
const DEFAULT_CNI_VERSION = '0.3.1';

export type CniType = NonNullable<SpiderMultusConfigSpec['cniType']>;

/** A SpiderMultusConfig from which no NAD can be generated; the message names the object and the field. */
export class InvalidMultusConfigError extends Error {
  constructor(
    smc: SpiderMultusConfig,
    readonly field: string,
    readonly reason: string,
  ) {
    super(`SpiderMultusConfig ${smc.metadata.namespace}/${smc.metadata.name}: ${field}: ${reason}`);
    this.name = 'InvalidMultusConfigError';
  }
}

export interface NadContent {
  /** The conflist JSON; undefined for a `custom` SpiderMultusConfig without customCNI. */
  config?: string;
  /** Value of the NAD's `k8s.v1.cni.cncf.io/resourceName` annotation, for SR-IOV-like networks. */
  resourceName?: string;
}

/** The NAD name: the `multus.spidernet.io/cr-name` annotation, else the SpiderMultusConfig's own name. */
export function nadNameOf(smc: SpiderMultusConfig): string {
  return smc.metadata.annotations?.[MULTUS_CONFIG_ANNOTATION.nadName] || smc.metadata.name;
}

/** Throws InvalidMultusConfigError when the object cannot describe a network. */
export function generateNadContent(smc: SpiderMultusConfig): NadContent {
  const spec = smc.spec ?? {};
  const cniType = spec.cniType ?? 'custom';
  if (cniType === 'custom') return { config: customConfig(smc, spec.customCNI) };

  const generated = mainPlugins(smc, cniType, spec);
  const chain = (spec.chainCNIJsonData ?? []).map((text, i) => chainedPlugin(smc, text, i));
  const coordinator = (spec.enableCoordinator ?? true) ? [plugin.coordinator(spec.coordinator)] : [];
  const conflist = {
    cniVersion: cniVersionOf(smc),
    name: smc.metadata.annotations?.[MULTUS_CONFIG_ANNOTATION.cniConfigName] || nadNameOf(smc),
    plugins: [...generated.head, ...chain, ...coordinator, ...generated.tail],
  };
  return { config: JSON.stringify(conflist), resourceName: generated.resourceName };
}

interface Generated {
  /** ifacer (if any) and the main plugin, plus plugins that must follow the main one directly. */
  head: Plugin[];
  /** Plugins that run after the coordinator. */
  tail: Plugin[];
  resourceName?: string;
}

function mainPlugins(
  smc: SpiderMultusConfig,
  cniType: Exclude<CniType, 'custom'>,
  spec: SpiderMultusConfigSpec,
): Generated {
  switch (cniType) {
    case 'macvlan':
      return masterBased(smc, 'macvlan', spec, plugin.macvlan);
    case 'ipvlan':
      return masterBased(smc, 'ipvlan', spec, plugin.ipvlan);
    case 'vlan':
      return vlanPlugins(smc, spec);
    case 'sriov':
      return sriovPlugins(smc, spec);
    case 'ib-sriov':
      return ibSriovPlugins(smc, spec);
    case 'ipoib':
      return ipoibPlugins(smc, spec);
    case 'ovs':
      return ovsPlugins(smc, spec);
    default:
      throw new InvalidMultusConfigError(smc, 'spec.cniType', `unsupported value ${JSON.stringify(cniType)}`);
  }
}

function block<T>(smc: SpiderMultusConfig, field: string, cniType: string, value: T | undefined): T {
  if (!value) throw new InvalidMultusConfigError(smc, `spec.${field}`, `required when spec.cniType is ${cniType}`);
  return value;
}

function requireString(smc: SpiderMultusConfig, field: string, value: string | undefined): string {
  if (!value) throw new InvalidMultusConfigError(smc, field, 'must not be empty');
  return value;
}

function checkMasters(smc: SpiderMultusConfig, field: string, cfg: MasterBased): void {
  if (!Array.isArray(cfg.master) || cfg.master.length === 0)
    throw new InvalidMultusConfigError(smc, `${field}.master`, 'needs at least one interface');
  cfg.master.forEach((m, i) => requireString(smc, `${field}.master[${i}]`, m));
  if (cfg.master.length > 1 && !cfg.bond?.name) {
    throw new InvalidMultusConfigError(
      smc,
      `${field}.bond.name`,
      `required with ${cfg.master.length} master interfaces, which are bonded`,
    );
  }
}

function masterBased(
  smc: SpiderMultusConfig,
  field: 'macvlan' | 'ipvlan',
  spec: SpiderMultusConfigSpec,
  main: (cfg: MasterBased, ipam: Plugin | undefined) => Plugin,
): Generated {
  const cfg = block(smc, field, field, spec[field]);
  checkMasters(smc, `spec.${field}`, cfg);
  const ifacer = plugin.ifacer(cfg, cfg.vlanID);
  return { head: [...(ifacer ? [ifacer] : []), main(cfg, plugin.ipam(cfg.ippools, spec.disableIPAM))], tail: [] };
}

function vlanPlugins(smc: SpiderMultusConfig, spec: SpiderMultusConfigSpec): Generated {
  const cfg = block(smc, 'vlan', 'vlan', spec.vlan);
  checkMasters(smc, 'spec.vlan', cfg);
  // The vlan plugin creates the VLAN interface itself; ifacer is only needed to build the bond.
  const ifacer = plugin.ifacer(cfg, 0);
  return {
    head: [...(ifacer ? [ifacer] : []), plugin.vlan(cfg, plugin.ipam(cfg.ippools, spec.disableIPAM))],
    tail: [],
  };
}

function sriovPlugins(smc: SpiderMultusConfig, spec: SpiderMultusConfigSpec): Generated {
  const cfg = block(smc, 'sriov', 'sriov', spec.sriov);
  const resourceName = requireString(smc, 'spec.sriov.resourceName', cfg.resourceName);
  return {
    head: [
      plugin.sriov(cfg, plugin.ipam(cfg.ippools, spec.disableIPAM)),
      ...(cfg.rdmaIsolation ? [plugin.rdma()] : []),
    ],
    tail: cfg.mtu ? [plugin.tuning(cfg.mtu)] : [],
    resourceName,
  };
}

function ibSriovPlugins(smc: SpiderMultusConfig, spec: SpiderMultusConfigSpec): Generated {
  const cfg = block(smc, 'ibsriov', 'ib-sriov', spec.ibsriov);
  const resourceName = requireString(smc, 'spec.ibsriov.resourceName', cfg.resourceName);
  return { head: [plugin.ibSriov(cfg, plugin.ipam(cfg.ippools, spec.disableIPAM))], tail: [], resourceName };
}

function ipoibPlugins(smc: SpiderMultusConfig, spec: SpiderMultusConfigSpec): Generated {
  const cfg = block(smc, 'ipoib', 'ipoib', spec.ipoib);
  requireString(smc, 'spec.ipoib.master', cfg.master);
  return { head: [plugin.ipoib(cfg, plugin.ipam(cfg.ippools, spec.disableIPAM))], tail: [] };
}

/** With a deviceID the OVS port is an SR-IOV VF, handed out by the OVS device plugin under the bridge's name. */
function ovsPlugins(smc: SpiderMultusConfig, spec: SpiderMultusConfigSpec): Generated {
  const cfg = block(smc, 'ovs', 'ovs', spec.ovs);
  requireString(smc, 'spec.ovs.bridge', cfg.bridge);
  (cfg.trunk ?? []).forEach((t, i) => {
    if (t.minID !== undefined && t.maxID !== undefined && t.minID > t.maxID) {
      throw new InvalidMultusConfigError(
        smc,
        `spec.ovs.trunk[${i}]`,
        `minID ${t.minID} is greater than maxID ${t.maxID}`,
      );
    }
  });
  return {
    head: [plugin.ovs(cfg, plugin.ipam(cfg.ippools, spec.disableIPAM))],
    tail: [],
    resourceName: cfg.deviceID ? `ovs-cni.network.kubevirt.io/${cfg.bridge}` : undefined,
  };
}

function chainedPlugin(smc: SpiderMultusConfig, text: string, i: number): Plugin {
  const field = `spec.chainCNIJsonData[${i}]`;
  const value = parseJson(smc, field, text);
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new InvalidMultusConfigError(smc, field, 'must be a JSON object (one CNI plugin)');
  const type = (value as Plugin).type;
  if (typeof type !== 'string' || !type)
    throw new InvalidMultusConfigError(smc, field, 'a CNI plugin needs a non-empty "type"');
  return value as Plugin;
}

/** customCNI is the user's own conflist, passed through verbatim once it is known to be JSON. */
function customConfig(smc: SpiderMultusConfig, customCNI: string | undefined): string | undefined {
  if (!customCNI) return undefined;
  parseJson(smc, 'spec.customCNI', customCNI);
  return customCNI;
}

function parseJson(smc: SpiderMultusConfig, field: string, text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new InvalidMultusConfigError(smc, field, `not valid JSON (${(err as Error).message})`);
  }
}

function cniVersionOf(smc: SpiderMultusConfig): string {
  const value = smc.metadata.annotations?.[MULTUS_CONFIG_ANNOTATION.cniVersion];
  if (value === undefined) return DEFAULT_CNI_VERSION;
  if (!(CNI_VERSIONS as readonly string[]).includes(value)) {
    throw new InvalidMultusConfigError(
      smc,
      `metadata.annotations[${MULTUS_CONFIG_ANNOTATION.cniVersion}]`,
      `unsupported CNI version ${JSON.stringify(value)}, use one of ${CNI_VERSIONS.join(', ')}`,
    );
  }
  return value;
}
