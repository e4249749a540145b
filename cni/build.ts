// Builds the CNI plugins (cni/<name>/main.ts) into dist/cni/<name> (single executables, see
// scripts/single-executable.ts) beside their bundles dist/cni/<name>.cjs.
// `npx tsx cni/build.ts` builds every plugin and prints the executables' paths; tests and benchmarks
// call buildPlugin(name) or buildPlugins().
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildExecutable, run, type ExecutableBuild } from '../scripts/single-executable.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outDir = join(root, 'dist/cni');

const PLUGINS = ['spiderpool', 'coordinator', 'ifacer'] as const;
export type PluginName = (typeof PLUGINS)[number];

export type PluginBuild = ExecutableBuild;

/** Builds a plugin at most once per process; the IPAM plugin when no name is given. */
export function buildPlugin(name: PluginName = 'spiderpool'): Promise<PluginBuild> {
  return buildExecutable({ name, entry: `cni/${name}/main.ts`, outDir, probe });
}

/** Every plugin, one after the other: two SEA builds at once would compete for the same two cores. */
export async function buildPlugins(): Promise<Record<PluginName, PluginBuild>> {
  const out: Partial<Record<PluginName, PluginBuild>> = {};
  for (const name of PLUGINS) out[name] = await buildPlugin(name);
  return out as Record<PluginName, PluginBuild>;
}

/** The executable must answer VERSION with exactly its JSON before it replaces the installed one. */
async function probe(executable: string): Promise<void> {
  const child = run(executable, [], { env: { CNI_COMMAND: 'VERSION' } });
  child.child.stdin?.end('{"cniVersion":"1.0.0"}');
  const { stdout, stderr } = await child;
  if (stderr !== '' || !stdout.startsWith('{"cniVersion":"1.0.0","supportedVersions":')) {
    throw new Error(
      `built plugin failed the VERSION probe: stdout=${JSON.stringify(stdout)} stderr=${JSON.stringify(stderr)}`,
    );
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  for (const { executable, rebuilt } of Object.values(await buildPlugins())) {
    process.stdout.write(`${executable}${rebuilt ? '' : ' (up to date)'}\n`);
  }
}
