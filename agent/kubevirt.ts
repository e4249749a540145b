// What the agent reads of KubeVirt (docs/workloads.md#kubevirt): the VirtualMachineInstance and VirtualMachine that
// decide whether a VM's addresses outlive the virt-launcher pod a DEL is for. Read fresh: a DEL that frees a running
// VM's addresses on a stale answer would hand them to another pod.
import type { KubernetesObject, V1Pod } from '@kubernetes/client-node';
import { VMI_KIND, vmRetains, vmiNameOf } from '../ipam/kubevirt.ts';
import { controllerOf } from '../ipam/owner.ts';
import { objectPath, type SpiderpoolClient } from '../lib/spiderpool-client.ts';

export class KubevirtVms {
  constructor(private readonly client: Pick<SpiderpoolClient, 'get'>) {}

  /** The VirtualMachineInstance whose name the pod's addresses are kept under, if the pod runs one. */
  vmiOf(pod: V1Pod): string | undefined {
    const owner = controllerOf(pod.metadata?.ownerReferences);
    return owner && vmiNameOf({ ...owner, namespace: pod.metadata?.namespace ?? '' });
  }

  /** Whether the endpoint's owner is a VM that still wants its addresses; false for any other owner. */
  async retains(namespace: string, ownerKind: string | undefined, ownerName: string | undefined): Promise<boolean> {
    if (ownerKind !== VMI_KIND || !ownerName) return false;
    const read = (plural: string) =>
      this.client.get<KubernetesObject>(objectPath('kubevirt.io/v1', plural, namespace, ownerName));
    const [vmi, vm] = await Promise.all([read('virtualmachineinstances'), read('virtualmachines')]);
    return vmRetains(vmi, vm);
  }
}
