// `npm run build` and what the image is made of: each daemon bundle runs on plain node with nothing beside
// it (no node_modules, no TypeScript loader), the init container's script installs the plugins, and
// deploy/ packages and names the same files as scripts/image.ts.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { buildProduct, DAEMONS, distDir, IMAGE_FILES, repoRoot, type Daemon } from '../scripts/build.ts';
import { APP_DIR, IMAGE, IMAGE_USER, productImage } from '../scripts/image.ts';

const run = promisify(execFile);

/** A setting each daemon refuses, and the error it logs. */
const BAD_CONFIG: Record<Daemon, { env: Record<string, string>; error: RegExp }> = {
  agent: { env: {}, error: /^invalid configuration: NODE_NAME is required$/ },
  controller: { env: { OPERATOR_METRICS_PORT: 'x' }, error: /^invalid configuration: OPERATOR_METRICS_PORT: "x"/ },
  webhooks: { env: { WEBHOOK_PORT: 'x' }, error: /^invalid configuration: WEBHOOK_PORT: "x"/ },
};

describe('npm run build', function () {
  // The plugin executables are rebuilt only when their code changed; that takes about a minute.
  this.timeout(180_000);
  let dir: string;

  before(async () => {
    await buildProduct();
    dir = mkdtempSync(join(tmpdir(), 'spiderpool-build-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  for (const daemon of Object.keys(DAEMONS) as Daemon[]) {
    it(`${daemon}.mjs loads alone on plain node and exits 1 on a bad setting`, async () => {
      // Every module is evaluated before the daemon reads its settings, so reaching the message proves
      // the whole bundle loads.
      const bundle = join(dir, `${daemon}.mjs`);
      copyFileSync(join(distDir, `${daemon}.mjs`), bundle);
      const { env, error } = BAD_CONFIG[daemon];
      const exit = await run(process.execPath, [bundle], {
        cwd: dir,
        env: { PATH: process.env.PATH, HOME: dir, ...env },
      }).then(
        () => assert.fail(`${daemon} started`),
        (err: { code: number; stdout: string; stderr: string }) => err,
      );
      assert.equal(exit.code, 1, exit.stdout + exit.stderr);
      const failed = (exit.stdout + exit.stderr)
        .split('\n')
        .filter((line) => line.startsWith('{'))
        .map((line) => JSON.parse(line) as { message: string; err?: string })
        .find((entry) => entry.message.endsWith('failed to start'));
      assert.match(failed?.err ?? '', error, exit.stdout + exit.stderr);
    });
  }

  it('no bundle loads tsx or typescript', () => {
    const specifier = /(?:require\(|import\(|from)\s*["'](?:tsx|typescript)(?:\/[^"']*)?["']/;
    for (const daemon of Object.keys(DAEMONS)) {
      assert.doesNotMatch(readFileSync(join(distDir, `${daemon}.mjs`), 'utf8'), specifier, daemon);
    }
  });

  it('install-cni.sh puts the plugins and the probe tools into the directory it is given', async () => {
    const hostBin = mkdtempSync(join(dir, 'bin-'));
    await run(join(distDir, 'install-cni.sh'), [hostBin]);
    for (const plugin of ['spiderpool', 'coordinator', 'ifacer']) {
      const installed = join(hostBin, plugin);
      assert.equal(statSync(installed).mode & 0o111, 0o111, `${plugin} is executable`);
      assert.equal(statSync(installed).size, statSync(join(distDir, 'plugins', plugin)).size);
    }
    assert.ok(statSync(join(hostBin, 'spiderpool-tools/arping')).isFile(), 'the probe tools are unpacked beside them');
    await assert.rejects(run(join(distDir, 'install-cni.sh'), []), /usage: install-cni.sh/);
  });

  it('deploy/ packages the files scripts/image.ts packs and runs them from that image', async () => {
    const dockerfile = readFileSync(join(repoRoot, 'deploy/Dockerfile'), 'utf8');
    assert.deepEqual([...dockerfile.matchAll(/\bdist\/(\S+)/g)].map((m) => m[1]).sort(), [...IMAGE_FILES].sort());
    assert.ok(dockerfile.includes(`\nUSER ${IMAGE_USER}\n`));
    const manifests = join(repoRoot, 'deploy/product');
    const yaml = readdirSync(manifests)
      .filter((f) => f.endsWith('.yaml'))
      .map((f) => readFileSync(join(manifests, f), 'utf8'))
      .join('\n');
    const images = [...yaml.matchAll(/\bimage: (\S+)/g)].map((m) => m[1]);
    assert.ok(images.length > 0);
    for (const image of images) assert.equal(image, IMAGE);
    const used = [...yaml.matchAll(new RegExp(`${APP_DIR}/([^\\s,\\]]+)`, 'g'))].map((m) => m[1] ?? '');
    assert.ok(used.length > 0);
    for (const file of used) assert.ok(IMAGE_FILES.includes(file), `${file} is not in the image`);

    const spec = await productImage();
    assert.equal(spec.user, IMAGE_USER);
    const packed = spec.layers.flatMap((l) => l.files ?? []).map((f) => f.to);
    for (const file of IMAGE_FILES) assert.ok(packed.includes(`${APP_DIR}/${file}`), file);
  });
});
