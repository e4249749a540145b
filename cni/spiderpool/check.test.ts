import assert from 'node:assert/strict';
import { AGENT_PATHS, type WorkloadEndpointStatus } from '../../lib/agent-api.ts';
import { cniEnv, execPlugin, expectError, expectSilentSuccess, netConf, withPluginAndAgent } from './exec-plugin.ts';
import type { FakeAgent } from '../skel/testing/fake-agent.ts';

const endpoint: WorkloadEndpointStatus = {
  podNamespace: 'ns1',
  podName: 'web-0',
  podUID: 'uid-1',
  node: 'node-1',
  interfaces: [
    { interface: 'eth0', ipv4: '10.6.212.145/16', ipv6: 'fd00:10:6::91/64', ipv4Pool: 'v4-pool', ipv6Pool: 'v6-pool' },
    { interface: 'net1', ipv4: '172.30.0.9/24', ipv4Pool: 'net1-v4' },
  ],
};

// A main plugin's prevResult: interfaces and indexed ips, with an IPv6 spelled differently than the agent.
const prevResult = {
  cniVersion: '1.0.0',
  interfaces: [{ name: 'eth0', sandbox: '/var/run/netns/cni-1234' }],
  ips: [
    { address: '10.6.212.145/16', interface: 0 },
    { address: 'fd00:10:6:0::0091/64', interface: 0 },
  ],
};

describe('spiderpool plugin: CHECK', () => {
  let bin: string;
  let agent: FakeAgent;
  withPluginAndAgent((b, a) => {
    bin = b;
    agent = a;
  });

  const check = (conf: Parameters<typeof netConf>[1] = { prevResult }, env: Record<string, string | undefined> = {}) =>
    execPlugin(bin, cniEnv('CHECK', env), netConf(agent.socketPath, conf));
  const answer = (body: unknown, status = 200) => agent.on(`GET ${AGENT_PATHS.workloadEndpoint}`, { status, body });

  it('passes silently when the agent holds the addresses of prevResult', async () => {
    answer(endpoint);
    expectSilentSuccess(await check());
    assert.deepEqual(
      agent.requests.map((r) => `${r.method} ${r.path}`),
      [`GET ${AGENT_PATHS.healthy}`, `GET ${AGENT_PATHS.workloadEndpoint}`],
    );
    assert.deepEqual(agent.requests[1]?.query, { podNamespace: 'ns1', podName: 'web-0' });
  });

  it('passes without prevResult when the agent holds an address for the interface (0.4.0)', async () => {
    answer(endpoint);
    expectSilentSuccess(await check({ cniVersion: '0.4.0' }, { CNI_IFNAME: 'net1' }));
  });

  it('code 3 when the agent holds nothing for the interface', async () => {
    answer(endpoint);
    expectError(await check({}, { CNI_IFNAME: 'net2' }), 3, 'holds no IP for pod ns1/web-0 interface net2');
  });

  it('code 3 when the agent has no endpoint for the pod', async () => {
    answer({ reason: 'PodNotFound', message: 'no SpiderEndpoint ns1/web-0' }, 404);
    expectError(await check(), 3, 'records no endpoint for pod ns1/web-0 interface eth0');
  });

  it('code 3 when the endpoint belongs to another incarnation of the pod', async () => {
    answer({ ...endpoint, podUID: 'uid-0' });
    expectError(await check(), 3, 'pod UID uid-0, not uid-1');
  });

  it('code 3 when prevResult holds an address the agent does not', async () => {
    answer(endpoint);
    const stale = { ...prevResult, ips: [{ address: '10.6.212.146/16', interface: 0 }] };
    expectError(
      await check({ prevResult: stale }),
      3,
      'prevResult address 10.6.212.146/16',
      'holds 10.6.212.145, fd00:10:6::91',
    );
  });

  it('code 11 when the agent is unhealthy', async () => {
    agent.on(`GET ${AGENT_PATHS.healthy}`, {
      status: 503,
      body: { reason: 'Unavailable', message: 'apiserver unreachable' },
    });
    expectError(await check(), 11, 'unhealthy spiderpool-agent backend', 'apiserver unreachable');
  });

  it('code 1 for 0.3.x, which has no CHECK', async () => {
    expectError(await check({ cniVersion: '0.3.1' }), 1, 'cniVersion 0.3.1 does not allow CHECK');
    assert.equal(agent.requests.length, 0);
  });

  it('code 110 when the endpoint answer is malformed', async () => {
    answer({ podName: 'web-0' });
    expectError(await check(), 110, `GET ${AGENT_PATHS.workloadEndpoint}`, '"interfaces" is not an array');
  });
});
