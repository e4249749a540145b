// Fresh reads and the writes of the garbage collector. Reads never come from a cache: they are the
// re-check that stands between a decision and a release. A 404 is an answer (undefined); any other error
// is thrown, so that nothing is freed on a read that failed.
import type { KubernetesObject } from '@kubernetes/client-node';
import type { SpiderEndpoint } from '../../api/v2beta1/types.ts';
import type { PoolStatusClient } from '../../ipam/retry.ts';
import { SpiderpoolClient, endpointPath, objectPath } from '../../lib/spiderpool-client.ts';

/** The agent's reads and writes, plus the endpoint deletion only the collector makes. */
export class GcClient extends SpiderpoolClient implements PoolStatusClient {
  /** A KubeVirt VirtualMachineInstance or VirtualMachine; undefined also where KubeVirt is not installed. */
  kubevirt(
    namespace: string,
    plural: 'virtualmachineinstances' | 'virtualmachines',
    name: string,
  ): Promise<KubernetesObject | undefined> {
    return this.get(objectPath('kubevirt.io/v1', plural, namespace, name));
  }

  /** Deletes exactly this version of the endpoint: 409 if it changed or was re-created meanwhile. */
  deleteEndpoint(endpoint: SpiderEndpoint): Promise<unknown> {
    const { namespace, name, uid, resourceVersion } = endpoint.metadata;
    return this.json.request('DELETE', endpointPath(namespace as string, name), {
      body: { preconditions: { uid, resourceVersion } },
    });
  }
}
