// What one list+watch follows: a resource, optionally narrowed to a namespace or a field selector, and
// the URL of its collection.

/** A watched resource. `group` is '' for the core API. */
export interface Kind {
  readonly group: string;
  readonly version: string;
  readonly plural: string;
  readonly kind: string;
  readonly namespaced: boolean;
  /** Only objects of this namespace are watched (e.g. kube-system ConfigMaps). */
  readonly namespace?: string;
  /** Only objects matching this field selector are watched (`spec.nodeName=worker1`, `metadata.name=x`). */
  readonly fieldSelector?: string;
  /**
   * A kind whose CRD may not be installed (Calico IPPools): its cache stays empty, counts as synced, and
   * the informer keeps checking whether the CRD has appeared.
   */
  readonly optional?: boolean;
}

/** A stable identity of a watched kind (the same kind may be declared by several reconcilers). */
export function kindId(kind: Kind): string {
  const scope = `${kind.namespace ? ` in ${kind.namespace}` : ''}${kind.fieldSelector ? ` where ${kind.fieldSelector}` : ''}`;
  return `${kind.plural}.${kind.group || 'core'}/${kind.version}${scope}`;
}

export function collectionPath(kind: Kind): string {
  const root = kind.group ? `/apis/${kind.group}/${kind.version}` : `/api/${kind.version}`;
  return kind.namespace
    ? `${root}/namespaces/${encodeURIComponent(kind.namespace)}/${kind.plural}`
    : `${root}/${kind.plural}`;
}
