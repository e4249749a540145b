// The Kubernetes built-in kinds several reconcilers watch; the Spiderpool kinds are api/v2beta1/kinds.ts.
import type { Kind } from './runtime/types.ts';

export const POD: Kind = { group: '', version: 'v1', plural: 'pods', kind: 'Pod', namespaced: true };
export const STATEFUL_SET: Kind = {
  group: 'apps',
  version: 'v1',
  plural: 'statefulsets',
  kind: 'StatefulSet',
  namespaced: true,
};
