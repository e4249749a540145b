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

/** KubeVirt's kinds, watched only where KubeVirt is installed (docs/workloads.md#kubevirt). */
export const VIRTUAL_MACHINE_INSTANCE: Kind = {
  group: 'kubevirt.io',
  version: 'v1',
  plural: 'virtualmachineinstances',
  kind: 'VirtualMachineInstance',
  namespaced: true,
  optional: true,
};
export const VIRTUAL_MACHINE: Kind = {
  group: 'kubevirt.io',
  version: 'v1',
  plural: 'virtualmachines',
  kind: 'VirtualMachine',
  namespaced: true,
  optional: true,
};
