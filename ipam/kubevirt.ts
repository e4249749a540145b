// KubeVirt VM address retention (docs/workloads.md#kubevirt): a VM's successive virt-launcher pods get new names
// and UIDs, so their addresses are kept under the VirtualMachineInstance's name, which stays the same for as
// long as the VM lives. The agent and the garbage collector both decide with these rules.
import type { KubernetesObject } from '@kubernetes/client-node';
import { controllerOf, type TopController } from './owner.ts';

const KUBEVIRT_API_VERSION = 'kubevirt.io/v1';
export const VMI_KIND = 'VirtualMachineInstance';
const VM_KIND = 'VirtualMachine';

/** The VirtualMachineInstance a pod's addresses are kept under, when its top controller is one. */
export const vmiNameOf = (top: TopController): string | undefined =>
  top.kind === VMI_KIND && top.apiVersion === KUBEVIRT_API_VERSION ? top.name : undefined;

const controlledByVm = (vmi: KubernetesObject): boolean => {
  const owner = controllerOf(vmi.metadata?.ownerReferences);
  return owner?.kind === VM_KIND && owner.apiVersion === KUBEVIRT_API_VERSION;
};

/**
 * Whether a VM still wants its addresses, given its VirtualMachineInstance and the VirtualMachine of the same name
 * (each undefined when it does not exist). A running VMI does; a VMI on its way out does only when a VM will start
 * it again, which is also what a VMI that is already gone depends on.
 */
export function vmRetains(vmi: KubernetesObject | undefined, vm: KubernetesObject | undefined): boolean {
  if (vmi && !vmi.metadata?.deletionTimestamp) return true;
  if (vmi && !controlledByVm(vmi)) return false;
  return vm !== undefined && !vm.metadata?.deletionTimestamp;
}
