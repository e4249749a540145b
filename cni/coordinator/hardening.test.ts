// The coordinator executable facing hostile NAD paths, a relative CNI_NETNS and an untrusted socket.
import assert from 'node:assert/strict';
import { chmodSync, chownSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AGENT_PATHS } from '../../lib/agent-api.ts';
import { buildPlugin } from '../build.ts';
import { LOG_DIR, SOCKET_DIR } from '../skel/paths.ts';
import { FakeAgent } from '../skel/testing/fake-agent.ts';
import { cniEnv, execPlugin, expectError } from '../spiderpool/exec-plugin.ts';

const prevResult = { cniVersion: '1.0.0', ips: [{ address: '10.6.212.10/16' }] };

describe('coordinator plugin: hardening', function () {
  this.timeout(180_000);
  let bin: string;
  let agent: FakeAgent;
  let outside: string;
  before(async () => {
    bin = (await buildPlugin('coordinator')).executable;
    agent = await FakeAgent.start();
  });
  after(() => agent?.stop());
  beforeEach(() => {
    agent.reset();
    agent.on(`GET ${AGENT_PATHS.coordinatorConfig}`, {
      status: 404,
      body: { reason: 'CoordinatorNotFound', message: 'none' },
    });
    outside = mkdtempSync(join(tmpdir(), 'coordinator-outside-'));
  });
  afterEach(() => rmSync(outside, { recursive: true, force: true }));

  const conf = (extra: Record<string, unknown>) =>
    JSON.stringify({ cniVersion: '1.0.0', name: 'net', type: 'coordinator', prevResult, ...extra });

  it('refuses ipam_unix_socket_path outside the socket directory with code 7', async () => {
    const rogue = await FakeAgent.start(mkdtempSync(join(outside, 'rogue-')));
    try {
      const run = await execPlugin(bin, cniEnv('ADD'), conf({ ipam_unix_socket_path: rogue.socketPath }));
      expectError(run, 7, 'ipam_unix_socket_path', SOCKET_DIR);
      assert.equal(rogue.requests.length, 0);
    } finally {
      await rogue.stop();
    }
  });

  it('refuses logOptions.logFile outside the log directory with code 7 and writes nothing', async () => {
    const logFile = `${LOG_DIR}/../..${outside}/evil.log`;
    const run = await execPlugin(
      bin,
      cniEnv('DEL', { CNI_NETNS: '/nonexistent/netns' }),
      conf({ ipam_unix_socket_path: agent.socketPath, logOptions: { logFile } }),
    );
    expectError(run, 7, 'logOptions.logFile', LOG_DIR);
    assert.equal(existsSync(join(outside, 'evil.log')), false);
  });

  it('refuses a relative CNI_NETNS with code 4', async () => {
    const run = await execPlugin(bin, cniEnv('ADD', { CNI_NETNS: 'netns/pod' }), conf({}));
    expectError(run, 4, 'CNI_NETNS', 'absolute');
    assert.equal(agent.requests.length, 0);
  });

  it('refuses an agent socket owned by another user', async () => {
    chownSync(agent.socketPath, 65534, 65534);
    try {
      const run = await execPlugin(bin, cniEnv('ADD'), conf({ ipam_unix_socket_path: agent.socketPath }));
      expectError(run, 103, agent.socketPath, 'uid 65534');
      assert.equal(agent.requests.length, 0);
    } finally {
      chownSync(agent.socketPath, 0, 0);
      chmodSync(agent.socketPath, 0o600);
    }
  });
});
