import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { AGENT_PATHS, CNI_CODE_FOR_REASON, HTTP_STATUS, type AgentErrorReason } from '../../lib/agent-api.ts';
import { cniEnv, execPlugin, expectError, netConf, withPluginAndAgent } from './exec-plugin.ts';
import type { FakeAgent } from '../skel/testing/fake-agent.ts';
import { socketTempDir } from '../skel/testing/dirs.ts';

describe('spiderpool plugin: errors', () => {
  let bin: string;
  let agent: FakeAgent;
  withPluginAndAgent((b, a) => {
    bin = b;
    agent = a;
  });

  const add = (stdin: string, env: Record<string, string | undefined> = {}) =>
    execPlugin(bin, cniEnv('ADD', env), stdin);
  const conf = (c: Parameters<typeof netConf>[1] = {}) => netConf(agent.socketPath, c);

  describe('code 4: environment', () => {
    const cases: [string, Record<string, string | undefined>, string[]][] = [
      ['CNI_COMMAND missing', { CNI_COMMAND: undefined }, ['CNI_COMMAND']],
      ['CNI_COMMAND unknown', { CNI_COMMAND: 'ATTACH' }, ['unknown CNI_COMMAND "ATTACH"']],
      ['GC (spec 1.1.0 only)', { CNI_COMMAND: 'GC' }, ['unsupported CNI_COMMAND "GC"', '1.1.0']],
      ['STATUS (spec 1.1.0 only)', { CNI_COMMAND: 'STATUS' }, ['unsupported CNI_COMMAND "STATUS"', '1.1.0']],
      ['CNI_NETNS missing on ADD', { CNI_NETNS: undefined }, ['missing for ADD: CNI_NETNS']],
      [
        'CNI_CONTAINERID and CNI_PATH missing',
        { CNI_CONTAINERID: undefined, CNI_PATH: undefined },
        ['CNI_CONTAINERID, CNI_PATH'],
      ],
      ['CNI_CONTAINERID with a slash', { CNI_CONTAINERID: '../etc' }, ['invalid CNI_CONTAINERID "../etc"']],
      ['CNI_IFNAME too long', { CNI_IFNAME: 'a-very-long-ifname' }, ['invalid CNI_IFNAME "a-very-long-ifname"', '15']],
      ['CNI_IFNAME with a slash', { CNI_IFNAME: 'eth/0' }, ['invalid CNI_IFNAME "eth/0"']],
      [
        'CNI_ARGS pair without "="',
        { CNI_ARGS: 'K8S_POD_NAMESPACE=ns1;K8S_POD_NAME' },
        ['invalid CNI_ARGS pair "K8S_POD_NAME"'],
      ],
      [
        'CNI_ARGS with a namespace only',
        { CNI_ARGS: 'K8S_POD_NAMESPACE=ns1' },
        ['both K8S_POD_NAMESPACE and K8S_POD_NAME'],
      ],
    ];
    for (const [what, env, msg] of cases) {
      it(what, async () => {
        expectError(await add(conf(), env), 4, ...msg);
        assert.equal(agent.requests.length, 0);
      });
    }

    it('DEL does not need CNI_NETNS but does need CNI_IFNAME', async () => {
      expectError(
        await execPlugin(bin, cniEnv('DEL', { CNI_NETNS: undefined, CNI_IFNAME: undefined }), conf()),
        4,
        'missing for DEL: CNI_IFNAME',
      );
    });
  });

  describe('code 6: undecodable stdin', () => {
    const cases: [string, string, string][] = [
      ['not JSON', '{"cniVersion": "1.0.0",', 'not valid JSON'],
      ['empty', '', 'is empty'],
      ['a JSON array', '[1, 2]', 'must be a JSON object'],
      ['cniVersion not a string', '{"cniVersion": 1, "ipam": {}}', 'field "cniVersion" must be a string'],
    ];
    for (const [what, stdin, msg] of cases) {
      it(what, async () => {
        const out = expectError(await add(stdin), 6, msg);
        assert.equal(out.cniVersion, '1.0.0');
      });
    }
  });

  describe('code 1: cniVersion', () => {
    for (const v of ['0.2.0', '1.1.0']) {
      it(`rejects ${v}`, async () => {
        const out = expectError(
          await add(conf({ cniVersion: v })),
          1,
          `unsupported cniVersion "${v}"`,
          '0.3.0, 0.3.1, 0.4.0, 1.0.0',
        );
        assert.equal(out.cniVersion, '1.0.0');
      });
    }
    it('rejects a config without cniVersion (libcni reads it as 0.1.0)', async () => {
      expectError(await add(JSON.stringify({ name: 'n', ipam: { type: 'spiderpool' } })), 1, 'no cniVersion', '0.1.0');
    });
  });

  describe('code 7: ipam config', () => {
    const cases: [string, unknown, string][] = [
      ['default_ipv4_ippool', 'v4-pool', 'must be an array of pool names, got "v4-pool"'],
      ['default_ipv6_ippool', [6], 'must be an array of pool names, got [6]'],
      ['clean_gateway', 'yes', 'must be a boolean, got "yes"'],
      ['match_master_subnet', 1, 'must be a boolean, got 1'],
      ['ipam_unix_socket_path', 5, 'must be a string, got 5'],
      ['log_level', 'LOUD', 'must be one of DEBUG, INFO, WARN, ERROR, got "LOUD"'],
    ];
    for (const [field, value, msg] of cases) {
      it(`${field}: ${JSON.stringify(value)}`, async () => {
        expectError(await add(conf({ ipam: { [field]: value } })), 7, `ipam config field "${field}" ${msg}`);
      });
    }
    it('ipam block missing', async () => {
      expectError(await add(JSON.stringify({ cniVersion: '0.4.0', name: 'n' })), 7, 'field "ipam" must be an object');
    });
    it('stamps the error with the requested version', async () => {
      const out = expectError(await add(conf({ cniVersion: '0.3.1', ipam: { clean_gateway: 'no' } })), 7);
      assert.equal(out.cniVersion, '0.3.1');
    });
  });

  describe('code 101: agent unreachable', () => {
    let dir: string;
    before(() => {
      dir = socketTempDir();
    });
    after(() => rmSync(dir, { recursive: true, force: true }));

    it('ENOENT: no socket file', async () => {
      const socket = join(dir, 'missing.sock');
      const out = expectError(
        await add(netConf(socket)),
        101,
        `spiderpool-agent is unreachable on unix socket ${socket}`,
      );
      assert.equal(out.details, 'ENOENT');
    });

    it('ECONNREFUSED: a socket file nobody listens on', async () => {
      const socket = join(dir, 'stale.sock');
      // A listener killed without cleanup leaves its socket file behind, like a crashed agent.
      spawnSync(process.execPath, [
        '-e',
        `require('net').createServer().listen(${JSON.stringify(socket)}, () => process.kill(process.pid, 'SIGKILL'))`,
      ]);
      assert.ok(existsSync(socket));
      const out = expectError(await add(netConf(socket)), 101, socket);
      assert.equal(out.details, 'ECONNREFUSED');
    });
  });

  describe('agent error answers map through CNI_CODE_FOR_REASON', () => {
    for (const reason of Object.keys(HTTP_STATUS) as AgentErrorReason[]) {
      it(`${reason} → ${CNI_CODE_FOR_REASON[reason]}`, async () => {
        agent.on(`POST ${AGENT_PATHS.ip}`, {
          status: HTTP_STATUS[reason],
          body: { reason, message: `pool v4-pool: ${reason} detail` },
        });
        const out = expectError(
          await add(conf()),
          CNI_CODE_FOR_REASON[reason],
          `failed to allocate an IP for pod ns1/web-0 interface eth0: ${reason}: pool v4-pool: ${reason} detail`,
        );
        assert.equal(out.details, `HTTP ${HTTP_STATUS[reason]} from POST ${AGENT_PATHS.ip}`);
      });
    }

    it('an error answer without a known reason → 110 with the body in details', async () => {
      agent.on(`POST ${AGENT_PATHS.ip}`, { status: 502, raw: 'bad gateway' });
      const out = expectError(await add(conf()), 110, `POST ${AGENT_PATHS.ip} with HTTP 502 and no error reason`);
      assert.equal(out.details, 'bad gateway');
    });

    it('an unhealthy answer without a reason → 11', async () => {
      agent.on(`GET ${AGENT_PATHS.healthy}`, { status: 500 });
      expectError(await add(conf()), 11, `unhealthy spiderpool-agent backend at ${agent.socketPath}: HTTP 500`);
    });
  });

  describe('malformed or lost agent answers', () => {
    const cases: [string, string, string][] = [
      ['not JSON', 'ok', 'not a JSON object'],
      ['ips not an array', '{"ips": {}, "routes": [], "dns": {}}', '"ips" is not an array'],
      [
        'address without prefix',
        '{"ips": [{"nic": "eth0", "version": 4, "address": "10.0.0.1", "ipPool": "p"}], "routes": []}',
        'ips[0].address "10.0.0.1" is not in CIDR form',
      ],
      [
        'family mismatch',
        '{"ips": [{"nic": "eth0", "version": 6, "address": "10.0.0.1/8", "ipPool": "p"}], "routes": []}',
        'not an IPv6 address',
      ],
    ];
    for (const [what, raw, msg] of cases) {
      it(`${what} → 110`, async () => {
        agent.on(`POST ${AGENT_PATHS.ip}`, { status: 200, raw });
        expectError(await add(conf()), 110, `POST ${AGENT_PATHS.ip} with a malformed body`, msg);
      });
    }

    it('a connection dropped mid-request → 11', async () => {
      agent.on(`POST ${AGENT_PATHS.ip}`, 'reset');
      expectError(await add(conf()), 11, `POST ${AGENT_PATHS.ip} to spiderpool-agent at ${agent.socketPath} failed`);
    });

    it('a health check that never answers times out after 5 s → 11', async function () {
      this.timeout(20_000);
      agent.on(`GET ${AGENT_PATHS.healthy}`, 'hang');
      const started = Date.now();
      const out = expectError(await add(conf()), 11, `did not answer GET ${AGENT_PATHS.healthy} within 5 s`);
      assert.equal(out.details, 'timeout');
      assert.ok(Date.now() - started >= 5_000);
    });
  });
});
