// The admission webhooks of the six Spiderpool CRDs (docs/admission.md). Paths follow Spiderpool's
// (`/mutate-spiderpool-spidernet-io-v2beta1-<kind>`, `/validate-…`).
import { KINDS, type ApiKind } from '../../api/v2beta1/kinds.ts';
import type { AdmissionHandler, Operation, WebhookRoute } from '../types.ts';
import { mutateCoordinator, validateCoordinator } from './coordinator.ts';
import { validateEndpoint } from './endpoint.ts';
import { mutateIPPool, validateIPPool } from './ippool.ts';
import { mutateMultusConfig, validateMultusConfig } from './multusconfig.ts';
import { DEFAULT_RULE_OPTIONS, type RuleOptions } from './options.ts';
import { mutateReservedIP, validateReservedIP } from './reservedip.ts';
import { mutateSubnet, validateSubnet } from './subnet.ts';

export { DEFAULT_RULE_OPTIONS, type RuleOptions } from './options.ts';

const route = (
  type: WebhookRoute['type'],
  kind: ApiKind,
  operations: Operation[],
  handler: AdmissionHandler,
  failurePolicy: WebhookRoute['failurePolicy'] = 'Fail',
): WebhookRoute => ({
  path: `/${type === 'mutating' ? 'mutate' : 'validate'}-${kind.group.replaceAll('.', '-')}-${kind.version}-${kind.singular}`,
  type,
  rule: {
    apiGroups: [kind.group],
    apiVersions: [kind.version],
    resources: [kind.plural],
    operations,
    scope: kind.namespaced ? 'Namespaced' : 'Cluster',
  },
  failurePolicy,
  handler,
});

/** Pools and subnets are checked against each other from caches proven current (webhooks/proven-view.ts). */
const proven = (route: WebhookRoute): WebhookRoute => ({ ...route, provenReads: true });

const WRITE: Operation[] = ['CREATE', 'UPDATE'];
const WRITE_DELETE: Operation[] = ['CREATE', 'UPDATE', 'DELETE'];

export function createCrdRoutes(options: RuleOptions): WebhookRoute[] {
  return [
    proven(route('mutating', KINDS.SpiderIPPool, WRITE, mutateIPPool())),
    proven(route('validating', KINDS.SpiderIPPool, WRITE_DELETE, validateIPPool(options))),
    proven(route('mutating', KINDS.SpiderSubnet, WRITE, mutateSubnet())),
    proven(route('validating', KINDS.SpiderSubnet, WRITE_DELETE, validateSubnet(options))),
    route('mutating', KINDS.SpiderReservedIP, WRITE, mutateReservedIP()),
    route('validating', KINDS.SpiderReservedIP, WRITE, validateReservedIP(options)),
    // The node agent writes endpoints while a pod is being created: if the controller is down, pods
    // must still start, so this one webhook fails open. Its rules read nothing from the cluster.
    route('validating', KINDS.SpiderEndpoint, WRITE, validateEndpoint(), 'Ignore'),
    route('mutating', KINDS.SpiderMultusConfig, WRITE, mutateMultusConfig()),
    route('validating', KINDS.SpiderMultusConfig, WRITE, validateMultusConfig()),
    route('mutating', KINDS.SpiderCoordinator, WRITE, mutateCoordinator()),
    route('validating', KINDS.SpiderCoordinator, WRITE, validateCoordinator()),
  ];
}

/** The routes with both IP families enabled. */
export const crdRoutes: WebhookRoute[] = createCrdRoutes(DEFAULT_RULE_OPTIONS);
