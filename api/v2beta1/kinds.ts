// The API's kinds as clients address them, taken from crds.ts so a kind or plural is spelled only there.
// An ApiKind is also a lib/watch Kind, so it can be listed and watched as it is.
// Kept apart from constants.ts because crds.ts carries every schema, which the CNI plugins do not need.
import {
  type CrdDefinition,
  networkAttachmentDefinition,
  spiderCoordinator,
  spiderEndpoint,
  spiderIPPool,
  spiderMultusConfig,
  spiderReservedIP,
  spiderSubnet,
} from './crds.ts';

export interface ApiKind {
  readonly group: string;
  readonly version: string;
  readonly kind: string;
  readonly plural: string;
  /** Lower-case kind, as admission webhook paths spell it. */
  readonly singular: string;
  readonly namespaced: boolean;
  /** `group/version`, for an object's apiVersion or an owner reference. */
  readonly apiVersion: string;
}

const apiKind = (crd: CrdDefinition): ApiKind => ({
  group: crd.group,
  version: crd.version,
  kind: crd.kind,
  plural: crd.plural,
  singular: crd.singular,
  namespaced: crd.scope === 'Namespaced',
  apiVersion: `${crd.group}/${crd.version}`,
});

export const KINDS = {
  SpiderIPPool: apiKind(spiderIPPool),
  SpiderSubnet: apiKind(spiderSubnet),
  SpiderReservedIP: apiKind(spiderReservedIP),
  SpiderEndpoint: apiKind(spiderEndpoint),
  SpiderMultusConfig: apiKind(spiderMultusConfig),
  SpiderCoordinator: apiKind(spiderCoordinator),
  NetworkAttachmentDefinition: apiKind(networkAttachmentDefinition),
} as const;

/** How the custom-objects API addresses a kind: `{ ...customResource(KINDS.SpiderIPPool), name }`. */
export const customResource = ({ group, version, plural }: ApiKind) => ({ group, version, plural });
