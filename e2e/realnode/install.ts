// The product installed on a real node the way a cluster administrator installs it: the image written
// by `npm run build` and `npm run image`, imported into the node's containerd, the CRDs applied from
// crds/, then `kubectl apply -k` of an overlay of deploy/base that changes nothing but the host
// directories, because this node keeps its CNI directories in its own temporary directory and shares the
// machine's /var/run/spidernet with other nodes. The agent's init container installs the plugins.
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { promisify } from 'node:util';
import { DAEMONS, distDir, repoRoot } from '../../scripts/build.ts';
import { installCrds } from '../cluster/install.ts';
import { IMAGE } from '../../scripts/image.ts';
import { kubectlOk, type Kubectl } from '../cluster/kubectl.ts';
import { eventually } from '../harness/wait.ts';
import type { RealNode } from './node.ts';

const run = promisify(execFile);

export const NAMESPACE = 'spiderpool';
export const PRODUCT_IMAGE_TAR = join(distDir, `${IMAGE.replace(':', '-')}.image.tar`);
const SPIDERNET_RUN = '/var/run/spidernet';
const SOURCES = ['agent', 'operator', 'webhooks', 'cni', 'lib', 'ipam', 'api', 'scripts', 'package-lock.json'];

const mtime = (path: string) => (existsSync(path) ? statSync(path).mtimeMs : 0);
// Tests are not part of the bundles.
const newest = (path: string): number =>
  statSync(path).isDirectory()
    ? Math.max(0, ...readdirSync(path).map((e) => newest(join(path, e))))
    : path.endsWith('.test.ts')
      ? 0
      : mtime(path);
// Every build rewrites the bundles, and the plugin executables only when their code changed.
const bundleTimes = () => Object.keys(DAEMONS).map((d) => mtime(join(distDir, `${d}.mjs`)));

/**
 * `npm run build` when a source is newer than the bundles, and `npm run image` when the archive is older
 * than what it packs, as a user would run them; returns the archive.
 */
export async function productImageArchive(log: (m: string) => void = () => undefined): Promise<string> {
  const npm = async (script: string) => {
    const started = Date.now();
    await run('npm', ['run', '--silent', script], { cwd: repoRoot, maxBuffer: 16 * 1024 * 1024 });
    log(`npm run ${script}: ${((Date.now() - started) / 1000).toFixed(1)} s`);
  };
  if (Math.min(...bundleTimes()) < Math.max(...SOURCES.map((s) => newest(join(repoRoot, s))))) await npm('build');
  if (mtime(PRODUCT_IMAGE_TAR) < Math.max(newest(join(distDir, 'plugins')), ...bundleTimes())) await npm('image');
  return PRODUCT_IMAGE_TAR;
}

/**
 * The cluster network of seed 000 with Calico swapped for Debian's bridge: every pod's eth0 on one
 * bridge, its address from the spiderpool plugin (asking the agent on `socketDir`).
 */
export function clusterConflist(socketDir: string): string {
  return JSON.stringify(
    {
      cniVersion: '0.4.0',
      name: 'k8s-pod-network',
      plugins: [
        {
          type: 'bridge',
          bridge: 'cni0',
          isGateway: true,
          hairpinMode: true,
          ipam: { type: 'spiderpool', ipam_unix_socket_path: join(socketDir, 'spiderpool.sock') },
        },
      ],
    },
    null,
    2,
  );
}

/** Where a node's agent keeps its socket on this machine: its own directory under /var/run/spidernet. */
export const agentSocketDir = (node: string) => join(SPIDERNET_RUN, node);

/** A kustomization over deploy/base that points the three hostPath volumes at the node's directories. */
export function writeOverlay(dir: string, node: RealNode): void {
  writeFileSync(
    join(dir, 'kustomization.yaml'),
    `# deploy/base with this node's host directories.
bases:
- ${relative(dir, join(repoRoot, 'deploy', 'base'))}
patchesStrategicMerge:
- host-paths.yaml
`,
  );
  writeFileSync(
    join(dir, 'host-paths.yaml'),
    `apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: spiderpool-agent
  namespace: ${NAMESPACE}
spec:
  template:
    spec:
      volumes:
      - name: cni-bin
        hostPath: {path: ${node.cniBinDir}, type: DirectoryOrCreate}
      - name: run
        hostPath: {path: ${agentSocketDir(node.name)}, type: DirectoryOrCreate}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: spiderpool-controller
  namespace: ${NAMESPACE}
spec:
  template:
    spec:
      volumes:
      - name: cni-conf
        hostPath: {path: ${node.cniConfDir}, type: DirectoryOrCreate}
`,
  );
}

export interface Installation {
  overlay: string;
  /** Seconds from the import to a ready agent, a leading controller and filled webhook configurations. */
  seconds: number;
  /** Removes what the install left on the host outside the node's directory; call after the node stopped. */
  cleanup(): void;
}

interface WebhookConfig {
  webhooks?: { name: string; clientConfig: { service?: { name: string; namespace: string }; url?: string } }[];
}

/** Imports the image, applies the CRDs and the overlay, and waits until the product serves. */
export async function installProduct(
  node: RealNode,
  kubectl: Kubectl,
  log: (m: string) => void = () => undefined,
): Promise<Installation> {
  const archive = await productImageArchive(log);
  const started = Date.now();
  const runDirExisted = existsSync(SPIDERNET_RUN);
  const overlay = mkdtempSync(join(tmpdir(), 'spiderpool-overlay-'));
  const cleanup = () => {
    rmSync(overlay, { recursive: true, force: true });
    rmSync(agentSocketDir(node.name), { recursive: true, force: true });
    if (!runDirExisted && existsSync(SPIDERNET_RUN) && readdirSync(SPIDERNET_RUN).length === 0)
      rmdirSync(SPIDERNET_RUN);
  };
  try {
    const imported = await node.ctr(['images', 'import', archive]);
    if (imported.code !== 0) throw new Error(`ctr images import ${archive}: ${imported.stderr.trim()}`);
    await installCrds(kubectl);
    mkdirSync(overlay, { recursive: true });
    writeOverlay(overlay, node);
    await kubectlOk(kubectl, ['apply', '-k', overlay]);
    const ns = ['-n', NAMESPACE];
    await kubectlOk(kubectl, [...ns, 'rollout', 'status', 'daemonset/spiderpool-agent', '--timeout', '180s']);
    // One node: the second replica's host ports are taken by the first, so it stays Pending.
    await eventually('an available controller replica', 120_000, async () => {
      const r = await kubectl([...ns, 'get', 'deployment', 'spiderpool-controller', '-o', 'json']);
      const d = r.code === 0 ? (JSON.parse(r.stdout) as { status: { availableReplicas?: number } }) : undefined;
      return (d?.status.availableReplicas ?? 0) >= 1 ? true : undefined;
    });
    await eventually('a controller holding the Lease', 60_000, async () => {
      const r = await kubectl([
        ...ns,
        'get',
        'lease',
        'spiderpool-controller',
        '-o',
        'jsonpath={.spec.holderIdentity}',
      ]);
      return r.code === 0 && r.stdout !== '' ? r.stdout : undefined;
    });
    await eventually('filled webhook configurations', 60_000, async () => {
      for (const kind of ['validatingwebhookconfiguration', 'mutatingwebhookconfiguration']) {
        const r = await kubectl(['get', kind, 'spiderpool-controller', '-o', 'json']);
        if (r.code !== 0 || ((JSON.parse(r.stdout) as WebhookConfig).webhooks ?? []).length === 0) return undefined;
      }
      return true;
    });
  } catch (err) {
    cleanup();
    throw err;
  }
  const seconds = (Date.now() - started) / 1000;
  log(`installed in ${seconds.toFixed(1)} s`);
  return { overlay, seconds, cleanup };
}
