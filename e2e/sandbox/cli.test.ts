// The sandbox's command line refuses what it cannot do before starting anything.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '../cluster/install.ts';
import { QUICKSTARTS } from './quickstarts.ts';

function sandbox(args: string[], stateDir: string): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', join(repoRoot, 'e2e/sandbox/main.ts'), ...args],
      { env: { ...process.env, SPIDERPOOL_SANDBOX_DIR: stateDir } },
      (err, _stdout, stderr) => resolve({ code: typeof err?.code === 'number' ? err.code : 0, stderr }),
    );
  });
}

describe('sandbox command line', function () {
  this.timeout(30_000);
  const stateDir = mkdtempSync(join(tmpdir(), 'sandbox-cli-'));
  after(() => rmSync(stateDir, { recursive: true, force: true }));

  it('names the quick starts when given an unknown one', async () => {
    const r = await sandbox(['--quickstart', 'calico'], stateDir);
    assert.equal(r.code, 2);
    assert.equal(
      r.stderr.trim(),
      `sandbox: --quickstart calico: unknown quick start; one of ${QUICKSTARTS.join(', ')}`,
    );
  });

  it('runs only seed 000 on a real node', async () => {
    const r = await sandbox(['--real-node', '--quickstart', 'macvlan-overlay'], stateDir);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--real-node runs only --quickstart calico-quickstart, not macvlan-overlay/);
  });

  it('--exec needs a running sandbox', async () => {
    const r = await sandbox(['--exec', 'nginx', 'ip', 'rule'], stateDir);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /--exec needs a running sandbox with simulated nodes/);
  });
});
