// Mutating handlers change a copy of the object; the JSON patch is the difference between the two.
// Objects are compared member by member, so the patch touches only what changed; arrays and scalars are
// replaced whole. Mutators never write "": the 1.20 apiserver's JSON patch turns an empty string
// anywhere in a patch value into null, which the structural schemas then refuse.
import type { KubernetesObject } from '@kubernetes/client-node';
import type { AdmissionDecision, JsonPatchOperation } from '../types.ts';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

const isObject = (v: unknown): v is Record<string, Json> => typeof v === 'object' && v !== null && !Array.isArray(v);

const pointer = (path: string, key: string): string => `${path}/${key.replace(/~/g, '~0').replace(/\//g, '~1')}`;

function sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

function diffInto(
  ops: JsonPatchOperation[],
  path: string,
  before: Record<string, Json>,
  after: Record<string, Json>,
): void {
  for (const key of Object.keys(before)) {
    if (!Object.hasOwn(after, key)) ops.push({ op: 'remove', path: pointer(path, key) });
  }
  for (const [key, value] of Object.entries(after)) {
    const old = before[key];
    if (isObject(old) && isObject(value)) diffInto(ops, pointer(path, key), old, value);
    else if (!Object.hasOwn(before, key) || !sameJson(old, value))
      ops.push({ op: 'add', path: pointer(path, key), value });
  }
}

export function diffPatch(before: object, after: object): JsonPatchOperation[] {
  const ops: JsonPatchOperation[] = [];
  // Round-trip through JSON so members set to undefined count as absent, as they will on the wire.
  diffInto(
    ops,
    '',
    JSON.parse(JSON.stringify(before)) as Record<string, Json>,
    JSON.parse(JSON.stringify(after)) as Record<string, Json>,
  );
  return ops;
}

/** Runs `mutate` on a deep copy of `object` and answers with the patch it amounts to. Never denies. */
export function mutation<T extends KubernetesObject>(object: T, mutate: (copy: T) => void): AdmissionDecision {
  const copy = structuredClone(object);
  mutate(copy);
  const patch = diffPatch(object, copy);
  return patch.length === 0 ? { allowed: true } : { allowed: true, patch };
}

export function addFinalizer(object: KubernetesObject, finalizer: string): void {
  const meta = (object.metadata ??= {});
  if (!(meta.finalizers ?? []).includes(finalizer)) meta.finalizers = [...(meta.finalizers ?? []), finalizer];
}

export function setLabel(object: KubernetesObject, key: string, value: string): void {
  const meta = (object.metadata ??= {});
  meta.labels = { ...meta.labels, [key]: value };
}
