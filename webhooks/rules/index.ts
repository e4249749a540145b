// The admission webhooks of the six Spiderpool CRDs (§5). Paths follow Spiderpool's
// (`/mutate-spiderpool-spidernet-io-v2beta1-<kind>`, `/validate-…`).
import { GROUP, VERSION } from '../../api/v2beta1/types.ts';
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
  type: WebhookRoute['type'], kind: string, scope: 'Cluster' | 'Namespaced', operations: Operation[], handler: AdmissionHandler,
  failurePolicy: WebhookRoute['failurePolicy'] = 'Fail',
): WebhookRoute => ({
  path: `/${type === 'mutating' ? 'mutate' : 'validate'}-spiderpool-spidernet-io-${VERSION}-${kind}`,
  type,
  rule: { apiGroups: [GROUP], apiVersions: [VERSION], resources: [`${kind}s`], operations, scope },
  failurePolicy,
  handler,
});

const WRITE: Operation[] = ['CREATE', 'UPDATE'];
const WRITE_DELETE: Operation[] = ['CREATE', 'UPDATE', 'DELETE'];

export function createCrdRoutes(options: RuleOptions): WebhookRoute[] {
  return [
    route('mutating', 'spiderippool', 'Cluster', WRITE, mutateIPPool()),
    route('validating', 'spiderippool', 'Cluster', WRITE_DELETE, validateIPPool(options)),
    route('mutating', 'spidersubnet', 'Cluster', WRITE, mutateSubnet()),
    route('validating', 'spidersubnet', 'Cluster', WRITE_DELETE, validateSubnet(options)),
    route('mutating', 'spiderreservedip', 'Cluster', WRITE, mutateReservedIP()),
    route('validating', 'spiderreservedip', 'Cluster', WRITE, validateReservedIP(options)),
    // The node agent writes endpoints while a pod is being created: if the controller is down, pods
    // must still start, so this one webhook fails open. Its rules read nothing from the cluster.
    route('validating', 'spiderendpoint', 'Namespaced', WRITE, validateEndpoint(), 'Ignore'),
    route('mutating', 'spidermultusconfig', 'Namespaced', WRITE, mutateMultusConfig()),
    route('validating', 'spidermultusconfig', 'Namespaced', WRITE, validateMultusConfig()),
    route('mutating', 'spidercoordinator', 'Cluster', WRITE, mutateCoordinator()),
    route('validating', 'spidercoordinator', 'Cluster', WRITE, validateCoordinator()),
  ];
}

/** The routes with both IP families enabled. */
export const crdRoutes: WebhookRoute[] = createCrdRoutes(DEFAULT_RULE_OPTIONS);
