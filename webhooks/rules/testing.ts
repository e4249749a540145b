// Test support for the rules: an in-memory ClusterView, admission requests, and a JSON patch applier
// that follows RFC 6902 for the operations the mutating handlers emit.
import type { KubernetesObject, V1Namespace, V1Node } from '@kubernetes/client-node';
import type {
  NetworkAttachmentDefinition,
  SpiderIPPool,
  SpiderMultusConfig,
  SpiderReservedIP,
  SpiderSubnet,
} from '../../api/v2beta1/types.ts';
import { GROUP, VERSION } from '../../api/v2beta1/constants.ts';
import type {
  AdmissionDecision,
  AdmissionHandler,
  AdmissionRequest,
  ClusterView,
  JsonPatchOperation,
  Operation,
} from '../types.ts';

export class FakeCluster implements ClusterView {
  pools: SpiderIPPool[] = [];
  subnets: SpiderSubnet[] = [];
  reservedIPs: SpiderReservedIP[] = [];
  nads: NetworkAttachmentDefinition[] = [];

  async listIPPools() {
    return structuredClone(this.pools);
  }
  async listSubnets() {
    return structuredClone(this.subnets);
  }
  async listReservedIPs() {
    return structuredClone(this.reservedIPs);
  }
  async getNamespace(): Promise<V1Namespace | undefined> {
    return undefined;
  }
  async getNode(): Promise<V1Node | undefined> {
    return undefined;
  }
  async pendingPodsNaming(): Promise<Set<string>> {
    return new Set();
  }
  async getNetworkAttachmentDefinition(namespace: string, name: string) {
    return this.nads.find((n) => n.metadata.namespace === namespace && n.metadata.name === name);
  }
  async getSpiderMultusConfig(): Promise<SpiderMultusConfig | undefined> {
    return undefined;
  }
}

const unescape = (token: string): string => token.replace(/~1/g, '/').replace(/~0/g, '~');

export function applyPatch<T>(document: T, patch: JsonPatchOperation[]): T {
  const root = structuredClone(document) as unknown as Record<string, unknown>;
  for (const op of patch) {
    const tokens = op.path.split('/').slice(1).map(unescape);
    const last = tokens.pop();
    if (last === undefined) throw new Error(`cannot patch the document root: ${JSON.stringify(op)}`);
    let parent: unknown = root;
    for (const t of tokens) {
      parent = (parent as Record<string, unknown>)[t];
      if (typeof parent !== 'object' || parent === null) throw new Error(`path ${op.path} does not exist`);
    }
    if (Array.isArray(parent)) {
      const index = last === '-' ? parent.length : Number(last);
      if (op.op === 'add') parent.splice(index, 0, op.value);
      else if (op.op === 'remove') parent.splice(index, 1);
      else parent[index] = op.value;
      continue;
    }
    const container = parent as Record<string, unknown>;
    if (op.op === 'remove') {
      if (!Object.hasOwn(container, last)) throw new Error(`path ${op.path} does not exist`);
      delete container[last];
    } else {
      if (op.op === 'replace' && !Object.hasOwn(container, last)) throw new Error(`path ${op.path} does not exist`);
      container[last] = op.value;
    }
  }
  return root as unknown as T;
}

export function request<T extends KubernetesObject>(
  operation: Operation,
  kind: string,
  object: T | undefined,
  oldObject?: T,
): AdmissionRequest {
  const obj = (object ?? oldObject) as KubernetesObject;
  const resource = `${kind.toLowerCase()}s`;
  return {
    uid: 'test',
    operation,
    kind: { group: GROUP, version: VERSION, kind },
    resource: { group: GROUP, version: VERSION, resource },
    name: obj.metadata?.name,
    namespace: obj.metadata?.namespace,
    ...(object ? { object } : {}),
    ...(oldObject ? { oldObject } : {}),
  };
}

/** Runs the mutating handler, applies its patch, then runs the validating one: what the apiserver does. */
export async function admit<T extends KubernetesObject>(
  mutate: AdmissionHandler | undefined,
  validate: AdmissionHandler,
  cluster: ClusterView,
  operation: Operation,
  kind: string,
  object: T,
  oldObject?: T,
): Promise<{ decision: AdmissionDecision; object: T }> {
  let current = object;
  if (mutate) {
    const m = await mutate(request(operation, kind, object, oldObject), cluster);
    if (!m.allowed) throw new Error(`a mutating handler denied: ${m.message}`);
    current = applyPatch(object, m.patch ?? []);
  }
  return { decision: await validate(request(operation, kind, current, oldObject), cluster), object: current };
}

export const meta = (name: string, extra: Record<string, unknown> = {}) => ({
  apiVersion: `${GROUP}/${VERSION}`,
  metadata: { name, ...extra },
});
