// Builds the spiderpool IPAM plugin:
//   dist/cni/spiderpool.cjs  the esbuild bundle (runs with `node dist/cni/spiderpool.cjs`)
//   dist/cni/spiderpool      a Node single executable application: the node binary with the bundle
//                            injected, so hosts need no Node install (only glibc and libstdc++)
// `npx tsx cni/build.ts` prints the executable's path; tests and benchmarks call buildPlugin().
// Idempotent: the bundle is rebuilt in memory every time (milliseconds) and written only when its
// bytes change; the executable is rebuilt only when the hash of the bundle and of the node binary it
// embeds changed. Files are assembled in a temp dir and renamed into place, so a concurrent reader
// never sees a half-written plugin.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outDir = join(root, 'dist/cni');
const run = promisify(execFile);

export interface PluginBuild { executable: string; bundle: string; rebuilt: boolean }

let pending: Promise<PluginBuild> | undefined;

/** Builds at most once per process. */
export function buildPlugin(): Promise<PluginBuild> {
  pending ??= buildOnce();
  return pending;
}

async function buildOnce(): Promise<PluginBuild> {
  const bundle = join(outDir, 'spiderpool.cjs');
  const executable = join(outDir, 'spiderpool');
  const stamp = `${executable}.sha256`;
  mkdirSync(outDir, { recursive: true });
  const tmp = mkdtempSync(join(outDir, '.build-'));
  try {
    const code = await bundleCode();
    if (!existsSync(bundle) || !readFileSync(bundle).equals(code)) replace(tmp, bundle, code);
    const key = inputsHash(code);
    if (existsSync(executable) && existsSync(stamp) && readFileSync(stamp, 'utf8').trim() === key) {
      return { executable, bundle, rebuilt: false };
    }
    await seaExecutable(tmp, bundle);
    await probe(join(tmp, 'spiderpool'));
    renameSync(join(tmp, 'spiderpool'), executable);
    replace(tmp, stamp, `${key}\n`);
    return { executable, bundle, rebuilt: true };
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

async function bundleCode(): Promise<Buffer> {
  // On Node 20 the SEA main script must be one CommonJS file whose require() sees only built-ins.
  const result = await build({
    entryPoints: [join(root, 'cni/spiderpool/main.ts')],
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    write: false,
    logLevel: 'warning',
  });
  const file = result.outputFiles[0];
  if (!file) throw new Error('esbuild produced no output for cni/spiderpool/main.ts');
  return Buffer.from(file.contents);
}

/** The blob only runs on the exact node build that made it, so that build is part of the key. */
function inputsHash(code: Buffer): string {
  const node = statSync(process.execPath);
  return createHash('sha256').update(code).update(`\0${process.version}\0${process.execPath}\0${node.size}\0${node.mtimeMs}`).digest('hex');
}

function replace(tmp: string, target: string, data: Buffer | string): void {
  const staged = join(tmp, 'staged');
  writeFileSync(staged, data);
  renameSync(staged, target);
}

async function seaExecutable(tmp: string, bundle: string): Promise<void> {
  const config = join(tmp, 'sea-config.json');
  const blob = join(tmp, 'sea-prep.blob');
  const out = join(tmp, 'spiderpool');
  writeFileSync(config, JSON.stringify({ main: bundle, output: blob, disableExperimentalSEAWarning: true, useCodeCache: true }));
  // A NODE_OPTIONS inherited from a test runner (e.g. a TS loader) must not leak into the blob.
  const env = { ...process.env, NODE_OPTIONS: '' };
  await run(process.execPath, ['--experimental-sea-config', config], { env });
  copyFileSync(process.execPath, out);
  // postject warns about missing '.note.100' string offsets on every ELF; only its exit status matters.
  await run(process.execPath, [
    join(root, 'node_modules/postject/dist/cli.js'), out, 'NODE_SEA_BLOB', blob,
    '--sentinel-fuse', 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2',
  ], { env });
}

/** The executable must answer VERSION with exactly its JSON before it replaces the installed one. */
async function probe(executable: string): Promise<void> {
  const child = run(executable, [], { env: { CNI_COMMAND: 'VERSION' } });
  child.child.stdin?.end('{"cniVersion":"1.0.0"}');
  const { stdout, stderr } = await child;
  if (stderr !== '' || !stdout.startsWith('{"cniVersion":"1.0.0","supportedVersions":')) {
    throw new Error(`built plugin failed the VERSION probe: stdout=${JSON.stringify(stdout)} stderr=${JSON.stringify(stderr)}`);
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { executable, rebuilt } = await buildPlugin();
  process.stdout.write(`${executable}${rebuilt ? '' : ' (up to date)'}\n`);
}
