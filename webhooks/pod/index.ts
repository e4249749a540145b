// The pod admission webhook (docs/admission.md#pods): validates the IPAM annotations of new pods and injects the node
// affinity their pools need.
import { INSTALL_NAMESPACE } from '../../api/v2beta1/constants.ts';
import type { WebhookRoute } from '../types.ts';
import { podAdmissionHandler } from './handler.ts';

export const POD_WEBHOOK_PATH = '/mutate--v1-pod';

export interface PodWebhookOptions {
  /** The product's namespace: never checked, and where bare multusName entries live. Default `spiderpool`. */
  installNamespace?: string;
  /** Multus' cluster network (`namespace/name`), as MULTUS_CLUSTER_NETWORK of the agent. */
  multusClusterNetwork?: string;
}

export function createPodRoutes(options: PodWebhookOptions = {}): WebhookRoute[] {
  const installNamespace = options.installNamespace ?? INSTALL_NAMESPACE;
  const excludeNamespaces = ['kube-system', installNamespace];
  return [
    {
      path: POD_WEBHOOK_PATH,
      type: 'mutating',
      // CREATE only, as Spiderpool registers it: the agent acts on the annotations when it first gives
      // the pod its addresses, so editing them later changes nothing that admission could protect.
      rule: { apiGroups: [''], apiVersions: ['v1'], resources: ['pods'], operations: ['CREATE'], scope: 'Namespaced' },
      // Ignore, deliberately, unlike the CRD webhooks: with Fail, this webhook being down or slow would
      // block every pod creation in every namespace, including the cluster's own add-ons. Nothing is lost
      // for correctness: the agent re-checks every annotation and pool at allocation and the pod's events
      // carry the same reasons. What is lost while it is down is the injected node affinity, so a pod
      // may then be scheduled onto a node its pools do not serve and wait there in ContainerCreating.
      failurePolicy: 'Ignore',
      // Failing open, it may read the caches: the agent re-checks every pool at allocation.
      cachedReads: true,
      excludeNamespaces,
      handler: podAdmissionHandler({
        installNamespace,
        excludeNamespaces,
        ...(options.multusClusterNetwork ? { multusClusterNetwork: options.multusClusterNetwork } : {}),
      }),
    },
  ];
}
