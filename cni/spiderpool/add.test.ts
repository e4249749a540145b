import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { AGENT_PATHS, DEFAULT_AGENT_SOCKET, type IpamAddResponse } from '../../lib/agent-api.ts';
import { cniEnv, execPlugin, expectError, expectSuccess, netConf, withPluginAndAgent } from './exec-plugin.ts';
import type { FakeAgent } from '../skel/testing/fake-agent.ts';

// The agent answers for every NIC of the pod, default routes included; the plugin prints only the
// current NIC's.
const multiNic: IpamAddResponse = {
  ips: [
    { nic: 'eth0', version: 4, address: '10.6.212.145/16', ipPool: 'v4-pool', gateway: '10.6.0.1' },
    { nic: 'net1', version: 4, address: '172.30.0.9/24', ipPool: 'net1-v4', gateway: '172.30.0.1', vlan: 30 },
  ],
  routes: [
    { ifName: 'eth0', dst: '0.0.0.0/0', gw: '10.6.0.1' },
    { ifName: 'net1', dst: '0.0.0.0/0', gw: '172.30.0.1' },
    { ifName: 'eth0', dst: '10.7.0.0/16', gw: '10.6.0.254' },
    { ifName: 'net1', dst: '172.31.0.0/16', gw: '172.30.0.254' },
  ],
  dns: { nameservers: ['10.6.0.53'], search: ['svc.cluster.local'] },
};

const dualStack: IpamAddResponse = {
  ips: [
    { nic: 'eth0', version: 4, address: '10.6.212.145/16', ipPool: 'v4-pool', gateway: '10.6.0.1' },
    { nic: 'eth0', version: 6, address: 'fd00:10:6::91/64', ipPool: 'v6-pool', gateway: 'fd00:10:6::1' },
  ],
  routes: [
    { ifName: 'eth0', dst: '0.0.0.0/0', gw: '10.6.0.1' },
    { ifName: 'eth0', dst: '::/0', gw: 'fd00:10:6::1' },
  ],
  dns: {},
};

describe('spiderpool plugin: ADD', () => {
  let bin: string;
  let agent: FakeAgent;
  withPluginAndAgent((b, a) => {
    bin = b;
    agent = a;
  });

  const add = (conf: Parameters<typeof netConf>[1] = {}, env: Record<string, string | undefined> = {}) =>
    execPlugin(bin, cniEnv('ADD', env), netConf(agent.socketPath, conf));

  it('checks health, then posts IpamAddArgs built from the environment and the ipam config', async () => {
    agent.on(`POST ${AGENT_PATHS.ip}`, { status: 200, body: multiNic });
    expectSuccess(
      await add({
        ipam: { default_ipv4_ippool: ['v4-pool', 'v4-*'], default_ipv6_ippool: ['v6-pool'], match_master_subnet: true },
      }),
    );
    assert.deepEqual(
      agent.requests.map((r) => `${r.method} ${r.path}`),
      [`GET ${AGENT_PATHS.healthy}`, `POST ${AGENT_PATHS.ip}`],
    );
    assert.deepEqual(agent.requests[1]?.body, {
      containerID: 'c0ffee',
      ifName: 'eth0',
      netNamespace: '/var/run/netns/cni-1234',
      podNamespace: 'ns1',
      podName: 'web-0',
      podUID: 'uid-1',
      defaultIPv4IPPool: ['v4-pool', 'v4-*'],
      defaultIPv6IPPool: ['v6-pool'],
      cleanGateway: false,
      matchMasterSubnet: true,
    });
  });

  it('1.0.0: only the current NIC, no ips[].version, the agent routes of that NIC, dns', async () => {
    agent.on(`POST ${AGENT_PATHS.ip}`, { status: 200, body: multiNic });
    assert.deepEqual(expectSuccess(await add()), {
      cniVersion: '1.0.0',
      ips: [{ address: '10.6.212.145/16', gateway: '10.6.0.1' }],
      routes: [
        { dst: '0.0.0.0/0', gw: '10.6.0.1' },
        { dst: '10.7.0.0/16', gw: '10.6.0.254' },
      ],
      dns: { nameservers: ['10.6.0.53'], search: ['svc.cluster.local'] },
    });
  });

  for (const cniVersion of ['0.3.0', '0.3.1', '0.4.0']) {
    it(`${cniVersion}: ips carry version "4"; no interfaces and no ips[].interface`, async () => {
      agent.on(`POST ${AGENT_PATHS.ip}`, { status: 200, body: multiNic });
      assert.deepEqual(expectSuccess(await add({ cniVersion })), {
        cniVersion,
        ips: [{ version: '4', address: '10.6.212.145/16', gateway: '10.6.0.1' }],
        routes: [
          { dst: '0.0.0.0/0', gw: '10.6.0.1' },
          { dst: '10.7.0.0/16', gw: '10.6.0.254' },
        ],
        dns: { nameservers: ['10.6.0.53'], search: ['svc.cluster.local'] },
      });
    });
  }

  it('prints the second NIC when CNI_IFNAME names it', async () => {
    agent.on(`POST ${AGENT_PATHS.ip}`, { status: 200, body: multiNic });
    const out = expectSuccess(await add({}, { CNI_IFNAME: 'net1' }));
    assert.deepEqual(out.ips, [{ address: '172.30.0.9/24', gateway: '172.30.0.1' }]);
    assert.deepEqual(out.routes, [
      { dst: '0.0.0.0/0', gw: '172.30.0.1' },
      { dst: '172.31.0.0/16', gw: '172.30.0.254' },
    ]);
  });

  it('clean_gateway: the agent is told so, and a default route it sends anyway is dropped', async () => {
    agent.on(`POST ${AGENT_PATHS.ip}`, { status: 200, body: multiNic });
    const out = expectSuccess(await add({ ipam: { clean_gateway: true } }));
    assert.deepEqual(out.routes, [{ dst: '10.7.0.0/16', gw: '10.6.0.254' }]);
    assert.deepEqual(out.ips, [{ address: '10.6.212.145/16', gateway: '10.6.0.1' }]);
    assert.equal((agent.requests[1]?.body as { cleanGateway: boolean }).cleanGateway, true);
  });

  it('dual stack 0.4.0: both families with a default route each', async () => {
    agent.on(`POST ${AGENT_PATHS.ip}`, { status: 200, body: dualStack });
    assert.deepEqual(expectSuccess(await add({ cniVersion: '0.4.0' })), {
      cniVersion: '0.4.0',
      ips: [
        { version: '4', address: '10.6.212.145/16', gateway: '10.6.0.1' },
        { version: '6', address: 'fd00:10:6::91/64', gateway: 'fd00:10:6::1' },
      ],
      routes: [
        { dst: '0.0.0.0/0', gw: '10.6.0.1' },
        { dst: '::/0', gw: 'fd00:10:6::1' },
      ],
      dns: {},
    });
  });

  it('dual stack 1.0.0 with clean_gateway: addresses only', async () => {
    agent.on(`POST ${AGENT_PATHS.ip}`, { status: 200, body: dualStack });
    const out = expectSuccess(await add({ ipam: { clean_gateway: true } }));
    assert.deepEqual(out.ips, [
      { address: '10.6.212.145/16', gateway: '10.6.0.1' },
      { address: 'fd00:10:6::91/64', gateway: 'fd00:10:6::1' },
    ]);
    assert.deepEqual(out.routes, []);
  });

  it('never invents a default route: the agent decides, since only it knows the per-NIC cleangateway annotation', async () => {
    agent.on(`POST ${AGENT_PATHS.ip}`, {
      status: 200,
      body: {
        ips: [
          { nic: 'eth0', version: 4, address: '10.6.212.145/16', ipPool: 'p4', gateway: '10.6.0.1' },
          { nic: 'eth0', version: 6, address: 'fd00::5/64', ipPool: 'p6' },
        ],
        routes: [],
        dns: {},
      } satisfies IpamAddResponse,
    });
    const out = expectSuccess(await add());
    assert.deepEqual(out.ips, [{ address: '10.6.212.145/16', gateway: '10.6.0.1' }, { address: 'fd00::5/64' }]);
    assert.deepEqual(out.routes, []);
  });

  it('uses the default agent socket when ipam_unix_socket_path is empty', async function () {
    if (existsSync(DEFAULT_AGENT_SOCKET)) this.skip();
    const run = await execPlugin(
      bin,
      cniEnv('ADD'),
      JSON.stringify({ cniVersion: '1.0.0', name: 'n', ipam: { type: 'spiderpool', ipam_unix_socket_path: '' } }),
    );
    expectError(run, 101, DEFAULT_AGENT_SOCKET);
  });

  it('fails when the agent allocated nothing for the current interface', async () => {
    agent.on(`POST ${AGENT_PATHS.ip}`, { status: 200, body: multiNic });
    expectError(await add({}, { CNI_IFNAME: 'net2' }), 110, 'no Interface net2 IP allocation found', 'eth0, net1');
  });

  it('fails with code 4 when CNI_ARGS names no pod', async () => {
    expectError(await add({}, { CNI_ARGS: 'IgnoreUnknown=1' }), 4, 'K8S_POD_NAMESPACE', 'K8S_POD_NAME');
    assert.equal(agent.requests.length, 0);
  });
});
