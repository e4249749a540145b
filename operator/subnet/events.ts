// Kubernetes Events on applications whose pools cannot be made, so `kubectl describe deployment` says why
// its pods wait. The same warning is recorded once until the object's problem changes or goes away.
import { CoreV1Api, type KubeConfig, type V1ObjectReference } from '@kubernetes/client-node';
import { apiMessage } from '../../lib/kube.ts';
import type { Logger } from '../../lib/log.ts';

export const EVENT_SOURCE = 'spiderpool-controller';

export class EventRecorder {
  private readonly core: CoreV1Api;
  /** Warnings already recorded, per object UID. */
  private readonly recorded = new Map<string, Set<string>>();

  constructor(kubeConfig: KubeConfig, private readonly log: Logger) {
    this.core = kubeConfig.makeApiClient(CoreV1Api);
  }

  /**
   * Records a Warning event on the object unless the same one was recorded already; false then.
   * Failures to record are logged, never thrown.
   */
  async warning(object: Required<Pick<V1ObjectReference, 'apiVersion' | 'kind' | 'namespace' | 'name' | 'uid'>>, reason: string, message: string): Promise<boolean> {
    const seen = this.recorded.get(object.uid) ?? new Set<string>();
    if (seen.has(`${reason}: ${message}`)) return false;
    this.recorded.set(object.uid, seen.add(`${reason}: ${message}`));
    const now = new Date();
    try {
      await this.core.createNamespacedEvent({
        namespace: object.namespace,
        body: {
          metadata: { name: `${object.name}.${(now.getTime() * 1e6 + Math.floor(Math.random() * 1e6)).toString(16)}`, namespace: object.namespace },
          involvedObject: object,
          reason,
          message,
          type: 'Warning',
          source: { component: EVENT_SOURCE },
          reportingComponent: EVENT_SOURCE,
          firstTimestamp: now,
          lastTimestamp: now,
          count: 1,
        },
      });
    } catch (err) {
      this.log.warn('cannot record event', { object: `${object.kind} ${object.namespace}/${object.name}`, reason, err: apiMessage(err) });
    }
    return true;
  }

  /** The object's problem is solved: the next warning is recorded even if it repeats an earlier one. */
  clear(uid: string): void {
    this.recorded.delete(uid);
  }
}
