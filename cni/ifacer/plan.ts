// What ifacer does to the host, decided from the host's links alone (pure, so every decision is testable on a
// kernel without the vlan and bond drivers): the `ip` commands to run, in order, or an error. Nothing is ever
// removed: another NAD's pods may use the same VLAN interface or bond.
import { CNI_ERROR } from '../../lib/agent-api.ts';
import { CniError } from '../skel/errors.ts';
import { BOND_MODES, type Bond, type IfacerConfig } from './config.ts';

/** The fields of `ip -d -j link show` the decisions read. */
export interface HostLink {
  ifname: string;
  flags: string[];
  master?: string;
  link?: string;
  linkinfo?: { info_kind?: string; info_data?: { id?: number } };
}

const hostError = (message: string) => new CniError(CNI_ERROR.invalidEnvironment, `ifacer: ${message}`);

const up = (name: string): string[] => ['link', 'set', name, 'up'];

export function plan(conf: IfacerConfig, links: HostLink[]): string[][] {
  const byName = new Map(links.map((l) => [l.ifname, l]));
  const commands: string[][] = [];
  let parent: string;
  if (conf.bond) {
    commands.push(...bondCommands(conf.bond, conf.interfaces, byName));
    parent = conf.bond.name;
  } else {
    parent = conf.interfaces[0] as string;
    const link = byName.get(parent);
    if (!link) throw hostError(`interface ${parent} does not exist on the host`);
    if (conf.vlanID === 0) return [];
    if (!link.flags.includes('UP')) commands.push(up(parent));
  }
  if (conf.vlanID > 0) commands.push(...vlanCommands(parent, conf.vlanID, links, byName));
  return commands;
}

function vlanCommands(parent: string, id: number, links: HostLink[], byName: Map<string, HostLink>): string[][] {
  const name = `${parent}.${id}`;
  const other = links.find(
    (l) =>
      l.linkinfo?.info_kind === 'vlan' && l.link === parent && l.linkinfo.info_data?.id === id && l.ifname !== name,
  );
  if (other)
    throw hostError(
      `cannot have multiple different vlan interfaces with the same vlanId ${id} on ${parent}: ${other.ifname} already has it, ${name} was asked for`,
    );
  const existing = byName.get(name);
  if (existing) {
    const kind = existing.linkinfo?.info_kind;
    if (kind !== 'vlan' || existing.linkinfo?.info_data?.id !== id || (existing.link && existing.link !== parent))
      throw hostError(
        `${name} exists on the host but is not VLAN ${id} of ${parent} (it is a ${kind ?? 'plain'} link)`,
      );
    return existing.flags.includes('UP') ? [] : [up(name)];
  }
  return [['link', 'add', 'link', parent, 'name', name, 'type', 'vlan', 'id', String(id)], up(name)];
}

function bondCommands(bond: Bond, members: string[], byName: Map<string, HostLink>): string[][] {
  const commands: string[][] = [];
  const existing = byName.get(bond.name);
  if (existing && existing.linkinfo?.info_kind !== 'bond')
    throw hostError(
      `${bond.name} exists on the host and is not a bond (it is a ${existing.linkinfo?.info_kind ?? 'plain'} link)`,
    );
  if (!existing)
    commands.push([
      'link',
      'add',
      bond.name,
      'type',
      'bond',
      'mode',
      BOND_MODES[bond.mode] as string,
      ...bond.options.flatMap(([k, v]) => [k, v]),
    ]);
  for (const m of members) {
    const link = byName.get(m);
    if (!link) throw hostError(`bond member ${m} does not exist on the host`);
    if (link.master === bond.name) continue;
    if (link.master) throw hostError(`bond member ${m} is already enslaved to ${link.master}, not ${bond.name}`);
    commands.push(['link', 'set', m, 'down'], ['link', 'set', m, 'master', bond.name], up(m));
  }
  if (!existing?.flags.includes('UP')) commands.push(up(bond.name));
  return commands;
}
