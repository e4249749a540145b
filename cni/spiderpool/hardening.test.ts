// The plugin facing an absent agent, hostile environment and NAD values, and a socket it must not trust.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { AGENT_PATHS, type IpamAddResponse } from '../../lib/agent-api.ts';
import { LOG_DIR, SOCKET_DIR } from '../skel/paths.ts';
import { logTempDir, socketTempDir } from '../skel/testing/dirs.ts';
import { FakeAgent } from '../skel/testing/fake-agent.ts';
import {
  cniEnv,
  execPlugin,
  expectError,
  expectSilentSuccess,
  expectSuccess,
  netConf,
  withPluginAndAgent,
} from './exec-plugin.ts';

const allocation: IpamAddResponse = {
  ips: [{ nic: 'eth0', version: 4, address: '10.6.0.9/16', ipPool: 'p', gateway: '10.6.0.1' }],
  routes: [],
  dns: {},
};

describe('spiderpool plugin: hardening', () => {
  let bin: string;
  let agent: FakeAgent;
  let sockets: string;
  let logs: string;
  let outside: string;
  withPluginAndAgent((b, a) => {
    bin = b;
    agent = a;
  });
  beforeEach(() => {
    agent.on(`POST ${AGENT_PATHS.ip}`, { status: 200, body: allocation });
    agent.on(`DELETE ${AGENT_PATHS.ip}`, { status: 200 });
    sockets = socketTempDir();
    logs = logTempDir();
    outside = mkdtempSync(join(tmpdir(), 'spiderpool-outside-'));
  });
  afterEach(() => {
    for (const dir of [sockets, logs, outside]) rmSync(dir, { recursive: true, force: true });
  });

  const timed = async <T>(fn: () => Promise<T>): Promise<[T, number]> => {
    const start = Date.now();
    const value = await fn();
    return [value, Date.now() - start];
  };
  const logLines = (path: string) =>
    readFileSync(path, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);

  describe('DEL while the agent is absent', function () {
    this.timeout(20_000);

    it('no socket file: succeeds after the bounded wait and logs that the records are left to the GC', async () => {
      const log = join(logs, 'spiderpool.log');
      const [run, ms] = await timed(() =>
        execPlugin(bin, cniEnv('DEL'), netConf(join(sockets, 'missing.sock'), { ipam: { log_file_path: log } })),
      );
      expectSilentSuccess(run);
      assert.ok(ms >= 2_500 && ms < 6_000, `waited ${ms} ms`);
      const warned = logLines(log).find((l) => l.level === 'warn');
      assert.match(String(warned?.msg), /spiderpool-agent absent.*garbage collector/);
    });

    it('a stale socket file (connection refused): succeeds after the bounded wait', async () => {
      const socket = join(sockets, 'stale.sock');
      spawnSync(process.execPath, [
        '-e',
        `require('net').createServer().listen(${JSON.stringify(socket)}, () => process.kill(process.pid, 'SIGKILL'))`,
      ]);
      const [run, ms] = await timed(() => execPlugin(bin, cniEnv('DEL'), netConf(socket)));
      expectSilentSuccess(run);
      assert.ok(ms < 6_000, `waited ${ms} ms`);
    });

    it('an agent that does not answer its health check: succeeds within the bound', async () => {
      agent.on(`GET ${AGENT_PATHS.healthy}`, 'hang');
      const [run, ms] = await timed(() => execPlugin(bin, cniEnv('DEL'), netConf(agent.socketPath)));
      expectSilentSuccess(run);
      assert.ok(ms < 6_000, `waited ${ms} ms`);
      assert.equal(agent.requests.filter((r) => r.method === 'DELETE').length, 0);
    });

    it('an agent that comes back within the wait gets the release', async () => {
      const dir = socketTempDir();
      const pending = execPlugin(bin, cniEnv('DEL'), netConf(join(dir, 'agent.sock')));
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      const late = await FakeAgent.start(dir);
      try {
        late.on(`DELETE ${AGENT_PATHS.ip}`, { status: 200 });
        expectSilentSuccess(await pending);
        assert.deepEqual(
          late.requests.map((r) => `${r.method} ${r.path}`),
          [`GET ${AGENT_PATHS.healthy}`, `DELETE ${AGENT_PATHS.ip}`],
        );
      } finally {
        await late.stop();
      }
    });
  });

  // A DaemonSet upgrade leaves the node without an agent for a few seconds.
  describe('ADD while the agent is absent', function () {
    this.timeout(60_000);

    it('an agent that comes back within the wait gets the allocation request', async () => {
      const dir = socketTempDir();
      const pending = execPlugin(bin, cniEnv('ADD'), netConf(join(dir, 'agent.sock')));
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      const late = await FakeAgent.start(dir);
      try {
        late.on(`POST ${AGENT_PATHS.ip}`, { status: 500 });
        await pending;
        assert.deepEqual(
          late.requests.map((r) => `${r.method} ${r.path}`),
          [`GET ${AGENT_PATHS.healthy}`, `POST ${AGENT_PATHS.ip}`],
        );
      } finally {
        await late.stop();
      }
    });

    it('fails with 101 once the bounded wait is over', async () => {
      const [run, ms] = await timed(() => execPlugin(bin, cniEnv('ADD'), netConf(join(sockets, 'missing.sock'))));
      expectError(run, 101, 'unreachable');
      assert.ok(ms >= 29_000 && ms < 34_000, `took ${ms} ms`);
    });
  });

  describe('CNI_NETNS must be an absolute path', () => {
    for (const command of ['ADD', 'CHECK', 'DEL']) {
      it(`${command} refuses a relative CNI_NETNS with code 4`, async () => {
        const run = await execPlugin(
          bin,
          cniEnv(command, { CNI_NETNS: 'var/run/netns/cni-1234' }),
          netConf(agent.socketPath),
        );
        expectError(run, 4, 'CNI_NETNS', 'absolute');
        assert.equal(agent.requests.length, 0);
      });
    }
  });

  describe('NAD paths are confined', () => {
    let rogue: FakeAgent;
    beforeEach(async () => {
      symlinkSync(outside, join(sockets, 'link'));
      symlinkSync(outside, join(logs, 'link'));
      // Something listens outside, so only the confinement keeps the plugin from talking to it.
      rogue = await FakeAgent.start(mkdtempSync(join(outside, 'rogue-')));
    });
    afterEach(() => rogue.stop());

    const socketCases: [string, () => string][] = [
      ['outside the directory', () => rogue.socketPath],
      ['relative', () => 'agent.sock'],
      ['escaping with ..', () => `${SOCKET_DIR}/../..${rogue.socketPath}`],
      ['through a symlink', () => join(sockets, 'link', relative(outside, rogue.socketPath))],
    ];
    for (const [what, path] of socketCases) {
      it(`ipam_unix_socket_path ${what}: code 7 naming the key and ${SOCKET_DIR}/`, async () => {
        expectError(await execPlugin(bin, cniEnv('ADD'), netConf(path())), 7, 'ipam_unix_socket_path', SOCKET_DIR);
        assert.equal(rogue.requests.length, 0);
      });
    }

    const logCases: [string, () => string][] = [
      ['outside the directory', () => join(outside, 'evil.log')],
      ['escaping with ..', () => `${LOG_DIR}/../..${outside}/evil.log`],
      ['through a symlink', () => join(logs, 'link', 'evil.log')],
    ];
    for (const [what, path] of logCases) {
      it(`log_file_path ${what}: code 7 naming the key and ${LOG_DIR}/, nothing written`, async () => {
        const conf = netConf(agent.socketPath, { ipam: { log_file_path: path() } });
        expectError(await execPlugin(bin, cniEnv('ADD'), conf), 7, 'log_file_path', LOG_DIR);
        assert.equal(existsSync(join(outside, 'evil.log')), false);
        assert.equal(agent.requests.length, 0);
      });
    }

    it('paths inside the directories, also with a .. that stays inside, are used', async () => {
      const log = join(logs, 'sub', '..', 'spiderpool.log');
      expectSuccess(await execPlugin(bin, cniEnv('ADD'), netConf(agent.socketPath, { ipam: { log_file_path: log } })));
      assert.ok(existsSync(join(logs, 'spiderpool.log')));
    });
  });

  describe('the agent socket must be root-owned and not group/other-writable', () => {
    afterEach(() => {
      chownSync(agent.socketPath, 0, 0);
      chmodSync(agent.socketPath, 0o600);
    });

    it('refuses a socket owned by another user', async () => {
      chownSync(agent.socketPath, 65534, 65534);
      expectError(await execPlugin(bin, cniEnv('ADD'), netConf(agent.socketPath)), 103, agent.socketPath, 'uid 65534');
      assert.equal(agent.requests.length, 0);
    });

    it('refuses a group- or other-writable socket', async () => {
      chmodSync(agent.socketPath, 0o666);
      expectError(await execPlugin(bin, cniEnv('DEL'), netConf(agent.socketPath)), 103, agent.socketPath, '0666');
      assert.equal(agent.requests.length, 0);
    });

    it('refuses a path that is not a socket', async () => {
      const file = join(sockets, 'agent.sock');
      writeFileSync(file, '');
      chmodSync(file, 0o600);
      expectError(await execPlugin(bin, cniEnv('ADD'), netConf(file)), 103, file, 'not a socket');
    });
  });
});
