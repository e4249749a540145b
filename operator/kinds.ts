// The kinds several reconcilers watch. The runtime shares one cache per kind, so one constant per kind
// keeps every reconciler looking at the same cache.
import { GROUP, VERSION } from '../api/v2beta1/types.ts';
import type { Kind } from './runtime/types.ts';

const spiderpool = (plural: string, kind: string, namespaced = false): Kind => ({ group: GROUP, version: VERSION, plural, kind, namespaced });

export const SPIDER_IPPOOL = spiderpool('spiderippools', 'SpiderIPPool');
export const SPIDER_SUBNET = spiderpool('spidersubnets', 'SpiderSubnet');
export const SPIDER_RESERVED_IP = spiderpool('spiderreservedips', 'SpiderReservedIP');
export const SPIDER_ENDPOINT = spiderpool('spiderendpoints', 'SpiderEndpoint', true);
export const POD: Kind = { group: '', version: 'v1', plural: 'pods', kind: 'Pod', namespaced: true };
export const STATEFUL_SET: Kind = { group: 'apps', version: 'v1', plural: 'statefulsets', kind: 'StatefulSet', namespaced: true };
