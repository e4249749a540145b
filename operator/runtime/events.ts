// Warning events on the objects whose desired state cannot be reached, so that `kubectl describe` tells a
// user why a NAD is missing or why an application's pods wait. Retries with back-off and periodic resyncs
// reconcile the same problem again and again: a warning is recorded once per object until the object's
// problems are resolved, so the event stream is not flooded.
import { CoreV1Api, type KubeConfig } from '@kubernetes/client-node';
import { CONTROLLER_NAME } from '../../api/v2beta1/constants.ts';
import { apiMessage } from '../../lib/kube.ts';
import type { Logger } from '../../lib/log.ts';

/** The object an event is about; `namespace` is '' for a cluster-scoped one. */
export interface InvolvedObject {
  apiVersion: string;
  kind: string;
  namespace: string;
  name: string;
  uid: string;
  resourceVersion?: string;
}

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
  const core = kubeConfig.makeApiClient(CoreV1Api);
  const recorded = new Map<string, { uid: string; warnings: Set<string> }>();

  const create = async (object: InvolvedObject, reason: string, message: string): Promise<void> => {
    const now = new Date();
    // Events of cluster-scoped objects (namespace '') live in `default`, where kubectl describe looks for them.
    const namespace = object.namespace || 'default';
    await core.createNamespacedEvent({
      namespace,
      body: {
        // client-go's naming: the object's name and the time in hex, here with random low digits so that
        // two warnings of one millisecond do not collide.
        metadata: {
          name: `${object.name}.${(now.getTime() * 1e6 + Math.floor(Math.random() * 1e6)).toString(16)}`,
          namespace,
        },
        involvedObject: object,
        type: 'Warning',
        reason,
        message,
        source: { component: CONTROLLER_NAME },
        reportingComponent: CONTROLLER_NAME,
        firstTimestamp: now,
        lastTimestamp: now,
        count: 1,
      },
    });
  };

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
