// `npm run image`: the product's image as a docker-archive tar, for machines without a container engine;
// containerd loads it with `ctr -n k8s.io image import <tar>`. It holds what deploy/Dockerfile builds:
// the files of `npm run build` (run first) in /opt/spiderpool, a node runtime (this machine's, with the
// libraries it links) and busybox for the init container's shell, run as a non-root user.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { busyboxLayer, nodeRuntimeLayer, writeImageArchive, type ImageSpec } from '../e2e/realnode/image.ts';
import { distDir, IMAGE_FILES, repoRoot } from './build.ts';

const { version } = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { version: string };

/** The name the manifests in deploy/product run. */
export const IMAGE = `spiderpool-ts:${version}`;
export const APP_DIR = '/opt/spiderpool';
/** The distroless convention for "nonroot"; the agent's pod runs as root where it needs the host. */
export const IMAGE_USER = '65532:65532';

export async function productImage(): Promise<ImageSpec> {
  const missing = IMAGE_FILES.filter((f) => !existsSync(join(distDir, f)));
  if (missing.length > 0) throw new Error(`not built (run \`npm run build\`): ${missing.join(', ')}`);
  const files = (names: string[]) => names.map((f) => ({ from: join(distDir, f), to: `${APP_DIR}/${f}` }));
  // The plugin executables change less often than the bundles, so they get a layer of their own.
  const isPlugin = (f: string) => f.startsWith('plugins/');
  return {
    name: IMAGE,
    layers: [
      await busyboxLayer(),
      await nodeRuntimeLayer(),
      { files: files(IMAGE_FILES.filter(isPlugin)) },
      { files: files(IMAGE_FILES.filter((f) => !isPlugin(f))) },
    ],
    entrypoint: ['node'],
    workingDir: APP_DIR,
    user: IMAGE_USER,
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const file = join(distDir, `spiderpool-ts-${version}.image.tar`);
  await writeImageArchive(await productImage(), file);
  process.stdout.write(`${IMAGE} ${file} (${(statSync(file).size / 1e6).toFixed(0)} MB)\n`);
}
