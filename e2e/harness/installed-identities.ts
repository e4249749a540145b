// The daemons' own identities, as an installation gives them: the service accounts and RBAC of deploy/base applied
// to the test cluster, and a kubeconfig per service account carrying its token, so that an agent or operator started
// with it may do exactly what the installed one may.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CoreV1Api, type KubeConfig } from '@kubernetes/client-node';
import { readConfig } from '../../lib/daemon/config.ts';
import { GC_SETTINGS, type GcOptions } from '../../operator/gc/options.ts';
import type { OperatorOptions } from '../../operator/runtime/types.ts';
import { parse, parseAllDocuments, stringify } from 'yaml';
import { INSTALL_NAMESPACE } from '../../api/v2beta1/constants.ts';
import { loadKubeConfig } from '../../lib/kube.ts';
import { repoRoot } from '../cluster/install.ts';
import { kubectlOk } from '../cluster/kubectl.ts';
import type { TestCluster } from './cluster.ts';
import { eventually } from './wait.ts';

const RBAC_KINDS = ['ServiceAccount', 'ClusterRole', 'ClusterRoleBinding', 'Role', 'RoleBinding'];
/** The conf.yml an installation mounts into every daemon. */
export const INSTALLED_CONF = join(repoRoot, 'deploy', 'product', 'conf.yml');

/** The controller's GC settings as the installed conf.yml gives them, with these variables on top. */
export const installedGcOptions = (env: Record<string, string> = {}): GcOptions =>
  readConfig({ gc: GC_SETTINGS }, { SPIDERPOOL_CONFIG_PATH: INSTALLED_CONF, ...env }).gc;

export interface InstalledIdentities {
  /** Paths of kubeconfigs acting as the agent's and the controller's service accounts. */
  agentKubeconfig: string;
  controllerKubeconfig: string;
  controllerKubeConfig: KubeConfig;
  /** The agent's environment: the installed conf.yml. */
  agentEnv: Record<string, string>;
  /** The only Lease the controller may hold. */
  lease: Pick<OperatorOptions, 'leaseNamespace' | 'leaseName'>;
  /** Removes the kubeconfigs; the RBAC stays, as other tests of the run apply the same objects. */
  cleanup(): void;
}

export async function installedIdentities(c: TestCluster): Promise<InstalledIdentities> {
  const core = c.kubeConfig.makeApiClient(CoreV1Api);
  // An earlier test's uninstall may still be deleting the namespace: the service accounts need it active.
  await eventually(`namespace ${INSTALL_NAMESPACE} active`, 120_000, async () => {
    const ns = await core.readNamespace({ name: INSTALL_NAMESPACE }).catch(() => undefined);
    if (ns?.status?.phase === 'Active') return true;
    if (!ns) await core.createNamespace({ body: { metadata: { name: INSTALL_NAMESPACE } } }).catch(() => undefined);
    return undefined;
  });
  const built = parseAllDocuments(await kubectlOk(c.kubectl, ['kustomize', join(repoRoot, 'deploy', 'base')])).map(
    (d) => d.toJS() as { kind: string },
  );
  const items = built.filter((o) => RBAC_KINDS.includes(o.kind));
  await kubectlOk(c.kubectl, ['apply', '-f', '-'], {
    stdin: JSON.stringify({ apiVersion: 'v1', kind: 'List', items }),
  });

  const admin = parse(readFileSync(c.cp.kubeconfig, 'utf8')) as { clusters: unknown[] };
  const dir = mkdtempSync(join(tmpdir(), 'spiderpool-identities-'));
  const kubeconfigOf = async (account: string): Promise<string> => {
    const token = await eventually(`the token of service account ${account}`, 60_000, async () => {
      const secrets = (await core.listNamespacedSecret({ namespace: INSTALL_NAMESPACE })).items;
      const secret = secrets.find(
        (s) =>
          s.type === 'kubernetes.io/service-account-token' &&
          s.metadata?.annotations?.['kubernetes.io/service-account.name'] === account,
      );
      return secret?.data?.token ? Buffer.from(secret.data.token, 'base64').toString() : undefined;
    });
    const path = join(dir, account);
    writeFileSync(
      path,
      stringify({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: admin.clusters,
        users: [{ name: account, user: { token } }],
        contexts: [{ name: account, context: { cluster: 'spiderpool-ts', user: account } }],
        'current-context': account,
      }),
      { mode: 0o600 },
    );
    return path;
  };
  const agentKubeconfig = await kubeconfigOf('spiderpool-agent');
  const controllerKubeconfig = await kubeconfigOf('spiderpool-controller');
  return {
    agentKubeconfig,
    controllerKubeconfig,
    controllerKubeConfig: loadKubeConfig(controllerKubeconfig),
    agentEnv: { SPIDERPOOL_CONFIG_PATH: INSTALLED_CONF },
    lease: { leaseNamespace: INSTALL_NAMESPACE, leaseName: 'spiderpool-controller' },
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}
