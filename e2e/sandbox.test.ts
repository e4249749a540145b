// The README's sandbox command: starts detached, prints KUBECONFIG last, serves the quick-start
// objects, and stops without leaving anything behind.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { controlPlaneBinaries } from './cluster/control-plane.ts';
import { repoRoot } from './cluster/install.ts';
import { kubectlFor, kubectlOk } from './cluster/kubectl.ts';
import { eventually } from './harness/wait.ts';

const run = promisify(execFile);

describe('sandbox', function () {
  this.timeout(180_000);

  it('starts with --detach, serves the quick-start pools, runs the quick-start Deployment, and --stop removes everything', async () => {
    const stateDir = mkdtempSync(join(tmpdir(), 'sandbox-test-'));
    const env = { ...process.env, SPIDERPOOL_SANDBOX_DIR: stateDir };
    try {
      const { stdout } = await run('bash', [join(repoRoot, 'scripts/sandbox.sh'), '--detach'], { env });
      const last = stdout.trim().split('\n').at(-1) ?? '';
      assert.match(last, /^KUBECONFIG=\//);
      const kubeconfig = last.slice('KUBECONFIG='.length);
      const kubectl = kubectlFor(await controlPlaneBinaries(), kubeconfig);
      const pools = await kubectlOk(kubectl, ['get', 'sp', '-o', 'name']);
      assert.equal(pools.trim(), 'spiderippool.spiderpool.spidernet.io/nginx-ippool-v4', 'seed 000 has one pool');
      await kubectlOk(kubectl, ['apply', '-f', join(repoRoot, 'e2e/fixtures/calico-quickstart/nginx-deployment.yaml')]);
      const deadline = Date.now() + 60_000;
      let ips: string[] = [];
      while (Date.now() < deadline && ips.length < 2) {
        ips = (
          await kubectlOk(kubectl, [
            'get',
            'pods',
            '-l',
            'app=nginx',
            '--field-selector',
            'status.phase=Running',
            '-o',
            'jsonpath={.items[*].status.podIP}',
          ])
        )
          .split(' ')
          .filter(Boolean);
        await new Promise((r) => setTimeout(r, 500));
      }
      assert.equal(ips.length, 2, 'the quick-start Deployment runs with two pods');
      assert.ok(
        ips.every((ip) => ip.startsWith('10.244.')),
        `addresses from nginx-ippool-v4: ${ips.join(' ')}`,
      );

      // The operator fills pool status; the coordinator learns the cluster's CIDRs; the webhooks refuse an
      // invalid pool.
      await eventually('the operator to fill TOTAL-IP-COUNT', 60_000, async () => {
        const total = await kubectlOk(kubectl, [
          'get',
          'sp',
          'nginx-ippool-v4',
          '-o',
          'jsonpath={.status.totalIPCount}',
        ]);
        return total === '25602' ? true : undefined;
      });
      await eventually('the default coordinator to be Synced', 60_000, async () =>
        (await kubectlOk(kubectl, ['get', 'scc', 'default', '-o', 'jsonpath={.status.phase}'])) === 'Synced'
          ? true
          : undefined,
      );
      const invalid = await kubectl(['apply', '-f', '-'], {
        stdin:
          'apiVersion: spiderpool.spidernet.io/v2beta1\nkind: SpiderIPPool\nmetadata: {name: outside}\nspec: {subnet: 10.9.0.0/24, ips: [10.8.0.1]}\n',
      });
      assert.notEqual(invalid.code, 0);
      assert.match(invalid.stderr, /spec\.ips/);
      const again = await run('bash', [join(repoRoot, 'scripts/sandbox.sh'), '--detach'], { env }).catch(
        (e: { stderr: string }) => e,
      );
      assert.match(String((again as { stderr: string }).stderr), /already running/);

      const stopped = await run('bash', [join(repoRoot, 'scripts/sandbox.sh'), '--stop'], { env });
      assert.match(stopped.stdout, /sandbox: stopped/);
      assert.equal(existsSync(dirname(kubeconfig)), false, 'the control plane directory is removed');
      assert.equal(existsSync(join(stateDir, 'state.json')), false);
    } finally {
      await run('bash', [join(repoRoot, 'scripts/sandbox.sh'), '--stop'], { env }).catch(() => undefined);
      rmSync(stateDir, { recursive: true, force: true });
    }
  });
});
