import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, readConfig, setting } from './config.ts';

const settings = {
  nodeName: setting.string({ env: 'NODE_NAME' }),
  socket: setting.string({ env: 'AGENT_SOCKET', key: 'ipamUnixSocketPath', default: '/run/agent.sock' }),
  enableIPv4: setting.boolean({ env: 'ENABLE_IPV4', key: 'enableIPv4', default: true }),
  maxIPs: setting.integer({ env: 'MAX_IPS', key: 'maxIPs', default: 5000, min: 1 }),
  metricsPort: setting.port({ env: 'METRICS_PORT', default: 5711 }),
  leaseMs: setting.seconds({ env: 'LEASE', default: 15 }),
  mode: setting.oneOf(['self-managed', 'cert-manager'], { env: 'MODE', default: 'self-managed' }),
  network: setting.optional(setting.string({ env: 'NETWORK' })),
  group: { dryRun: setting.boolean({ env: 'DRY_RUN', default: false }) },
};

const problems = (env: NodeJS.ProcessEnv): string[] => {
  try {
    readConfig(settings, env);
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    return err.problems;
  }
  assert.fail('the configuration was accepted');
};

describe('daemon configuration', () => {
  it('reads declared defaults, with seconds as milliseconds and nested groups as objects', () => {
    assert.deepEqual(readConfig(settings, { NODE_NAME: 'worker1' }), {
      nodeName: 'worker1',
      socket: '/run/agent.sock',
      enableIPv4: true,
      maxIPs: 5000,
      metricsPort: 5711,
      leaseMs: 15_000,
      mode: 'self-managed',
      network: undefined,
      group: { dryRun: false },
    });
  });

  it('reads the environment, an empty variable counting as unset', () => {
    const config = readConfig(settings, {
      NODE_NAME: 'worker1',
      AGENT_SOCKET: '',
      ENABLE_IPV4: 'False',
      MAX_IPS: '10',
      METRICS_PORT: '0',
      LEASE: '1.5s',
      MODE: 'cert-manager',
      NETWORK: 'kube-system/calico',
      DRY_RUN: 'true',
    });
    assert.equal(config.socket, '/run/agent.sock');
    assert.equal(config.enableIPv4, false);
    assert.equal(config.maxIPs, 10);
    assert.equal(config.metricsPort, 0);
    assert.equal(config.leaseMs, 1500);
    assert.equal(config.mode, 'cert-manager');
    assert.equal(config.network, 'kube-system/calico');
    assert.equal(config.group.dryRun, true);
  });

  it('refuses every malformed value at once, naming the variable and the value', () => {
    assert.deepEqual(
      problems({
        ENABLE_IPV4: 'yes',
        MAX_IPS: '1.5',
        METRICS_PORT: '65536',
        LEASE: '-1',
        MODE: 'manual',
        DRY_RUN: '1',
      }),
      [
        'NODE_NAME is required',
        'ENABLE_IPV4: "yes" is not true or false',
        'MAX_IPS: "1.5" is not an integer >= 1',
        'METRICS_PORT: "65536" is not a port number (0-65535)',
        'LEASE: "-1" is not a number of seconds >= 0',
        'MODE: "manual" is not one of self-managed, cert-manager',
        'DRY_RUN: "1" is not true or false',
      ],
    );
    assert.deepEqual(problems({ NODE_NAME: 'n', MAX_IPS: '0', METRICS_PORT: 'http', LEASE: '1m' }), [
      'MAX_IPS: "0" is not an integer >= 1',
      'METRICS_PORT: "http" is not a port number (0-65535)',
      'LEASE: "1m" is not a number of seconds >= 0',
    ]);
  });

  it('reads a listen address as an IPv4 or IPv6 literal and refuses anything else, naming the variable', () => {
    const listen = { host: setting.listenAddress({ env: 'METRICS_HOST', default: '127.0.0.1' }) };
    assert.equal(readConfig(listen, {}).host, '127.0.0.1');
    assert.equal(readConfig(listen, { METRICS_HOST: '0.0.0.0' }).host, '0.0.0.0');
    assert.equal(readConfig(listen, { METRICS_HOST: 'fd00::5' }).host, 'fd00::5');
    for (const bad of ['localhost', '10.0.0.256', '10.0.0.1:5711', '[::1]'])
      assert.throws(
        () => readConfig(listen, { METRICS_HOST: bad }),
        (err: ConfigError) =>
          err.problems.join() === `METRICS_HOST: ${JSON.stringify(bad)} is not an IPv4 or IPv6 address`,
      );
  });

  describe('with a conf.yml at SPIDERPOOL_CONFIG_PATH', () => {
    let dir: string;
    let path: string;
    beforeEach(() => {
      dir = mkdtempSync(join(tmpdir(), 'daemon-config-'));
      path = join(dir, 'conf.yml');
    });
    afterEach(() => rmSync(dir, { recursive: true, force: true }));

    it('reads the declared keys, ignores the others, and lets the environment override them', () => {
      writeFileSync(
        path,
        'ipamUnixSocketPath: /var/run/spidernet/spiderpool.sock\nenableIPv4: false\nmaxIPs: 200\nenableKubevirtStaticIP: true\n',
      );
      const config = readConfig(settings, { SPIDERPOOL_CONFIG_PATH: path, NODE_NAME: 'n', MAX_IPS: '300' });
      assert.equal(config.socket, '/var/run/spidernet/spiderpool.sock');
      assert.equal(config.enableIPv4, false);
      assert.equal(config.maxIPs, 300);
    });

    it('checks file values like variables and names the file and the key', () => {
      writeFileSync(path, 'enableIPv4: "on"\nmaxIPs: [1]\n');
      assert.deepEqual(problems({ SPIDERPOOL_CONFIG_PATH: path, NODE_NAME: 'n' }), [
        `${path}: enableIPv4: "on" is not true or false`,
        `${path}: maxIPs: [1] is not an integer >= 1`,
      ]);
    });

    it("refuses a key that is neither Spiderpool's nor declared, naming the nearest known one", () => {
      writeFileSync(path, 'enableStatefulset: false\nenableIPv4: false\nfoo: 1\n');
      assert.deepEqual(problems({ SPIDERPOOL_CONFIG_PATH: path, NODE_NAME: 'n' }), [
        `${path}: unknown key "enableStatefulset" (did you mean enableStatefulSet?)`,
        `${path}: unknown key "foo"`,
      ]);
    });

    it('accepts every key of the deploy/ ConfigMap', () => {
      const manifest = readFileSync(join(import.meta.dirname, '../../deploy/product/conf.yml'), 'utf8');
      writeFileSync(path, manifest);
      assert.equal(readConfig(settings, { SPIDERPOOL_CONFIG_PATH: path, NODE_NAME: 'n' }).enableIPv4, true);
    });

    it('refuses a missing file or one that is not a mapping', () => {
      assert.throws(
        () => readConfig(settings, { SPIDERPOOL_CONFIG_PATH: join(dir, 'none.yml'), NODE_NAME: 'n' }),
        /SPIDERPOOL_CONFIG_PATH: ".*none.yml" cannot be read \(ENOENT\)/,
      );
      writeFileSync(path, '- enableIPv4\n');
      assert.throws(() => readConfig(settings, { SPIDERPOOL_CONFIG_PATH: path, NODE_NAME: 'n' }), /not a YAML mapping/);
    });
  });
});
