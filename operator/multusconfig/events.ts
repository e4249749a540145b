// Warning events on a SpiderMultusConfig, which has no status: `kubectl describe smc` is where a user
// learns why its NAD is missing or stale. A problem is reported once per object until it changes or is
// resolved, so retries with back-off and periodic resyncs do not flood the event stream.
import { CoreV1Api, type KubeConfig } from '@kubernetes/client-node';
import { GROUP, VERSION, type SpiderMultusConfig } from '../../api/v2beta1/types.ts';
import { apiMessage } from '../../lib/kube.ts';
import type { Logger } from '../../lib/log.ts';
import { type Key, keyOf } from '../runtime/types.ts';

/** Source of the events and field manager of the writes. */
export const COMPONENT = 'spiderpool-controller';

export class WarningEvents {
  private readonly core: CoreV1Api;
  private readonly reported = new Map<Key, string>();

  constructor(kubeConfig: KubeConfig, private readonly log: Logger) {
    this.core = kubeConfig.makeApiClient(CoreV1Api);
  }

  /** Records the warning unless this object's last reported problem was the same. Never throws. */
  async warn(smc: SpiderMultusConfig, reason: string, message: string): Promise<void> {
    const key = keyOf(smc);
    const text = `${reason}: ${message}`;
    if (this.reported.get(key) === text) return;
    this.reported.set(key, text);
    const now = new Date();
    try {
      await this.core.createNamespacedEvent({
        namespace: smc.metadata.namespace ?? 'default',
        body: {
          metadata: { generateName: `${smc.metadata.name}.`, namespace: smc.metadata.namespace },
          involvedObject: {
            apiVersion: `${GROUP}/${VERSION}`, kind: 'SpiderMultusConfig', name: smc.metadata.name, namespace: smc.metadata.namespace,
            uid: smc.metadata.uid, resourceVersion: smc.metadata.resourceVersion,
          },
          type: 'Warning',
          reason,
          message,
          source: { component: COMPONENT },
          firstTimestamp: now,
          lastTimestamp: now,
          count: 1,
        },
      });
    } catch (err) {
      this.reported.delete(key);
      this.log.warn('cannot record event', { object: key, reason, error: apiMessage(err) });
    }
  }

  /** The object's problem is gone (or the object is): the next one is reported again. */
  resolved(key: Key): void {
    this.reported.delete(key);
  }
}
