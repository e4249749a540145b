// The `ifacer` entry of a NAD chain (docs/cni-plugins.md#ifacer): the host interfaces a main plugin's master
// is built from. `{"type":"ifacer","interfaces":["ens192"],"vlanID":100}` asks for ens192.100;
// `{"interfaces":["ens192","ens224"],"bond":{"name":"bond0","mode":1,"options":"miimon=100"}}` for a bond.
import { describeValue, invalidConfig } from '../skel/errors.ts';
import { isObject, type Json } from '../skel/netconf.ts';

export const DEFAULT_BOND_NAME = 'sp_bond0';
/** The kernel's bond mode names by number (`ip link add … type bond mode <name>`). */
export const BOND_MODES = [
  'balance-rr',
  'active-backup',
  'balance-xor',
  'broadcast',
  '802.3ad',
  'balance-tlb',
  'balance-alb',
];
/**
 * Bond options `ip link` accepts, by the sysfs names Spiderpool's `options` use. A name outside the list is
 * refused: iproute2 would take the next word as its value, or the kernel would ignore it silently.
 */
export const BOND_OPTIONS = [
  'miimon',
  'updelay',
  'downdelay',
  'peer_notify_delay',
  'use_carrier',
  'arp_interval',
  'arp_ip_target',
  'arp_validate',
  'arp_all_targets',
  'primary',
  'primary_reselect',
  'fail_over_mac',
  'xmit_hash_policy',
  'resend_igmp',
  'num_grat_arp',
  'num_unsol_na',
  'all_slaves_active',
  'min_links',
  'lp_interval',
  'packets_per_slave',
  'tlb_dynamic_lb',
  'lacp_rate',
  'ad_select',
  'ad_user_port_key',
  'ad_actor_sys_prio',
  'ad_actor_system',
  'active_slave',
];

/** Linux interface names: 1-15 bytes, no '/', ':' or whitespace. */
const IFNAME = /^[^/:\s]{1,15}$/;

export interface Bond {
  name: string;
  mode: number;
  options: [string, string][];
}

export interface IfacerConfig {
  interfaces: string[];
  vlanID: number;
  bond?: Bond;
}

const field = (key: string, why: string) => invalidConfig(`ifacer config field "${key}" ${why}`);

function ifName(key: string, v: unknown): string {
  if (typeof v !== 'string' || !IFNAME.test(v))
    throw field(key, `must be an interface name (1-15 characters, no "/", ":" or blanks), got ${describeValue(v)}`);
  return v;
}

export function parseIfacerConfig(raw: Json): IfacerConfig {
  const list = raw.interfaces;
  if (!Array.isArray(list) || list.length === 0)
    throw field('interfaces', `must be a non-empty list of interface names, got ${describeValue(list)}`);
  const interfaces = list.map((v, i) => ifName(`interfaces[${i}]`, v));
  const dup = interfaces.find((n, i) => interfaces.indexOf(n) !== i);
  if (dup) throw field('interfaces', `names ${dup} twice`);
  const vlanID = raw.vlanID ?? 0;
  if (!Number.isInteger(vlanID) || (vlanID as number) < 0 || (vlanID as number) > 4094)
    throw field('vlanID', `must be an integer from 0 to 4094, got ${describeValue(raw.vlanID)}`);
  const bond = raw.bond === undefined || raw.bond === null ? undefined : parseBond(raw.bond);
  if (interfaces.length > 1 && !bond)
    throw field('bond', `is required when "interfaces" lists ${interfaces.length} interfaces: they are bonded`);
  return { interfaces, vlanID: vlanID as number, bond: interfaces.length > 1 ? bond : undefined };
}

function parseBond(v: unknown): Bond {
  if (!isObject(v)) throw field('bond', `must be an object {name, mode, options}, got ${describeValue(v)}`);
  const name = v.name === undefined || v.name === '' ? DEFAULT_BOND_NAME : ifName('bond.name', v.name);
  const mode = v.mode ?? 0;
  if (!Number.isInteger(mode) || (mode as number) < 0 || (mode as number) > 6)
    throw field('bond.mode', `must be an integer from 0 to 6, got ${describeValue(v.mode)}`);
  if (v.options !== undefined && typeof v.options !== 'string')
    throw field('bond.options', `must be a string "key=value;key=value", got ${describeValue(v.options)}`);
  const options: [string, string][] = [];
  for (const part of ((v.options as string | undefined) ?? '').split(';').map((p) => p.trim())) {
    if (!part) continue;
    const eq = part.indexOf('=');
    const key = eq < 0 ? part : part.slice(0, eq).trim();
    const value = eq < 0 ? '' : part.slice(eq + 1).trim();
    if (!BOND_OPTIONS.includes(key))
      throw field('bond.options', `has unknown option "${key}"; known options: ${BOND_OPTIONS.join(', ')}`);
    if (!/^[\w.:,-]+$/.test(value))
      throw field('bond.options', `option "${key}" needs a value (letters, digits, ".:,-_"), got "${value}"`);
    options.push([key, value]);
  }
  return { name, mode: mode as number, options };
}
