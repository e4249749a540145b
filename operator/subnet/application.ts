// Which workloads ask for auto-created pools, and how many addresses each of their NICs and families needs
// (docs/auto-pools.md#applications, docs/auto-pools.md#sizing). An application is the pod's top controller as the agent
// resolves it (ipam/owner.ts): the pools made here are the ones the agent looks up by the application's UID.
import type {
  KubernetesObject,
  V1CronJob,
  V1DaemonSet,
  V1Deployment,
  V1Job,
  V1PodTemplateSpec,
  V1ReplicaSet,
  V1StatefulSet,
} from '@kubernetes/client-node';
import { isCronJobRef } from '../../ipam/owner.ts';
import { parsePodIPAMAnnotations } from '../../ipam/selection/annotations.ts';
import { APP_KINDS, isAppKind, type AppKind } from './kinds.ts';
import { DEFAULT_IP_NUMBER, ipNumberText, poolSize } from './pool-size.ts';

export interface AppRef {
  /** One of APP_KINDS, or a third-party kind, which then comes with its group and version. */
  kind: string;
  namespace: string;
  name: string;
  group?: string;
  version?: string;
}

/** The API group and version of the application's kind. */
export function gvOf(ref: AppRef): { group: string; version: string } {
  if (ref.group !== undefined && ref.version !== undefined) return { group: ref.group, version: ref.version };
  if (isAppKind(ref.kind)) return APP_KINDS[ref.kind];
  throw new Error(`${ref.kind} ${ref.namespace}/${ref.name} names no API group and version`);
}

export interface Application extends AppRef {
  uid: string;
  /** `apps/v1` or `batch/v1`. */
  apiVersion: string;
  /** How many pods the controller wants running at once. */
  replicas: number;
  template?: V1PodTemplateSpec;
  terminating: boolean;
}

/** One auto-created pool the application needs: one per NIC and family. */
export interface AutoPoolRequest {
  nic: string;
  family: 4 | 6;
  /** The SpiderSubnet the annotation names. */
  subnet: string;
  size: number;
  /** The ippool-ip-number value that produced `size`, recorded on the pool. */
  ipNumber: string;
  reclaim: boolean;
}

/** The reconcile key of an application: `Deployment/default/nginx`. */
export const appKey = (ref: AppRef): string => `${ref.kind}/${ref.namespace}/${ref.name}`;

export function parseAppKey(key: string): (AppRef & { kind: AppKind }) | undefined {
  const [kind = '', namespace, name, ...rest] = key.split('/');
  if (!isAppKind(kind) || !namespace || !name || rest.length > 0) return undefined;
  return { kind, namespace, name };
}

const appApiVersion = (ref: AppRef): string => {
  const { group, version } = gvOf(ref);
  return `${group}/${version}`;
};

/** `apps/v1 Deployment default/nginx`, for messages. */
export const describeApp = (ref: AppRef): string => `${appApiVersion(ref)} ${ref.kind} ${ref.namespace}/${ref.name}`;

/**
 * The application behind a watched object, or undefined for a ReplicaSet that a Deployment controls or a Job that a
 * CronJob controls (their pods belong to the Deployment or the CronJob).
 */
export function applicationOf(kind: AppKind, obj: KubernetesObject): Application | undefined {
  const meta = obj.metadata ?? {};
  const base = {
    kind,
    namespace: meta.namespace ?? '',
    name: meta.name ?? '',
    uid: meta.uid ?? '',
    apiVersion: `${APP_KINDS[kind].group}/${APP_KINDS[kind].version}`,
    terminating: !!meta.deletionTimestamp,
  };
  switch (kind) {
    case 'Deployment':
    case 'StatefulSet': {
      const spec = (obj as V1Deployment | V1StatefulSet).spec;
      // The apiserver defaults spec.replicas to 1.
      return { ...base, replicas: spec?.replicas ?? 1, template: spec?.template };
    }
    case 'ReplicaSet': {
      const owner = meta.ownerReferences?.find((r) => r.controller);
      if (owner?.kind === 'Deployment' && owner.apiVersion === 'apps/v1') return undefined;
      const spec = (obj as V1ReplicaSet).spec;
      return { ...base, replicas: spec?.replicas ?? 1, template: spec?.template };
    }
    case 'DaemonSet': {
      const set = obj as V1DaemonSet;
      return { ...base, replicas: set.status?.desiredNumberScheduled ?? 0, template: set.spec?.template };
    }
    case 'Job': {
      if (isCronJobRef(meta.ownerReferences?.find((r) => r.controller))) return undefined;
      const spec = (obj as V1Job).spec;
      return { ...base, replicas: jobPods(spec?.parallelism, spec?.completions), template: spec?.template };
    }
    case 'CronJob': {
      // One pool for every Job the CronJob starts, sized for one of them: Jobs that overlap share it.
      const spec = (obj as V1CronJob).spec?.jobTemplate.spec;
      return { ...base, replicas: jobPods(spec?.parallelism, spec?.completions), template: spec?.template };
    }
  }
}

/** Spiderpool's count for Jobs: completions when both are set, else parallelism; 0 or unset count as 1. */
export function jobPods(parallelism: number | undefined, completions: number | undefined): number {
  const n = parallelism !== undefined && completions !== undefined ? completions : (parallelism ?? 1);
  return n > 0 ? n : 1;
}

/**
 * The pools the application's pod template asks for: `subnets` wins over `subnet`, and only the first
 * subnet of each family is used. Empty when the template has no subnet annotation or runs in the host
 * network. Throws the annotation parser's WrongInput error for a malformed annotation.
 */
export function autoPoolRequests(app: Application): AutoPoolRequest[] {
  if (app.template?.spec?.hostNetwork) return [];
  const parsed = parsePodIPAMAnnotations(app.template?.metadata?.annotations);
  const items = parsed.subnets ?? (parsed.subnet ? [parsed.subnet] : []);
  const ipNumber = parsed.ippoolIPNumber ?? DEFAULT_IP_NUMBER;
  const common = {
    size: poolSize(ipNumber, app.replicas),
    ipNumber: ipNumberText(ipNumber),
    reclaim: parsed.ippoolReclaim ?? true,
  };
  return items.flatMap((item) => [
    ...(item.ipv4 === undefined ? [] : [{ nic: item.interface, family: 4 as const, subnet: item.ipv4, ...common }]),
    ...(item.ipv6 === undefined ? [] : [{ nic: item.interface, family: 6 as const, subnet: item.ipv6, ...common }]),
  ]);
}

/**
 * How the subnet status names the application of an auto-created pool:
 * `<group>_<version>_<Kind>_<namespace>_<name>` (Kubernetes names cannot contain `_`).
 */
export const applicationRecord = (ref: AppRef): string => {
  const { group, version } = gvOf(ref);
  return `${group}_${version}_${ref.kind}_${ref.namespace}_${ref.name}`;
};

/** The application of a subnet status record, or undefined for a kind this controller does not manage. */
export function parseApplicationRecord(record: string): AppRef | undefined {
  const parts = record.split('_');
  if (parts.length !== 5) return undefined;
  const [group, version, kind = '', namespace = '', name = ''] = parts;
  if (!isAppKind(kind) || APP_KINDS[kind].group !== group || APP_KINDS[kind].version !== version || !namespace || !name)
    return undefined;
  return { kind, namespace, name };
}
