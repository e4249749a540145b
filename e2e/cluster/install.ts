import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Kubectl, kubectlOk } from './kubectl.ts';

export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Applies every CRD in crds/ and waits until the apiserver serves them all. */
export async function installCrds(kubectl: Kubectl): Promise<void> {
  await kubectlOk(kubectl, ['apply', '-f', join(repoRoot, 'crds')]);
  await kubectlOk(kubectl, [
    'wait',
    '--for',
    'condition=Established',
    '--timeout',
    '60s',
    '-f',
    join(repoRoot, 'crds'),
  ]);
}
