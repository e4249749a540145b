// Keeps every SpiderMultusConfig's NetworkAttachmentDefinition as the SpiderMultusConfig describes it
// (spec §6.4): creates it, restores it after a deletion or a hand edit, and follows changes of the
// SpiderMultusConfig. Deleting the SpiderMultusConfig needs no work here: the NAD carries a controller
// reference, and the garbage collector removes it.
import { CustomObjectsApi, type KubernetesObject } from '@kubernetes/client-node';
import { GROUP, VERSION, type NetworkAttachmentDefinition, type SpiderMultusConfig } from '../../api/v2beta1/types.ts';
import { type Key, type Kind, type ReconcilerFactory, keyOf } from '../runtime/types.ts';
import { COMPONENT, WarningEvents } from './events.ts';
import { InvalidMultusConfigError, nadNameOf } from './nad-config.ts';
import { NAD_GROUP, NAD_PLURAL, NAD_VERSION, SMC_KIND, controllingSmc, desiredNad, nadDrift, withDesiredContent } from './nad.ts';

export const SPIDER_MULTUS_CONFIG: Kind = {
  group: GROUP, version: VERSION, plural: 'spidermultusconfigs', kind: SMC_KIND, namespaced: true,
};

/** Multus installs this CRD; while it is missing the other controllers keep running. */
export const NETWORK_ATTACHMENT_DEFINITION: Kind = {
  group: NAD_GROUP, version: NAD_VERSION, plural: NAD_PLURAL, kind: 'NetworkAttachmentDefinition', namespaced: true, optional: true,
};

/** A NAD of the wanted name exists and belongs to someone else; retried with back-off until it is freed. */
export class NadConflictError extends Error {
  override name = 'NadConflictError';
}

export const createMultusConfigReconciler: ReconcilerFactory = (ctx) => {
  const smcs = ctx.caches.of<SpiderMultusConfig>(SPIDER_MULTUS_CONFIG);
  const nads = ctx.caches.of<NetworkAttachmentDefinition>(NETWORK_ATTACHMENT_DEFINITION);
  const api = ctx.kubeConfig.makeApiClient(CustomObjectsApi);
  const events = new WarningEvents(ctx.kubeConfig, ctx.log);
  const nadApi = { group: NAD_GROUP, version: NAD_VERSION, plural: NAD_PLURAL, fieldManager: COMPONENT };

  /** The owner named by the NAD's references, and every SpiderMultusConfig whose NAD has this name. */
  const keysOfNad = (nad: KubernetesObject): Key[] => {
    const namespace = nad.metadata?.namespace;
    const keys = new Set<Key>();
    for (const ref of nad.metadata?.ownerReferences ?? []) {
      if (ref.kind === SMC_KIND && ref.apiVersion.startsWith(`${GROUP}/`)) keys.add(`${namespace}/${ref.name}`);
    }
    for (const smc of smcs.list(namespace)) {
      if (nadNameOf(smc) === nad.metadata?.name) keys.add(keyOf(smc));
    }
    return [...keys];
  };

  return {
    name: 'multusconfig',
    watches: [
      { kind: SPIDER_MULTUS_CONFIG, keys: (smc) => [keyOf(smc)] },
      { kind: NETWORK_ATTACHMENT_DEFINITION, keys: keysOfNad },
    ],

    async reconcile(key, signal) {
      const smc = smcs.get(key);
      if (!smc || smc.metadata.deletionTimestamp) {
        events.resolved(key);
        return;
      }

      let desired: NetworkAttachmentDefinition;
      try {
        desired = desiredNad(smc);
      } catch (err) {
        if (!(err instanceof InvalidMultusConfigError)) throw err;
        // Retrying cannot help: the next change of the object brings it back here.
        ctx.log.warn('SpiderMultusConfig cannot be turned into a NetworkAttachmentDefinition', { object: key, error: err.message });
        await events.warn(smc, 'InvalidSpec', err.message);
        return;
      }

      const namespace = smc.metadata.namespace ?? '';
      const name = desired.metadata.name;
      const nadKey = `${namespace}/${name}`;
      const current = nads.get(nadKey);

      if (!current) {
        signal.throwIfAborted();
        await api.createNamespacedCustomObject({ ...nadApi, namespace, body: desired });
        ctx.log.info('created NetworkAttachmentDefinition', { object: key, nad: nadKey });
        events.resolved(key);
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
        await events.warn(smc, 'NetworkAttachmentDefinitionConflict', message);
        throw new NadConflictError(message);
      }

      const drift = nadDrift(current, desired);
      if (drift.length > 0) {
        signal.throwIfAborted();
        await api.replaceNamespacedCustomObject({ ...nadApi, namespace, name, body: withDesiredContent(current, desired) });
        ctx.log.info('updated NetworkAttachmentDefinition', { object: key, nad: nadKey, drift });
      }
      events.resolved(key);
    },
  };
};
