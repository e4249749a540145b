// Warning events on the objects whose desired state cannot be reached, so that `kubectl describe` tells a
// user why a NAD is missing or why an application's pods wait. Retries with back-off and periodic resyncs
// reconcile the same problem again and again: a warning is recorded once per object until the object's
// problems are resolved, so the event stream is not flooded.
import type { KubeConfig } from '@kubernetes/client-node';
import { CONTROLLER_NAME } from '../../api/v2beta1/constants.ts';
import { postEvent, type InvolvedObject } from '../../lib/events.ts';
import { JsonClient } from '../../lib/json-client.ts';
import { apiMessage, requestTimeoutOf } from '../../lib/kube.ts';
import type { Logger } from '../../lib/log.ts';

export type { InvolvedObject } from '../../lib/events.ts';

/** Which object's problems `resolved` clears; an object of the same name but another UID is another object. */
export type ObjectName = Pick<InvolvedObject, 'kind' | 'namespace' | 'name'>;

export interface EventRecorder {
  /**
   * Records a Warning event on the object unless this reason and message were recorded on it since its
   * problems were last resolved; false then. Never throws: a failure is logged, and tried again next time.
   */
  warning(object: InvolvedObject, reason: string, message: string): Promise<boolean>;
  /** The object's problems are gone (or the object is): its next warnings are recorded again. */
  resolved(object: ObjectName): void;
}

const nameKey = ({ kind, namespace, name }: ObjectName): string => `${kind}/${namespace}/${name}`;

export function createEventRecorder(kubeConfig: KubeConfig, log: Logger): EventRecorder {
  const client = new JsonClient(kubeConfig, requestTimeoutOf(kubeConfig) ?? 30_000);
  const recorded = new Map<string, { uid: string; warnings: Set<string> }>();

  const create = (object: InvolvedObject, reason: string, message: string): Promise<void> =>
    postEvent(client, object, { type: 'Warning', reason, message, component: CONTROLLER_NAME });

  return {
    async warning(object, reason, message) {
      const key = nameKey(object);
      const text = `${reason}: ${message}`;
      let entry = recorded.get(key);
      if (entry?.uid !== object.uid) recorded.set(key, (entry = { uid: object.uid, warnings: new Set() }));
      if (entry.warnings.has(text)) return false;
      entry.warnings.add(text);
      try {
        await create(object, reason, message);
      } catch (err) {
        entry.warnings.delete(text);
        log.warn('cannot record event', {
          object: `${object.kind} ${object.namespace}/${object.name}`,
          reason,
          error: apiMessage(err),
        });
      }
      return true;
    },
    resolved(object) {
      recorded.delete(nameKey(object));
    },
  };
}
