// Creating one core/v1 Event, as client-go's recorder does, for the controller's warnings and the agent's
// allocation history alike.
import type { JsonClient } from './json-client.ts';
import { collectionPath } from './watch/kind.ts';

/** The object an event is about; `namespace` is '' for a cluster-scoped one. */
export interface InvolvedObject {
  apiVersion: string;
  kind: string;
  namespace: string;
  name: string;
  uid: string;
  resourceVersion?: string;
}

export interface EventSpec {
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
  /** Who reports: the controller's or the agent's name. */
  component: string;
  /** The node of a per-node reporter. */
  host?: string;
}

/** Events of cluster-scoped objects (namespace '') live in `default`, where kubectl describe looks for them. */
export const eventNamespace = (object: InvolvedObject): string => object.namespace || 'default';

export async function postEvent(client: JsonClient, object: InvolvedObject, spec: EventSpec): Promise<void> {
  const now = new Date();
  const namespace = eventNamespace(object);
  const events = collectionPath({
    group: '',
    version: 'v1',
    plural: 'events',
    kind: 'Event',
    namespaced: true,
    namespace,
  });
  await client.request('POST', events, {
    body: {
      apiVersion: 'v1',
      kind: 'Event',
      // client-go's naming: the object's name and the time in hex, here with random low digits so that
      // two events of one millisecond do not collide.
      metadata: {
        name: `${object.name}.${(now.getTime() * 1e6 + Math.floor(Math.random() * 1e6)).toString(16)}`,
        namespace,
      },
      involvedObject: object,
      type: spec.type,
      reason: spec.reason,
      message: spec.message,
      source: { component: spec.component, ...(spec.host ? { host: spec.host } : {}) },
      reportingComponent: spec.component,
      ...(spec.host ? { reportingInstance: spec.host } : {}),
      firstTimestamp: now,
      lastTimestamp: now,
      count: 1,
    },
  });
}
