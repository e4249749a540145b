// Builds `kubectl spiderpool` into dist/kubectl-spiderpool, a single executable (scripts/single-executable.ts) that
// needs no Node on the administrator's machine; copy it anywhere on PATH. `npm run build:kubectl-plugin`.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildExecutable, run, type ExecutableBuild } from '../scripts/single-executable.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

export function buildKubectlPlugin(): Promise<ExecutableBuild> {
  return buildExecutable({
    name: 'kubectl-spiderpool',
    entry: 'kubectl-plugin/main.ts',
    outDir: join(root, 'dist'),
    probe,
  });
}

/** The executable must print its usage without touching any cluster before it replaces the installed one. */
async function probe(executable: string): Promise<void> {
  const { stdout, stderr } = await run(executable, ['--help'], { env: { PATH: process.env.PATH ?? '' } });
  if (stderr !== '' || !stdout.startsWith('Usage: kubectl spiderpool'))
    throw new Error(
      `built kubectl plugin failed the --help probe: stdout=${JSON.stringify(stdout)} stderr=${JSON.stringify(stderr)}`,
    );
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { executable, rebuilt } = await buildKubectlPlugin();
  process.stdout.write(`${executable}${rebuilt ? '' : ' (up to date)'}\n`);
}
