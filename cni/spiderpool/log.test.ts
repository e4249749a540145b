import assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { AGENT_PATHS, type IpamAddResponse } from '../../lib/agent-api.ts';
import { cniEnv, execPlugin, expectError, expectSuccess, netConf, withPluginAndAgent } from './exec-plugin.ts';
import type { FakeAgent } from '../skel/testing/fake-agent.ts';
import { logTempDir } from '../skel/testing/dirs.ts';

const SPIDERPOOL_DEFAULT_LOG = '/var/log/spidernet/spiderpool.log';
const allocation: IpamAddResponse = {
  ips: [{ nic: 'eth0', version: 4, address: '10.6.0.9/16', ipPool: 'p', gateway: '10.6.0.1' }],
  routes: [],
  dns: {},
};

describe('spiderpool plugin: log file', () => {
  let bin: string;
  let agent: FakeAgent;
  let dir: string;
  withPluginAndAgent((b, a) => {
    bin = b;
    agent = a;
  });
  beforeEach(() => {
    agent.on(`POST ${AGENT_PATHS.ip}`, { status: 200, body: allocation });
    dir = logTempDir();
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const lines = (path: string) =>
    readFileSync(path, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);

  it('appends JSON lines to log_file_path, creating its directory, and keeps stdout to the result', async () => {
    const path = join(dir, 'nested', 'spiderpool.log');
    const out = expectSuccess(
      await execPlugin(bin, cniEnv('ADD'), netConf(agent.socketPath, { ipam: { log_file_path: path } })),
    );
    assert.deepEqual(out.ips, [{ address: '10.6.0.9/16', gateway: '10.6.0.1' }]);
    const logged = lines(path);
    assert.deepEqual(
      logged.map((l) => [l.level, l.msg]),
      [['info', 'allocated']],
    );
    assert.equal(logged[0]?.pod, 'ns1/web-0');
    assert.equal(logged[0]?.containerID, 'c0ffee');
  });

  it('log_level DEBUG adds the request; failures are logged at error', async () => {
    const path = join(dir, 'spiderpool.log');
    agent.on(`POST ${AGENT_PATHS.ip}`, { status: 422, body: { reason: 'IPUsedOut', message: 'pool p is exhausted' } });
    expectError(
      await execPlugin(
        bin,
        cniEnv('ADD'),
        netConf(agent.socketPath, { ipam: { log_file_path: path, log_level: 'debug' } }),
      ),
      100,
    );
    const logged = lines(path);
    assert.deepEqual(
      logged.map((l) => l.level),
      ['debug', 'debug', 'error'],
    );
    assert.match(JSON.stringify(logged[2]), /pool p is exhausted/);
  });

  it("does not fall back to Spiderpool's default log path when log_file_path is unset", async () => {
    const size = () => (existsSync(SPIDERPOOL_DEFAULT_LOG) ? statSync(SPIDERPOOL_DEFAULT_LOG).size : -1);
    const before = size();
    expectSuccess(await execPlugin(bin, cniEnv('ADD'), netConf(agent.socketPath, { ipam: { log_level: 'DEBUG' } })));
    assert.equal(size(), before);
  });

  it('an unwritable log path does not change the result', async () => {
    // A directory where the file should be: every append fails.
    expectSuccess(await execPlugin(bin, cniEnv('ADD'), netConf(agent.socketPath, { ipam: { log_file_path: dir } })));
  });
});
