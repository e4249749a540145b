// Keeps every SpiderMultusConfig's NetworkAttachmentDefinition as the SpiderMultusConfig describes it
// (docs/multus-config.md#reconcile): creates it, restores it after a deletion or a hand edit, and follows changes of
// the SpiderMultusConfig. Deleting the SpiderMultusConfig needs no work here: the NAD carries a controller reference,
// and the garbage collector removes it.
import { CustomObjectsApi, type KubernetesObject } from '@kubernetes/client-node';
import { CONTROLLER_NAME, GROUP } from '../../api/v2beta1/constants.ts';
import { KINDS } from '../../api/v2beta1/kinds.ts';
import type { NetworkAttachmentDefinition, SpiderMultusConfig } from '../../api/v2beta1/types.ts';
import { orError } from '../or-error.ts';
import type { InvolvedObject, ObjectName } from '../runtime/events.ts';
import { type Key, type Kind, type Reconciler, type ReconcilerContext, keyOf, splitKey } from '../runtime/types.ts';
import { InvalidMultusConfigError, nadNameOf } from './nad-config.ts';
import { controllingSmc, desiredNad, nadDrift, withDesiredContent } from './nad.ts';

export const MULTUS_CONFIG_RECONCILER = 'multusconfig';

/** Multus installs this CRD; while it is missing the other controllers keep running. */
const NETWORK_ATTACHMENT_DEFINITION: Kind = { ...KINDS.NetworkAttachmentDefinition, optional: true };

/** A NAD of the wanted name exists and belongs to someone else; retried with back-off until it is freed. */
class NadConflictError extends Error {
  override name = 'NadConflictError';
}

/** The SpiderMultusConfig as the subject of an event: `kubectl describe smc` shows why its NAD is missing or stale. */
const involved = (smc: SpiderMultusConfig): InvolvedObject => ({
  apiVersion: KINDS.SpiderMultusConfig.apiVersion,
  kind: KINDS.SpiderMultusConfig.kind,
  namespace: smc.metadata.namespace ?? '',
  name: smc.metadata.name,
  uid: smc.metadata.uid ?? '',
  resourceVersion: smc.metadata.resourceVersion,
});

const smcOfKey = (key: Key): ObjectName => {
  const { namespace = '', name } = splitKey(key);
  return { kind: KINDS.SpiderMultusConfig.kind, namespace, name };
};

export function createMultusConfigReconciler({ caches, kubeConfig, log, events }: ReconcilerContext): Reconciler {
  const smcs = caches.of<SpiderMultusConfig>(KINDS.SpiderMultusConfig);
  const nads = caches.of<NetworkAttachmentDefinition>(NETWORK_ATTACHMENT_DEFINITION);
  const api = kubeConfig.makeApiClient(CustomObjectsApi);
  const { group, version, plural } = KINDS.NetworkAttachmentDefinition;
  const nadApi = { group, version, plural, fieldManager: CONTROLLER_NAME };

  /** The owner named by the NAD's references, and every SpiderMultusConfig whose NAD has this name. */
  const keysOfNad = (nad: KubernetesObject): Key[] => {
    const namespace = nad.metadata?.namespace;
    const keys = new Set<Key>();
    for (const ref of nad.metadata?.ownerReferences ?? []) {
      if (ref.kind === KINDS.SpiderMultusConfig.kind && ref.apiVersion.startsWith(`${GROUP}/`))
        keys.add(`${namespace}/${ref.name}`);
    }
    for (const smc of smcs.list(namespace)) {
      if (nadNameOf(smc) === nad.metadata?.name) keys.add(keyOf(smc));
    }
    return [...keys];
  };

  return {
    name: MULTUS_CONFIG_RECONCILER,
    watches: [
      { kind: KINDS.SpiderMultusConfig, keys: (smc) => [keyOf(smc)] },
      { kind: NETWORK_ATTACHMENT_DEFINITION, keys: keysOfNad },
    ],

    async reconcile(key, signal) {
      const smc = smcs.get(key);
      if (!smc || smc.metadata.deletionTimestamp) {
        events.resolved(smcOfKey(key));
        return;
      }

      const desired = orError(() => desiredNad(smc), InvalidMultusConfigError);
      if (desired instanceof InvalidMultusConfigError) {
        // Retrying cannot help: the next change of the object brings it back here.
        log.warn('SpiderMultusConfig cannot be turned into a NetworkAttachmentDefinition', {
          object: key,
          error: desired.message,
        });
        await events.warning(involved(smc), 'InvalidSpec', desired.message);
        return;
      }

      const namespace = smc.metadata.namespace ?? '';
      const name = desired.metadata.name;
      const nadKey = `${namespace}/${name}`;
      const current = nads.get(nadKey);

      if (!current) {
        signal.throwIfAborted();
        await api.createNamespacedCustomObject({ ...nadApi, namespace, body: desired });
        log.info('created NetworkAttachmentDefinition', { object: key, nad: nadKey });
        events.resolved(smcOfKey(key));
        return;
      }

      if (current.metadata.deletionTimestamp) {
        throw new Error(`NetworkAttachmentDefinition ${nadKey} is being deleted; it is created again once it is gone`);
      }

      const owner = controllingSmc(current);
      if (owner?.uid !== smc.metadata.uid) {
        // Spiderpool adopts and overwrites a NAD it does not own; a NAD someone wrote by hand is left alone
        // here, and the conflict is reported until it is resolved.
        const message = owner
          ? `NetworkAttachmentDefinition ${nadKey} is controlled by SpiderMultusConfig ${namespace}/${owner.name} (uid ${owner.uid}), not by this one (uid ${smc.metadata.uid})`
          : `NetworkAttachmentDefinition ${nadKey} already exists and is not managed by a SpiderMultusConfig; it is left untouched (delete it to have it generated from this SpiderMultusConfig)`;
        await events.warning(involved(smc), 'NetworkAttachmentDefinitionConflict', message);
        throw new NadConflictError(message);
      }

      const drift = nadDrift(current, desired);
      if (drift.length > 0) {
        signal.throwIfAborted();
        await api.replaceNamespacedCustomObject({
          ...nadApi,
          namespace,
          name,
          body: withDesiredContent(current, desired),
        });
        log.info('updated NetworkAttachmentDefinition', { object: key, nad: nadKey, drift });
      }
      events.resolved(smcOfKey(key));
    },
  };
}
