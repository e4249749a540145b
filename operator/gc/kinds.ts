// The kinds the garbage collector reads.
import { GROUP, VERSION } from '../../api/v2beta1/types.ts';
import type { Kind } from '../runtime/types.ts';

export const POD: Kind = { group: '', version: 'v1', plural: 'pods', kind: 'Pod', namespaced: true };
export const STATEFUL_SET: Kind = { group: 'apps', version: 'v1', plural: 'statefulsets', kind: 'StatefulSet', namespaced: true };
export const SPIDER_IPPOOL: Kind = { group: GROUP, version: VERSION, plural: 'spiderippools', kind: 'SpiderIPPool', namespaced: false };
export const SPIDER_ENDPOINT: Kind = { group: GROUP, version: VERSION, plural: 'spiderendpoints', kind: 'SpiderEndpoint', namespaced: true };
