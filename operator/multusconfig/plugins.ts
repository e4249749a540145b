// One builder per plugin entry of the generated conflist (docs/multus-config.md#plugin-chain). Builders are pure: they
// take the already validated SpiderMultusConfig blocks and return the plugin's JSON object, keys in the order a user
// reads them in the NAD. Absent values are left out; zero values that the API sets are kept.
import type {
  BondConfig,
  CoordinatorSpec,
  IbSriovConfig,
  IpoibConfig,
  OvsConfig,
  SpiderpoolPools,
  SriovConfig,
  VlanConfig,
} from '../../api/v2beta1/types.ts';

export type Plugin = Record<string, unknown>;

/** macvlan and ipvlan blocks have the same shape; vlan adds vlanMode. */
export interface MasterBased {
  master: string[];
  mtu?: number;
  vlanID?: number;
  bond?: BondConfig;
  ippools?: SpiderpoolPools;
}

/** Drops undefined values so that JSON and deep comparison see the same keys. */
function compact(entries: Plugin): Plugin {
  return Object.fromEntries(Object.entries(entries).filter(([, v]) => v !== undefined));
}

const nonEmpty = <T>(list: T[] | undefined): T[] | undefined => (list?.length ? list : undefined);
const nonEmptyString = (s: string | undefined): string | undefined => (s ? s : undefined);

/** The `ipam` block, or undefined when the SpiderMultusConfig disables IPAM. */
export function ipam(pools: SpiderpoolPools | undefined, disableIPAM: boolean | undefined): Plugin | undefined {
  if (disableIPAM) return undefined;
  return compact({
    type: 'spiderpool',
    default_ipv4_ippool: nonEmpty(pools?.ipv4),
    default_ipv6_ippool: nonEmpty(pools?.ipv6),
    match_master_subnet: pools?.matchMasterSubnet ? true : undefined,
  });
}

/** The host interface the macvlan/ipvlan child sits on: the bond for several masters, plus the VLAN suffix. */
function parentInterface(cfg: MasterBased): string {
  const base = cfg.master.length === 1 ? cfg.master[0] : cfg.bond?.name;
  return cfg.vlanID ? `${base}.${cfg.vlanID}` : `${base}`;
}

/** ifacer creates the bond and the VLAN sub-interface the main plugin needs; none is needed for one plain master. */
export function ifacer(cfg: MasterBased, vlanID: number | undefined): Plugin | undefined {
  if (!vlanID && cfg.master.length < 2) return undefined;
  return compact({
    type: 'ifacer',
    interfaces: cfg.master,
    vlanID: vlanID || undefined,
    bond: cfg.bond && compact({ name: cfg.bond.name, mode: cfg.bond.mode, options: cfg.bond.options }),
  });
}

export function macvlan(cfg: MasterBased, ipamBlock: Plugin | undefined): Plugin {
  return compact({ type: 'macvlan', master: parentInterface(cfg), mode: 'bridge', mtu: cfg.mtu, ipam: ipamBlock });
}

export function ipvlan(cfg: MasterBased, ipamBlock: Plugin | undefined): Plugin {
  return compact({ type: 'ipvlan', master: parentInterface(cfg), mtu: cfg.mtu, ipam: ipamBlock });
}

/** The vlan plugin makes the VLAN interface itself, so its master never carries the VLAN suffix. */
export function vlan(cfg: VlanConfig, ipamBlock: Plugin | undefined): Plugin {
  const vlanMode = cfg.vlanMode ?? 'manual';
  return compact({
    type: 'vlan',
    master: parentInterface({ ...cfg, vlanID: 0 }),
    vlanMode,
    vlanId: vlanMode === 'manual' ? (cfg.vlanID ?? 0) : undefined,
    mtu: cfg.mtu,
    ipam: ipamBlock,
  });
}

export function sriov(cfg: SriovConfig, ipamBlock: Plugin | undefined): Plugin {
  return compact({
    type: 'sriov',
    vlan: cfg.vlanID,
    min_tx_rate: cfg.minTxRateMbps,
    max_tx_rate: cfg.maxTxRateMbps,
    ipam: ipamBlock,
  });
}

export function ibSriov(cfg: IbSriovConfig, ipamBlock: Plugin | undefined): Plugin {
  return compact({
    type: 'ib-sriov',
    pkey: nonEmptyString(cfg.pkey),
    link_state: cfg.linkState,
    rdmaIsolation: cfg.rdmaIsolation,
    ibKubernetesEnabled: cfg.enableIbKubernetes,
    ipam: ipamBlock,
  });
}

export function ipoib(cfg: IpoibConfig, ipamBlock: Plugin | undefined): Plugin {
  return compact({ type: 'ipoib', master: cfg.master, ipam: ipamBlock });
}

export function ovs(cfg: OvsConfig, ipamBlock: Plugin | undefined): Plugin {
  return compact({
    type: 'ovs',
    bridge: cfg.bridge,
    vlan: cfg.vlan,
    trunk: nonEmpty(cfg.trunk)?.map((t) => compact({ minID: t.minID, maxID: t.maxID, id: t.id })),
    deviceID: nonEmptyString(cfg.deviceID),
    ipam: ipamBlock,
  });
}

export const rdma = (): Plugin => ({ type: 'rdma' });

export const tuning = (mtu: number): Plugin => ({ type: 'tuning', mtu });

/**
 * What the mutating webhook fills in when a SpiderMultusConfig has no coordinator block
 * (docs/admission.md#spidermultusconfig). The generation applies it too, so that an object created while the webhook
 * was unavailable gets the same NAD.
 */
export const DEFAULT_COORDINATOR: CoordinatorSpec = { mode: 'auto', tunePodRoutes: true, podRPFilter: 0 };

/**
 * The coordinator entry. Values present here override the SpiderCoordinator's for pods on this network, so
 * only what the SpiderMultusConfig sets is written. hostRuleTable and podCIDRType stay out: the plugin takes
 * them from the SpiderCoordinator. podRPFilter is written whenever set (upstream writes it only together
 * with podCIDRType, a bug). The API spells the off mode `disabled`, the plugin reads `disable`; the entry
 * uses the spelling every coordinator plugin accepts.
 */
export function coordinator(spec: CoordinatorSpec = DEFAULT_COORDINATOR): Plugin {
  return compact({
    type: 'coordinator',
    mode: spec.mode === 'disabled' ? 'disable' : spec.mode,
    hijackCIDR: nonEmpty(spec.hijackCIDR),
    policyRoutes: nonEmpty(spec.policyRoutes)?.map((r) => ({ dst: r.dst, gw: r.gw })),
    podMACPrefix: nonEmptyString(spec.podMACPrefix),
    podDefaultRouteNic: nonEmptyString(spec.podDefaultRouteNIC),
    vethLinkAddress: nonEmptyString(spec.vethLinkAddress),
    vethMTU: spec.vethMTU,
    tunePodRoutes: spec.tunePodRoutes,
    txQueueLen: spec.txQueueLen,
    podRPFilter: spec.podRPFilter,
  });
}
