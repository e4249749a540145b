import assert from 'node:assert/strict';
import { AGENT_PATHS } from '../../lib/agent-api.ts';
import { cniEnv, execPlugin, expectError, expectSilentSuccess, netConf, withPluginAndAgent } from './exec-plugin.ts';
import type { FakeAgent } from '../skel/testing/fake-agent.ts';

const prevResult = {
  cniVersion: '1.0.0',
  interfaces: [{ name: 'eth0', sandbox: '/var/run/netns/cni-1234' }],
  ips: [{ address: '10.6.212.145/16', interface: 0 }],
};

describe('spiderpool plugin: DEL', () => {
  let bin: string;
  let agent: FakeAgent;
  withPluginAndAgent((b, a) => {
    bin = b;
    agent = a;
  });

  const del = (env: Record<string, string | undefined> = {}, conf: Parameters<typeof netConf>[1] = { prevResult }) =>
    execPlugin(bin, cniEnv('DEL', env), netConf(agent.socketPath, conf));

  it('checks health, then sends IpamDelArgs and prints nothing', async () => {
    agent.on(`DELETE ${AGENT_PATHS.ip}`, { status: 200 });
    expectSilentSuccess(await del());
    assert.deepEqual(
      agent.requests.map((r) => `${r.method} ${r.path}`),
      [`GET ${AGENT_PATHS.healthy}`, `DELETE ${AGENT_PATHS.ip}`],
    );
    assert.deepEqual(agent.requests[1]?.body, {
      containerID: 'c0ffee',
      ifName: 'eth0',
      netNamespace: '/var/run/netns/cni-1234',
      podNamespace: 'ns1',
      podName: 'web-0',
      podUID: 'uid-1',
    });
  });

  it('succeeds without CNI_NETNS and without prevResult', async () => {
    agent.on(`DELETE ${AGENT_PATHS.ip}`, { status: 200 });
    expectSilentSuccess(await del({ CNI_NETNS: undefined }, {}));
    assert.equal((agent.requests[1]?.body as Record<string, unknown>).netNamespace, undefined);
  });

  it('is idempotent: a second DEL that finds nothing to release (404) succeeds', async () => {
    let released = false;
    agent.on(`DELETE ${AGENT_PATHS.ip}`, () => {
      if (released) return { status: 404, body: { reason: 'PodNotFound', message: 'pod ns1/web-0 not found' } };
      released = true;
      return { status: 200 };
    });
    expectSilentSuccess(await del());
    expectSilentSuccess(await del());
    assert.equal(agent.requests.filter((r) => r.method === 'DELETE').length, 2);
  });

  it('succeeds without calling the agent when CNI_ARGS names no pod (ADD would have refused it)', async () => {
    expectSilentSuccess(await del({ CNI_ARGS: undefined }));
    assert.equal(agent.requests.length, 0);
  });

  it('fails when the agent is unhealthy, so that kubelet retries', async () => {
    agent.on(`GET ${AGENT_PATHS.healthy}`, {
      status: 503,
      body: { reason: 'Unavailable', message: 'informers not synced' },
    });
    expectError(
      await del(),
      11,
      'unhealthy spiderpool-agent backend',
      agent.socketPath,
      'Unavailable',
      'informers not synced',
    );
    assert.equal(agent.requests.length, 1);
  });

  it('fails with code 11 when the release fails on the agent side', async () => {
    agent.on(`DELETE ${AGENT_PATHS.ip}`, {
      status: 503,
      body: { reason: 'RetriesExhausted', message: 'pool v4-pool: 5 conflicting updates' },
    });
    const out = expectError(
      await del(),
      11,
      'failed to release the IPs of pod ns1/web-0 interface eth0',
      'RetriesExhausted',
      'pool v4-pool',
    );
    assert.equal(out.details, `HTTP 503 from DELETE ${AGENT_PATHS.ip}`);
  });

  it('fails with code 11 on a 4xx that is not "nothing to release"', async () => {
    agent.on(`DELETE ${AGENT_PATHS.ip}`, {
      status: 400,
      body: { reason: 'WrongInput', message: 'podName is required' },
    });
    expectError(await del(), 11, 'WrongInput', 'podName is required');
  });
});
