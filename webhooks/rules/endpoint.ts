// SpiderEndpoint admission. Spiderpool has no webhook for it (docs/admission.md#spiderendpoint); the node agent writes
// it, and these rules only keep hand edits from recording something the agent and the GC would misread: addresses in
// CIDR form of the right family with their pool, gateways and routes of that family, one entry per interface. Nothing
// here reads the cluster, so it costs the agent's write nothing.
import type { IPAllocationDetail, SpiderEndpoint } from '../../api/v2beta1/types.ts';
import { KINDS } from '../../api/v2beta1/kinds.ts';
import { interfaceNameProblem } from '../../ipam/selection/names.ts';
import { type Family, parseCIDR, parseIP } from '../../lib/ip/index.ts';
import type { AdmissionHandler } from '../types.ts';
import { decide, objectRef, show, terminatingUpdate } from './decision.ts';

const KIND = KINDS.SpiderEndpoint.kind;

function familyOf(text: string, parse: (s: string) => { family: Family }): Family | string {
  try {
    return parse(text).family;
  } catch (err) {
    return (err as Error).message;
  }
}

function checkAddress(at: string, nic: IPAllocationDetail, family: Family, problems: string[]): void {
  const key = family === 4 ? 'ipv4' : 'ipv6';
  const address = nic[key];
  const pool = nic[`${key}Pool`];
  const gateway = nic[`${key}Gateway`];
  if (address !== undefined) {
    const got = address.includes('/')
      ? familyOf(address, parseCIDR)
      : `${show(address)} has no prefix length: use the CIDR form, e.g. ${show(`${address}/24`)}`;
    if (typeof got === 'string') problems.push(`${at}.${key}: ${got}`);
    else if (got !== family) problems.push(`${at}.${key} ${show(address)} is not an IPv${family} address`);
    if (!pool) problems.push(`${at}.${key}Pool is required when ${at}.${key} is set`);
  }
  if (gateway !== undefined) {
    const got = familyOf(gateway, parseIP);
    if (typeof got === 'string') problems.push(`${at}.${key}Gateway: ${got}`);
    else if (got !== family) problems.push(`${at}.${key}Gateway ${show(gateway)} is not an IPv${family} address`);
  }
}

export const validateEndpoint = (): AdmissionHandler => async (request) => {
  const ref = objectRef(KIND, request);
  // The agent removes its finalizer from whatever the endpoint holds, even a record these rules refuse.
  const terminating = terminatingUpdate(ref, request, 'status');
  if (terminating) return terminating;
  const endpoint = request.object as SpiderEndpoint;
  const current = endpoint.status?.current;
  const problems: string[] = [];
  if (current) {
    if (!current.uid) problems.push('status.current.uid must name the pod that holds the addresses');
    if (!current.node) problems.push('status.current.node must name the node of the pod');
    const seen = new Map<string, number>();
    current.ips.forEach((nic, i) => {
      const at = `status.current.ips[${i}]`;
      const nameProblem = interfaceNameProblem(nic.interface);
      if (nameProblem) problems.push(`${at}.interface ${show(nic.interface)} ${nameProblem}`);
      else if (seen.has(nic.interface))
        problems.push(
          `${at}.interface ${show(nic.interface)} duplicates status.current.ips[${seen.get(nic.interface)}].interface`,
        );
      else seen.set(nic.interface, i);
      checkAddress(at, nic, 4, problems);
      checkAddress(at, nic, 6, problems);
      (nic.routes ?? []).forEach((route, j) => {
        const dst = familyOf(route.dst, parseCIDR);
        const gw = familyOf(route.gw, parseIP);
        if (typeof dst === 'string') problems.push(`${at}.routes[${j}].dst: ${dst}`);
        if (typeof gw === 'string') problems.push(`${at}.routes[${j}].gw: ${gw}`);
        if (typeof dst === 'number' && typeof gw === 'number' && dst !== gw)
          problems.push(
            `${at}.routes[${j}]: dst ${show(route.dst)} and gw ${show(route.gw)} are of different IP families`,
          );
      });
    });
  }
  return decide(ref, problems);
};
