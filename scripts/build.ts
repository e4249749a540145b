// `npm run build`: the production files, laid out in dist/ as they are in the image's /opt/spiderpool:
//   agent.mjs, controller.mjs, webhooks.mjs  each daemon as one ES module with its dependencies inside, so it
//                                            runs on plain `node` without node_modules or a TypeScript loader
//   *.mjs.map                                their source maps, for `node --enable-source-maps`
//   plugins/spiderpool, plugins/coordinator  the CNI plugins as single executables (cni/build.ts)
//   install-cni.sh                           what the agent's init container runs to copy the plugins to the host
// deploy/Dockerfile and scripts/image.ts package exactly IMAGE_FILES.
import { chmodSync, copyFileSync, linkSync, mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type BuildOptions, type Plugin, build } from 'esbuild';
import { buildPlugins } from '../cni/build.ts';
import { buildProbeTools } from '../cni/tools/build.ts';

export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..');
export const distDir = join(repoRoot, 'dist');

/** Bundle name → entry point. */
export const DAEMONS = {
  agent: 'agent/main.ts',
  controller: 'operator/main.ts',
  webhooks: 'webhooks/main.ts',
} as const;
export type Daemon = keyof typeof DAEMONS;

const PLUGINS = ['spiderpool', 'coordinator', 'ifacer'] as const;

/** Every file of the image, relative to dist/ and to /opt/spiderpool alike. */
export const IMAGE_FILES = [
  ...Object.keys(DAEMONS).flatMap((d) => [`${d}.mjs`, `${d}.mjs.map`]),
  'install-cni.sh',
  ...PLUGINS.map((p) => `plugins/${p}`),
  'plugins/spiderpool-tools.tar',
];

/** Builds everything in dist/; the plugin executables are rebuilt only when their bundles changed. */
export async function buildProduct(): Promise<void> {
  mkdirSync(join(distDir, 'plugins'), { recursive: true });
  const tmp = mkdtempSync(join(distDir, '.build-'));
  try {
    await bundleDaemons(tmp);
    const staged = join(tmp, 'install-cni.sh');
    copyFileSync(join(repoRoot, 'scripts/install-cni.sh'), staged);
    chmodSync(staged, 0o755);
    renameSync(staged, join(distDir, 'install-cni.sh'));
    // Hard links: the executables are as large as node itself, and cni/build.ts renames a new one into
    // place rather than writing over the file these link to.
    const plugins = await buildPlugins();
    for (const name of PLUGINS) {
      linkSync(plugins[name].executable, join(tmp, name));
      renameSync(join(tmp, name), join(distDir, 'plugins', name));
    }
    linkSync(buildProbeTools().tar, join(tmp, 'spiderpool-tools.tar'));
    renameSync(join(tmp, 'spiderpool-tools.tar'), join(distDir, 'plugins', 'spiderpool-tools.tar'));
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** Gives @dot-i/k8s-operator the few client-node classes it uses (operator/runtime/client-node-for-operator.ts). */
const slimClientForOperatorShell: Plugin = {
  name: 'client-node-for-operator',
  setup(b) {
    b.onResolve({ filter: /^@kubernetes\/client-node$/ }, (args) =>
      args.importer.includes('/node_modules/@dot-i/k8s-operator/')
        ? { path: join(repoRoot, 'operator/runtime/client-node-for-operator.ts') }
        : undefined,
    );
  },
};

/** How every daemon is bundled: one ES module with its dependencies inside, for plain `node`. */
export const DAEMON_BUNDLE = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  // ES modules because the entry points await at top level.
  format: 'esm',
  // The CommonJS dependencies require Node's built-ins, which an ES module has no `require` for.
  banner: { js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);" },
  // V8 keeps a script's whole source in the heap for as long as it runs: without whitespace and
  // comments the controller idles about 20 MB smaller. Identifiers stay, so stack traces stay readable.
  minifyWhitespace: true,
  minifySyntax: true,
  plugins: [slimClientForOperatorShell],
  logLevel: 'warning',
} satisfies BuildOptions;

async function bundleDaemons(tmp: string): Promise<void> {
  const result = await build({
    ...DAEMON_BUNDLE,
    entryPoints: Object.fromEntries(Object.entries(DAEMONS).map(([name, entry]) => [name, join(repoRoot, entry)])),
    outdir: distDir,
    outExtension: { '.js': '.mjs' },
    // Without the sources the maps are a third of the size, and a stack trace still names file and line.
    sourcemap: 'linked',
    sourcesContent: false,
    write: false,
  });
  // Written beside and renamed into place, so a daemon starting meanwhile never reads half a bundle.
  for (const file of result.outputFiles) {
    const staged = join(tmp, basename(file.path));
    writeFileSync(staged, file.contents);
    renameSync(staged, file.path);
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await buildProduct();
  process.stdout.write(`${IMAGE_FILES.map((f) => join(distDir, f)).join('\n')}\n`);
}
