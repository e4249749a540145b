import assert from 'node:assert/strict';
import { Counter, Registry } from 'prom-client';
import { serveHealth, type HealthServer } from './health.ts';

describe('daemon health server', () => {
  let server: HealthServer;
  let ready = false;
  const registry = new Registry();
  new Counter({ name: 'test_requests_total', help: 'test', registers: [registry] }).inc(3);

  before(async () => {
    server = await serveHealth({ registry, port: 0, host: '127.0.0.1', ready: () => ready });
  });
  after(() => server.close());

  const get = async (path: string) => {
    const res = await fetch(`http://127.0.0.1:${server.port}${path}`);
    return { status: res.status, text: await res.text(), type: res.headers.get('content-type') };
  };

  it('serves the registry on /metrics', async () => {
    const metrics = await get('/metrics');
    assert.equal(metrics.status, 200);
    assert.equal(metrics.type, registry.contentType);
    assert.match(metrics.text, /^test_requests_total 3$/m);
  });

  it("is live at once and ready when the daemon says so, also on Spiderpool's probe paths", async () => {
    ready = false;
    for (const path of ['/healthz', '/v1/runtime/startup', '/v1/runtime/liveness'])
      assert.equal((await get(path)).status, 200, path);
    for (const path of ['/readyz', '/v1/runtime/readiness', '/readyz?verbose'])
      assert.equal((await get(path)).status, 503, path);
    ready = true;
    for (const path of ['/readyz', '/v1/runtime/readiness'])
      assert.deepEqual(await get(path), { status: 200, text: 'ok', type: 'text/plain' }, path);
  });

  it('answers 404 elsewhere', async () => {
    assert.equal((await get('/v1/ipam/ip')).status, 404);
  });
});
