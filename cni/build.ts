// Builds the CNI plugins (cni/<name>/main.ts), each into:
//   dist/cni/<name>.cjs  the esbuild bundle (runs with `node dist/cni/<name>.cjs`)
//   dist/cni/<name>      a Node single executable application: the node binary with the bundle
//                        injected, so hosts need no Node install (only glibc and libstdc++)
// `npx tsx cni/build.ts` builds every plugin and prints the executables' paths; tests and benchmarks
// call buildPlugin(name) or buildPlugins().
// Idempotent: the bundle is rebuilt in memory every time (milliseconds) and written only when its
// bytes change; the executable is rebuilt only when the hash of the bundle and of the node binary it
// embeds changed. Files are assembled in a temp dir and renamed into place, so a concurrent reader
// never sees a half-written plugin.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outDir = join(root, 'dist/cni');
const run = promisify(execFile);

const PLUGINS = ['spiderpool', 'coordinator'] as const;
export type PluginName = (typeof PLUGINS)[number];

export interface PluginBuild {
  executable: string;
  bundle: string;
  rebuilt: boolean;
}

const pending = new Map<PluginName, Promise<PluginBuild>>();

/** Builds a plugin at most once per process; the IPAM plugin when no name is given. */
export function buildPlugin(name: PluginName = 'spiderpool'): Promise<PluginBuild> {
  let build = pending.get(name);
  if (!build) {
    build = buildOnce(name);
    pending.set(name, build);
  }
  return build;
}

/** Every plugin, one after the other: two SEA builds at once would compete for the same two cores. */
export async function buildPlugins(): Promise<Record<PluginName, PluginBuild>> {
  const out: Partial<Record<PluginName, PluginBuild>> = {};
  for (const name of PLUGINS) out[name] = await buildPlugin(name);
  return out as Record<PluginName, PluginBuild>;
}

async function buildOnce(name: PluginName): Promise<PluginBuild> {
  const bundle = join(outDir, `${name}.cjs`);
  const executable = join(outDir, name);
  const stamp = `${executable}.sha256`;
  mkdirSync(outDir, { recursive: true });
  const tmp = mkdtempSync(join(outDir, '.build-'));
  try {
    const code = await bundleCode(name);
    if (!existsSync(bundle) || !readFileSync(bundle).equals(code)) replace(tmp, bundle, code);
    const key = inputsHash(code);
    if (existsSync(executable) && existsSync(stamp) && readFileSync(stamp, 'utf8').trim() === key) {
      return { executable, bundle, rebuilt: false };
    }
    await seaExecutable(tmp, bundle, name);
    await probe(join(tmp, name));
    renameSync(join(tmp, name), executable);
    replace(tmp, stamp, `${key}\n`);
    return { executable, bundle, rebuilt: true };
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

async function bundleCode(name: PluginName): Promise<Buffer> {
  const entry = `cni/${name}/main.ts`;
  // On Node 20 the SEA main script must be one CommonJS file whose require() sees only built-ins.
  const result = await build({
    entryPoints: [join(root, entry)],
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    write: false,
    logLevel: 'warning',
  });
  const file = result.outputFiles[0];
  if (!file) throw new Error(`esbuild produced no output for ${entry}`);
  return Buffer.from(file.contents);
}

/** The blob only runs on the exact node build that made it, so that build is part of the key. */
function inputsHash(code: Buffer): string {
  const node = statSync(process.execPath);
  return createHash('sha256')
    .update(code)
    .update(`\0${process.version}\0${process.execPath}\0${node.size}\0${node.mtimeMs}`)
    .digest('hex');
}

function replace(tmp: string, target: string, data: Buffer | string): void {
  const staged = join(tmp, 'staged');
  writeFileSync(staged, data);
  renameSync(staged, target);
}

async function seaExecutable(tmp: string, bundle: string, name: PluginName): Promise<void> {
  const config = join(tmp, 'sea-config.json');
  const blob = join(tmp, 'sea-prep.blob');
  const out = join(tmp, name);
  writeFileSync(
    config,
    JSON.stringify({ main: bundle, output: blob, disableExperimentalSEAWarning: true, useCodeCache: true }),
  );
  // A NODE_OPTIONS inherited from a test runner (e.g. a TS loader) must not leak into the blob.
  const env = { ...process.env, NODE_OPTIONS: '' };
  await run(process.execPath, ['--experimental-sea-config', config], { env });
  copyFileSync(process.execPath, out);
  // postject warns about missing '.note.100' string offsets on every ELF; only its exit status matters.
  await run(
    process.execPath,
    [
      join(root, 'node_modules/postject/dist/cli.js'),
      out,
      'NODE_SEA_BLOB',
      blob,
      '--sentinel-fuse',
      'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2',
    ],
    { env },
  );
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
