// The fault proxy against the shared apiserver: it forwards faithfully (TLS with its own CA, the client's
// credentials, watches), and each fault does exactly what it says, counted.
import assert from 'node:assert/strict';
import { CoreV1Api, Watch, type KubeConfig } from '@kubernetes/client-node';
import { loadKubeConfig, orUndefined, statusCode } from '../../lib/kube.ts';
import { testCluster, type TestCluster } from '../harness/cluster.ts';
import { classify, startFaultProxy, type FaultProxy } from './proxy.ts';

const NS = 'fault-proxy';

describe('fault proxy', function () {
  this.timeout(60_000);
  let c: TestCluster;
  let proxy: FaultProxy;
  let viaProxy: KubeConfig;
  let core: CoreV1Api;
  let direct: CoreV1Api;

  before(async function () {
    this.timeout(300_000);
    c = await testCluster();
    proxy = await startFaultProxy({ kubeconfig: c.cp.kubeconfig });
    viaProxy = loadKubeConfig(proxy.kubeconfig);
    core = viaProxy.makeApiClient(CoreV1Api);
    direct = c.kubeConfig.makeApiClient(CoreV1Api);
    await direct.createNamespace({ body: { metadata: { name: NS } } });
  });

  afterEach(() => {
    proxy.clearRules();
    proxy.blackhole(false);
  });

  after(async () => {
    await proxy?.close();
    await c?.kubectl(['delete', 'namespace', NS, '--wait=false']);
  });

  const configMap = (name: string) => core.createNamespacedConfigMap({ namespace: NS, body: { metadata: { name } } });
  const exists = async (name: string) =>
    (await orUndefined(direct.readNamespacedConfigMap({ namespace: NS, name }))) !== undefined;
  const failure = async (p: Promise<unknown>) =>
    p.then(
      () => assert.fail('the request succeeded'),
      (err: unknown) => err,
    );

  it('classifies requests by verb and resource', () => {
    assert.deepEqual(classify('GET', '/apis/spiderpool.spidernet.io/v2beta1/spiderippools?limit=500'), {
      verb: 'LIST',
      resource: 'spiderippools',
    });
    assert.deepEqual(classify('PUT', '/apis/spiderpool.spidernet.io/v2beta1/spiderippools/p1/status'), {
      verb: 'PUT',
      resource: 'spiderippools/status',
    });
    assert.deepEqual(classify('GET', '/apis/spiderpool.spidernet.io/v2beta1/namespaces/ns/spiderendpoints/pod-1'), {
      verb: 'GET',
      resource: 'spiderendpoints',
    });
    assert.deepEqual(classify('GET', '/api/v1/pods?watch=true&resourceVersion=5'), { verb: 'WATCH', resource: 'pods' });
    assert.deepEqual(classify('GET', '/api/v1/watch/namespaces/ns/pods'), { verb: 'WATCH', resource: 'pods' });
    assert.deepEqual(classify('DELETE', '/api/v1/namespaces/ns'), { verb: 'DELETE', resource: 'namespaces' });
    assert.deepEqual(classify('GET', '/readyz'), { verb: 'GET', resource: '/readyz' });
  });

  it('forwards with the client credentials and its own CA, watches included', async () => {
    await configMap('plain');
    assert.ok(await exists('plain'));
    const seen: string[] = [];
    const watch = await new Watch(viaProxy).watch(
      `/api/v1/namespaces/${NS}/configmaps`,
      {},
      (type: string, obj: { metadata?: { name?: string } }) => seen.push(`${type} ${obj.metadata?.name}`),
      () => undefined,
    );
    await direct.createNamespacedConfigMap({ namespace: NS, body: { metadata: { name: 'watched' } } });
    for (let i = 0; i < 40 && !seen.includes('ADDED watched'); i++) await new Promise((r) => setTimeout(r, 100));
    watch.abort();
    assert.ok(seen.includes('ADDED watched'), `watch events: ${seen.join(', ')}`);
    assert.ok(proxy.stats().forwarded >= 2);
  });

  it('answers a matching request with an error status and a Status body, count times', async () => {
    proxy.addRule({
      name: 'cm-503',
      verbs: ['POST'],
      resources: ['configmaps'],
      count: 1,
      fault: { kind: 'status', code: 503 },
    });
    const err = await failure(configMap('status-1'));
    assert.equal(statusCode(err), 503);
    assert.match(String((err as { body?: unknown }).body), /"kind":"Status".*"reason":"ServiceUnavailable"/);
    assert.equal(await exists('status-1'), false, 'the apiserver never saw it');
    await configMap('status-1');
    assert.equal(proxy.stats().injected['cm-503'], 1);
  });

  it('matches by verb and resource only', async () => {
    proxy.addRule({ verbs: ['PUT'], resources: ['configmaps'], fault: { kind: 'status', code: 500 } });
    proxy.addRule({ verbs: ['POST'], resources: ['secrets'], fault: { kind: 'status', code: 429 } });
    const before = proxy.stats().injected.status ?? 0;
    await configMap('unmatched');
    const secret = core.createNamespacedSecret({ namespace: NS, body: { metadata: { name: 's' } } });
    assert.equal(statusCode(await failure(secret)), 429);
    assert.equal(proxy.stats().injected.status, before + 1);
  });

  it('reset before forwarding commits nothing; drop-response commits and then resets', async () => {
    proxy.addRule({ name: 'reset', verbs: ['POST'], resources: ['configmaps'], count: 1, fault: { kind: 'reset' } });
    await failure(configMap('reset-1'));
    assert.equal(await exists('reset-1'), false);
    proxy.addRule({
      name: 'drop',
      verbs: ['POST'],
      resources: ['configmaps'],
      count: 1,
      fault: { kind: 'drop-response' },
    });
    await failure(configMap('drop-1'));
    assert.equal(await exists('drop-1'), true, 'the create was committed although the client saw a failure');
  });

  it('delays an answer; stalls a request until the client gives up', async () => {
    proxy.addRule({ verbs: ['GET'], resources: ['namespaces'], count: 1, fault: { kind: 'delay-response', ms: 1500 } });
    const started = Date.now();
    await core.readNamespace({ name: NS });
    assert.ok(Date.now() - started >= 1500);
    proxy.addRule({ verbs: ['GET'], resources: ['namespaces'], count: 1, fault: { kind: 'stall' } });
    const stalled = core.readNamespace({ name: NS });
    const outcome = await Promise.race([
      stalled.then(() => 'answered'),
      new Promise((r) => setTimeout(r, 2000, 'stalled')),
    ]);
    assert.equal(outcome, 'stalled');
    proxy.clearRules();
    await core.readNamespace({ name: NS });
  });

  it('blackhole: refused at once, or silent, and traffic flows again once lifted', async () => {
    proxy.blackhole('refuse');
    const started = Date.now();
    await failure(core.readNamespace({ name: NS }));
    assert.ok(Date.now() - started < 1000, 'refused, not timed out');
    proxy.blackhole('stall');
    const outcome = await Promise.race([
      core.readNamespace({ name: NS }).then(
        () => 'answered',
        () => 'failed',
      ),
      new Promise((r) => setTimeout(r, 2000, 'stalled')),
    ]);
    assert.equal(outcome, 'stalled');
    proxy.blackhole(false);
    await core.readNamespace({ name: NS });
    assert.ok(proxy.stats().blackholed >= 2);
  });
});
