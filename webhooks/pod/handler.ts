// Admission of a new pod: refuse IPAM annotations the agent would fail on, and steer the scheduler to the
// nodes where the pools the pod names can serve it. Allocation itself still re-checks everything, so a pod
// admitted while this webhook was unavailable fails at its CNI ADD with the same reasons.
import type { V1Pod } from '@kubernetes/client-node';
import { createLogger } from '../../lib/log.ts';
import type { AdmissionDecision, AdmissionHandler, ClusterView } from '../types.ts';
import { parsePodAnnotations } from './annotations.ts';
import { PodDenied } from './denied.ts';
import { placement } from './node-affinity.ts';
import { choosePools } from './pools.ts';
import { checkSubnetAnnotations } from './subnets.ts';
import { capacityWarnings, routeWarnings } from './warnings.ts';

export interface PodHandlerOptions {
  /** The product's namespace: bare multusName entries and bare default networks live here. */
  installNamespace: string;
  /** Namespaces whose pods are let through unchecked, even if the webhook is registered for them. */
  excludeNamespaces: string[];
  /** Multus' cluster network (`namespace/name`), as MULTUS_CLUSTER_NETWORK of the agent. */
  multusClusterNetwork?: string;
}

const log = createLogger('pod-webhook');

export function podAdmissionHandler(options: PodHandlerOptions): AdmissionHandler {
  const excluded = new Set(options.excludeNamespaces);
  return async (request, cluster) => {
    if (request.operation !== 'CREATE' || request.kind.kind !== 'Pod' || !request.object) return { allowed: true };
    const raw = request.object as V1Pod;
    // A pod in a create request may carry no namespace, and a generated name is not assigned yet.
    const namespace = request.namespace || raw.metadata?.namespace || 'default';
    if (excluded.has(namespace)) return { allowed: true };
    const pod: V1Pod = { ...raw, metadata: { ...raw.metadata, namespace } };
    const ref = `${namespace}/${pod.metadata?.name || `${pod.metadata?.generateName ?? ''}<generated>`}`;
    try {
      return await admit(pod, cluster, options);
    } catch (err) {
      if (err instanceof PodDenied) return { allowed: false, code: err.code, message: `Pod ${ref}: ${err.message}` };
      // The route's failurePolicy is Ignore: a pod the webhook cannot judge is let through, and the agent
      // reports any problem when it allocates.
      log.error('pod admission failed', { pod: ref, error: (err as Error).message });
      return {
        allowed: true,
        warnings: [`the IPAM annotations of pod ${ref} were not checked: ${(err as Error).message}`],
      };
    }
  };
}

async function admit(pod: V1Pod, cluster: ClusterView, options: PodHandlerOptions): Promise<AdmissionDecision> {
  const context = { installNamespace: options.installNamespace, multusClusterNetwork: options.multusClusterNetwork };
  const { ipam, nics, warnings } = parsePodAnnotations(pod, context);
  if (ipam.subnets || ipam.subnet) {
    await checkSubnetAnnotations(pod, ipam, cluster);
    return decision(warnings);
  }

  const namespace = pod.metadata?.namespace as string;
  const nodeName = pod.spec?.nodeName;
  const [ns, node] = await Promise.all([
    cluster.getNamespace(namespace),
    nodeName ? cluster.getNode(nodeName) : Promise.resolve(undefined),
  ]);
  const choices = await choosePools(
    {
      pod,
      namespace: ns ?? { metadata: { name: namespace } },
      nics,
      ipam,
      installNamespace: options.installNamespace,
      // A node that has not registered yet has no labels to match.
      ...(nodeName ? { node: node ?? { metadata: { name: nodeName } } } : {}),
    },
    cluster,
  );

  // A pod created with spec.nodeName bypasses the scheduler; its node was checked with the pools.
  const placed = nodeName ? {} : placement(pod, choices);
  if (placed.warning) warnings.push(placed.warning);
  warnings.push(...routeWarnings(ipam, choices), ...(await capacityWarnings(pod, choices, cluster)));
  return decision(warnings, placed.patch);
}

function decision(warnings: string[], patch?: AdmissionDecision['patch']): AdmissionDecision {
  return { allowed: true, ...(patch ? { patch } : {}), ...(warnings.length > 0 ? { warnings } : {}) };
}
