// The contract between the admission server and the rules. The server decodes an AdmissionReview,
// picks the handler for the request's kind, and turns what the handler returns into the response
// (uid echoed, JSONPatch base64-encoded, always HTTP 200). Handlers are plain functions of the
// request and a read-only view of the cluster, so they can be tested without a server.
import type { KubernetesObject, V1LabelSelector, V1Namespace, V1Node } from '@kubernetes/client-node';
import type {
  NetworkAttachmentDefinition,
  SpiderIPPool,
  SpiderMultusConfig,
  SpiderReservedIP,
  SpiderSubnet,
} from '../api/v2beta1/types.ts';
import type { Family } from '../lib/ip/index.ts';

export type Operation = 'CREATE' | 'UPDATE' | 'DELETE' | 'CONNECT';

export interface AdmissionRequest<T extends KubernetesObject = KubernetesObject> {
  uid: string;
  kind: { group: string; version: string; kind: string };
  resource: { group: string; version: string; resource: string };
  name?: string;
  namespace?: string;
  operation: Operation;
  /** Absent on DELETE. */
  object?: T;
  /** Present on UPDATE and DELETE. */
  oldObject?: T;
  dryRun?: boolean;
}

/** RFC 6902 operation; paths use JSON pointer escaping (`~1` for `/`). */
export interface JsonPatchOperation {
  op: 'add' | 'remove' | 'replace' | 'test';
  path: string;
  value?: unknown;
}

export interface AdmissionDecision {
  allowed: boolean;
  /** Required when denied: names the object, the field and the reason. */
  message?: string;
  /** Mutating handlers only. */
  patch?: JsonPatchOperation[];
  warnings?: string[];
  /** HTTP status reported to the client when denied: 403 unless set (422 Invalid, 409 AlreadyExists). */
  code?: number;
}

/** Reads the handlers need; served from fresh apiserver reads or an informer cache. */
export interface ClusterView {
  listIPPools(): Promise<SpiderIPPool[]>;
  listSubnets(): Promise<SpiderSubnet[]>;
  listReservedIPs(): Promise<SpiderReservedIP[]>;
  getNamespace(name: string): Promise<V1Namespace | undefined>;
  getNode(name: string): Promise<V1Node | undefined>;
  /**
   * "namespace/name" of the pods waiting in phase Pending that name any of these pools for the family in
   * their ippool or ippools annotation; may lag slightly behind (used for warnings only).
   */
  pendingPodsNaming(family: Family, poolNames: readonly string[]): Promise<Set<string>>;
  getNetworkAttachmentDefinition(namespace: string, name: string): Promise<NetworkAttachmentDefinition | undefined>;
  getSpiderMultusConfig(namespace: string, name: string): Promise<SpiderMultusConfig | undefined>;
}

export type AdmissionHandler = (request: AdmissionRequest, cluster: ClusterView) => Promise<AdmissionDecision>;

/** One webhook path the server serves and registers with the apiserver. */
export interface WebhookRoute {
  /** URL path, e.g. `/validate-spiderippool`. */
  path: string;
  type: 'mutating' | 'validating';
  /** What the webhook configuration registers for. */
  rule: {
    apiGroups: string[];
    apiVersions: string[];
    resources: string[];
    operations: Operation[];
    scope: 'Cluster' | 'Namespaced' | '*';
  };
  /**
   * The handler reads the list+watch caches, and only a refusal is decided again from consistent reads: for
   * a webhook that fails open and whose admissions are re-checked later (the pod webhook).
   */
  cachedReads?: boolean;
  /**
   * The handler reads pools and subnets from the caches once they are proven to hold every write the webhooks
   * admitted, and a validating route notes each pool or subnet write it admits (webhooks/admitted-writes.ts); a
   * refusal is decided again from consistent reads. For the pool and subnet webhooks, which fail closed.
   */
  provenReads?: boolean;
  /** Fail for the CRDs; see the pod webhook for its documented choice. */
  failurePolicy: 'Fail' | 'Ignore';
  /** Namespaces the webhook must not see (the product's own and kube-system for pods). */
  excludeNamespaces?: string[];
  /** Only objects whose labels match are sent to the webhook. */
  objectSelector?: V1LabelSelector;
  handler: AdmissionHandler;
}
