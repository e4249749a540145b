// The CNI executor follows the spec's rules for configuration lists, checked with recording plugins:
// injected name and cniVersion, prevResult chaining on ADD, reverse DEL with the ADD result, the
// environment, runtimeConfig only for declared capabilities, and plugin errors surfaced verbatim.
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { addNetworkList, delNetworkList, resultAddresses, resultMac, type RuntimeConf, toConfList } from './cni.ts';

// Appends what it was given to conf.logFile; on ADD it adds conf.address to the previous result.
const RECORDING_PLUGIN = `#!/usr/bin/env node
const fs = require('fs');
const conf = JSON.parse(fs.readFileSync(0, 'utf8'));
const env = {};
for (const k of ['CNI_COMMAND', 'CNI_CONTAINERID', 'CNI_NETNS', 'CNI_IFNAME', 'CNI_PATH', 'CNI_ARGS']) env[k] = process.env[k];
fs.appendFileSync(conf.logFile, JSON.stringify({ env, conf }) + '\\n');
if (conf.fail) {
  process.stdout.write(JSON.stringify({ cniVersion: conf.cniVersion, code: 11, msg: 'no luck', details: 'really' }));
  process.exit(1);
}
if (process.env.CNI_COMMAND === 'ADD') {
  const result = conf.prevResult || { cniVersion: conf.cniVersion, interfaces: [{ name: process.env.CNI_IFNAME, mac: '02:00:00:00:00:01', sandbox: process.env.CNI_NETNS }], ips: [] };
  if (conf.address) result.ips.push({ address: conf.address, interface: 0 });
  process.stdout.write(JSON.stringify(result));
}
`;

interface Call {
  env: Record<string, string>;
  conf: Record<string, unknown>;
}

describe('CNI executor', () => {
  let dir: string;
  let logFile: string;
  const calls = (): Call[] =>
    readFileSync(logFile, 'utf8')
      .trim()
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Call);
  const rt: RuntimeConf = {
    containerId: 'c0ffee',
    netnsPath: '/var/run/netns/x',
    ifname: 'net1',
    args: [
      ['IgnoreUnknown', '1'],
      ['K8S_POD_NAME', 'p'],
    ],
    capabilityArgs: { ips: ['10.0.0.9/24'], mac: '02:00:00:00:00:09' },
  };

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'cni-exec-'));
    logFile = join(dir, 'calls.log');
    writeFileSync(logFile, '');
    for (const type of ['first', 'second']) {
      writeFileSync(join(dir, type), RECORDING_PLUGIN);
      chmodSync(join(dir, type), 0o755);
    }
  });

  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('chains prevResult through ADD and DELs in reverse order with the ADD result', async () => {
    const list = toConfList(
      {
        cniVersion: '0.4.0',
        name: 'chain',
        plugins: [
          { type: 'first', logFile, address: '10.0.0.2/24', capabilities: { ips: true } },
          { type: 'second', logFile, address: '10.0.1.2/24' },
        ],
      },
      'test',
    );
    const executor = { binDirs: ['/nonexistent', dir] };
    const result = await addNetworkList(executor, list, rt);
    assert.deepEqual(resultAddresses(result, 'net1'), ['10.0.0.2/24', '10.0.1.2/24']);
    assert.equal(resultMac(result, 'net1'), '02:00:00:00:00:01');
    await delNetworkList(executor, list, rt, result);

    const log = calls();
    assert.deepEqual(
      log.map((c) => `${c.env.CNI_COMMAND} ${String(c.conf.type)}`),
      ['ADD first', 'ADD second', 'DEL second', 'DEL first'],
    );
    for (const c of log) {
      assert.equal(c.conf.name, 'chain');
      assert.equal(c.conf.cniVersion, '0.4.0');
      assert.deepEqual(c.env, {
        CNI_COMMAND: c.env.CNI_COMMAND,
        CNI_CONTAINERID: 'c0ffee',
        CNI_NETNS: '/var/run/netns/x',
        CNI_IFNAME: 'net1',
        CNI_PATH: `/nonexistent:${dir}`,
        CNI_ARGS: 'IgnoreUnknown=1;K8S_POD_NAME=p',
      });
    }
    const [addFirst, addSecond, delSecond, delFirst] = log;
    assert.equal(addFirst?.conf.prevResult, undefined);
    assert.deepEqual((addSecond?.conf.prevResult as { ips: unknown[] }).ips, [
      { address: '10.0.0.2/24', interface: 0 },
    ]);
    assert.deepEqual(delSecond?.conf.prevResult, result);
    assert.deepEqual(delFirst?.conf.prevResult, result);
    assert.deepEqual(addFirst?.conf.runtimeConfig, { ips: ['10.0.0.9/24'] }, 'only the declared capability is passed');
    assert.equal(addSecond?.conf.runtimeConfig, undefined);
  });

  it('withholds prevResult from DEL before CNI 0.4.0 and turns a single plugin config into a list', async () => {
    const list = toConfList(JSON.stringify({ cniVersion: '0.3.1', name: 'single', type: 'first', logFile }), 'test');
    assert.deepEqual(
      list.plugins.map((p) => p.type),
      ['first'],
    );
    const result = await addNetworkList({ binDirs: [dir] }, list, rt);
    await delNetworkList({ binDirs: [dir] }, list, rt, result);
    assert.equal(calls()[1]?.conf.prevResult, undefined);
  });

  it('reports plugin errors and missing plugins like libcni', async () => {
    const failing = toConfList(
      { cniVersion: '0.4.0', name: 'bad', plugins: [{ type: 'first', logFile, fail: true }] },
      'test',
    );
    await assert.rejects(addNetworkList({ binDirs: [dir] }, failing, rt), {
      message: 'plugin type="first" name="bad" failed (add): no luck; really',
    });
    const missing = toConfList({ cniVersion: '0.4.0', name: 'gone', plugins: [{ type: 'nope' }] }, 'test');
    await assert.rejects(addNetworkList({ binDirs: [dir] }, missing, rt), {
      message: `failed to find plugin "nope" in path [${dir}]`,
    });
    assert.throws(() => toConfList('{"name":"x","plugins":[{}]}', 'nad a/b'), /nad a\/b: every plugin needs a "type"/);
    assert.throws(() => toConfList('not json', 'nad a/b'), /not valid JSON/);
  });
});
