// Builds one TypeScript entry point into a Node single executable application, the way the CNI plugins and
// the kubectl plugin ship:
//   <outDir>/<name>.cjs  the esbuild bundle (runs with `node <outDir>/<name>.cjs`)
//   <outDir>/<name>      the node binary with the bundle injected, so hosts need no Node install (only glibc and
//                        libstdc++)
// Idempotent: the bundle is rebuilt in memory every time (milliseconds) and written only when its bytes change;
// the executable is rebuilt only when the hash of the bundle and of the node binary it embeds changed. Files are
// assembled in a temp dir and renamed into place, so a concurrent reader never sees a half-written executable.
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
import { build, type Plugin } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
export const run = promisify(execFile);

export interface ExecutableSpec {
  name: string;
  /** The entry point, relative to the repository root. */
  entry: string;
  outDir: string;
  /** Runs the freshly built executable and throws unless it answers as it must; nothing is replaced then. */
  probe(executable: string): Promise<void>;
}

export interface ExecutableBuild {
  executable: string;
  bundle: string;
  rebuilt: boolean;
}

const pending = new Map<string, Promise<ExecutableBuild>>();

/** Builds an executable at most once per process. */
export function buildExecutable(spec: ExecutableSpec): Promise<ExecutableBuild> {
  const key = join(spec.outDir, spec.name);
  let build = pending.get(key);
  if (!build) {
    build = buildOnce(spec);
    pending.set(key, build);
  }
  return build;
}

async function buildOnce({ name, entry, outDir, probe }: ExecutableSpec): Promise<ExecutableBuild> {
  const bundle = join(outDir, `${name}.cjs`);
  const executable = join(outDir, name);
  const stamp = `${executable}.sha256`;
  mkdirSync(outDir, { recursive: true });
  const tmp = mkdtempSync(join(outDir, '.build-'));
  try {
    const code = await bundleCode(entry);
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

/**
 * Optional helpers that dependencies try to load inside try/catch (ws: bufferutil, utf-8-validate; node-fetch:
 * encoding). In a single executable, require() of anything but a built-in prints a warning on stderr, so they are
 * bundled as modules that throw, which the dependencies catch as "not installed".
 */
const OPTIONAL_MODULES = /^(bufferutil|utf-8-validate|encoding)$/;
const absentOptionals: Plugin = {
  name: 'absent-optional-modules',
  setup(b) {
    b.onResolve({ filter: OPTIONAL_MODULES }, (args) => ({ path: args.path, namespace: 'absent' }));
    b.onLoad({ filter: /.*/, namespace: 'absent' }, (args) => ({
      contents: `throw new Error(${JSON.stringify(`${args.path} is not bundled`)});`,
      loader: 'js',
    }));
  },
};

async function bundleCode(entry: string): Promise<Buffer> {
  // On Node 20 the SEA main script must be one CommonJS file whose require() sees only built-ins.
  const result = await build({
    entryPoints: [join(root, entry)],
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    write: false,
    logLevel: 'warning',
    plugins: [absentOptionals],
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

async function seaExecutable(tmp: string, bundle: string, name: string): Promise<void> {
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
