// Keeps one Calico IPPool per Spiderpool subnet that is opted in to Calico BGP advertisement (see
// opt-in.ts for the annotations). The key is the Calico IPPool's name, derived from the CIDR alone, so
// SpiderIPPools and SpiderSubnets of one subnet share one Calico pool, and a pool left behind by a
// subnet nobody asks for any more is found from its own name and removed.
import { CustomObjectsApi, type KubernetesObject } from '@kubernetes/client-node';
import { CALICO_ANNOTATION } from '../../api/v2beta1/constants.ts';
import { KINDS } from '../../api/v2beta1/kinds.ts';
import type { SpiderIPPool, SpiderSubnet } from '../../api/v2beta1/types.ts';
import { isNotFound } from '../../lib/kube.ts';
import type { Key, Reconciler, ReconcilerContext } from '../runtime/types.ts';
import { CALICO_IPPOOL, calicoPoolName, isOwned, type CalicoIPPool } from './calico-ippool.ts';
import { advertiseRequest, isOptedIn, type AdvertiseRequest, type SpiderSource } from './opt-in.ts';
import { overlaps, planCalicoPool } from './plan.ts';

// While the Calico CRD is missing, creations are retried this often rather than on every pool change.
const CRD_RETRY_MS = 15_000;

const nameForSubnet = (subnet: string | undefined): string | undefined => {
  try {
    return calicoPoolName(subnet ?? '');
  } catch {
    return undefined;
  }
};

export const CALICO_POOL_RECONCILER = 'calico-ippool';

export function createCalicoPoolReconciler({ caches, kubeConfig, log }: ReconcilerContext): Reconciler {
  const custom = kubeConfig.makeApiClient(CustomObjectsApi);
  const calicoPools = caches.of<CalicoIPPool>(CALICO_IPPOOL);
  const spiderPools = caches.of<SpiderIPPool>(KINDS.SpiderIPPool);
  const spiderSubnets = caches.of<SpiderSubnet>(KINDS.SpiderSubnet);
  const calicoApi = { group: CALICO_IPPOOL.group, version: CALICO_IPPOOL.version, plural: CALICO_IPPOOL.plural };

  const requests = (): AdvertiseRequest[] =>
    [
      ...spiderPools.list().map((object): SpiderSource => ({ kind: 'SpiderIPPool', object })),
      ...spiderSubnets.list().map((object): SpiderSource => ({ kind: 'SpiderSubnet', object })),
    ].flatMap((s) => advertiseRequest(s) ?? []);

  // The runtime maps both the old and the new state of a changed object, so removing the annotation
  // (or the object) still reaches the key; after a restart our Calico pools lead to their own keys.
  const spiderKeys =
    (kind: SpiderSource['kind']) =>
    (obj: KubernetesObject): Key[] => {
      const source = { kind, object: obj } as SpiderSource;
      const name = isOptedIn(source) ? nameForSubnet(source.object.spec?.subnet) : undefined;
      return name ? [name] : [];
    };

  const calicoKeys = (obj: KubernetesObject): Key[] => {
    const pool = obj as CalicoIPPool;
    const keys = new Set([pool.metadata?.name ?? '']);
    if (!isOwned(pool))
      for (const r of requests()) if (overlaps(r.cidr, pool)) keys.add(calicoPoolName(r.cidr.canonical));
    return [...keys].filter(Boolean);
  };

  const noted = new Map<Key, string>();
  const note = (key: Key, message: string | undefined) => {
    if (message === undefined) noted.delete(key);
    else if (noted.get(key) !== message) {
      noted.set(key, message);
      log.warn(message, { calicoIPPool: key });
    }
  };
  let crdMissingUntil = 0;
  let crdMissingLogged = false;

  return {
    name: CALICO_POOL_RECONCILER,
    watches: [
      { kind: KINDS.SpiderIPPool, keys: spiderKeys('SpiderIPPool') },
      { kind: KINDS.SpiderSubnet, keys: spiderKeys('SpiderSubnet') },
      { kind: CALICO_IPPOOL, keys: calicoKeys },
    ],

    async reconcile(key) {
      const mine = requests().filter((r) => calicoPoolName(r.cidr.canonical) === key);
      const plan = planCalicoPool(key, mine, calicoPools.list());
      note(key, 'note' in plan ? plan.note : undefined);
      switch (plan.action) {
        case 'none':
          return;
        case 'create': {
          const now = Date.now();
          if (now < crdMissingUntil) return { requeueAfterMs: crdMissingUntil - now };
          try {
            await custom.createClusterCustomObject({ ...calicoApi, body: plan.pool });
          } catch (err) {
            if (!isNotFound(err)) throw err;
            crdMissingUntil = now + CRD_RETRY_MS;
            if (!crdMissingLogged) {
              log.warn(
                `the Calico IPPool CRD (ippools.crd.projectcalico.org) is not installed: subnets annotated ${CALICO_ANNOTATION.bgp}="true" are not advertised until it is`,
              );
              crdMissingLogged = true;
            }
            return { requeueAfterMs: CRD_RETRY_MS };
          }
          crdMissingLogged = false;
          log.info('created Calico IPPool', {
            calicoIPPool: key,
            spec: plan.pool.spec,
            for: mine.map((r) => r.source),
          });
          return;
        }
        case 'update':
          // The body carries the cached resourceVersion: a concurrent change fails with 409 and is retried.
          await custom.replaceClusterCustomObject({ ...calicoApi, name: key, body: plan.pool });
          log.info('updated Calico IPPool', { calicoIPPool: key, spec: plan.pool.spec });
          return;
        case 'delete': {
          const { uid, resourceVersion } = plan.pool.metadata ?? {};
          try {
            await custom.deleteClusterCustomObject({
              ...calicoApi,
              name: key,
              body: { preconditions: { uid, resourceVersion } },
            });
          } catch (err) {
            if (!isNotFound(err)) throw err;
          }
          log.info('deleted Calico IPPool', { calicoIPPool: key });
          return;
        }
      }
    },
  };
}
