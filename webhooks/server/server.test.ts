// The AdmissionReview contract of the server, over real HTTPS on loopback.
import assert from 'node:assert/strict';
import { request } from 'node:https';
import { createLogger } from '../../lib/log.ts';
import { generateCA, issueServingCertificate, type KeyPair } from '../certs/generate.ts';
import { WebhookMetrics } from '../metrics.ts';
import type { ClusterView, WebhookRoute } from '../types.ts';
import { WebhookServer } from './server.ts';

const noCluster = new Proxy(
  {},
  { get: () => () => Promise.reject(new Error('no cluster in this test')) },
) as ClusterView;

const rule = {
  apiGroups: [''],
  apiVersions: ['v1'],
  resources: ['pods'],
  operations: ['CREATE' as const],
  scope: 'Namespaced' as const,
};
const routes: WebhookRoute[] = [
  {
    path: '/mutate',
    type: 'mutating',
    rule,
    failurePolicy: 'Fail',
    excludeNamespaces: ['kube-system'],
    handler: async (req) =>
      req.object?.metadata?.name === 'bad'
        ? { allowed: false, message: 'Pod ns/bad: metadata.name is bad' }
        : {
            allowed: true,
            patch:
              req.object?.metadata?.name === 'plain'
                ? []
                : [{ op: 'add', path: '/metadata/labels', value: { a: 'b' } }],
            warnings: ['careful'],
          },
  },
  {
    path: '/validate',
    type: 'validating',
    rule,
    failurePolicy: 'Fail',
    handler: async () => ({ allowed: true, patch: [{ op: 'add', path: '/x', value: 1 }] }),
  },
  {
    path: '/conflict',
    type: 'validating',
    rule,
    failurePolicy: 'Fail',
    handler: async () => ({ allowed: false, code: 409, message: 'exists' }),
  },
  {
    path: '/throws',
    type: 'validating',
    rule,
    failurePolicy: 'Fail',
    handler: async () => {
      throw new Error('kaput');
    },
  },
];

const review = (name: string, extra: Record<string, unknown> = {}) =>
  JSON.stringify({
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: `uid-${name}`,
      kind: { group: '', version: 'v1', kind: 'Pod' },
      resource: { group: '', version: 'v1', resource: 'pods' },
      namespace: 'ns',
      operation: 'CREATE',
      object: { apiVersion: 'v1', kind: 'Pod', metadata: { name } },
      ...extra,
    },
  });

describe('webhook server: AdmissionReview contract', function () {
  this.timeout(30_000);
  let ca: KeyPair;
  let server: WebhookServer;
  let metrics: WebhookMetrics;

  const call = (method: string, path: string, body?: string) =>
    new Promise<{ status: number; text: string; json: () => { response: Record<string, unknown> } }>(
      (resolve, reject) => {
        const req = request(
          {
            host: '127.0.0.1',
            port: server.port,
            path,
            method,
            ca: ca.cert,
            agent: false,
            headers: { 'Content-Type': 'application/json' },
          },
          (res) => {
            let text = '';
            res.on('data', (d: Buffer) => {
              text += d.toString();
            });
            res.on('end', () => resolve({ status: res.statusCode ?? 0, text, json: () => JSON.parse(text) }));
          },
        );
        req.on('error', reject);
        req.end(body);
      },
    );

  before(async () => {
    ca = await generateCA('test-ca', 1);
    metrics = new WebhookMetrics();
    server = new WebhookServer({
      routes,
      cluster: noCluster,
      metrics,
      log: createLogger('test', 'error'),
      certificate: await issueServingCertificate(ca, ['127.0.0.1'], 1),
      host: '127.0.0.1',
      port: 0,
    });
    await server.listen();
  });
  after(async () => {
    await server?.close();
  });

  it('echoes the uid and returns the patch base64-encoded with patchType JSONPatch, plus warnings', async () => {
    const res = await call('POST', '/mutate', review('good'));
    assert.equal(res.status, 200);
    const { response } = res.json();
    assert.equal(response.uid, 'uid-good');
    assert.equal(response.allowed, true);
    assert.equal(response.patchType, 'JSONPatch');
    assert.deepEqual(JSON.parse(Buffer.from(response.patch as string, 'base64').toString()), [
      { op: 'add', path: '/metadata/labels', value: { a: 'b' } },
    ]);
    assert.deepEqual(response.warnings, ['careful']);
  });

  it('leaves out patch and patchType when the patch is empty, on validating routes, and on DELETE', async () => {
    for (const [path, body] of [
      ['/mutate', review('plain')],
      ['/validate', review('any')],
      ['/mutate', review('gone', { operation: 'DELETE' })],
    ] as const) {
      const { response } = (await call('POST', path, body)).json();
      assert.equal(response.allowed, true);
      assert.equal(response.patch, undefined, path);
      assert.equal(response.patchType, undefined, path);
    }
  });

  it('denies with HTTP 200, status 403 and the message; a handler-chosen code is kept', async () => {
    const denied = await call('POST', '/mutate', review('bad'));
    assert.equal(denied.status, 200);
    assert.deepEqual(denied.json().response, {
      uid: 'uid-bad',
      allowed: false,
      status: { code: 403, message: 'Pod ns/bad: metadata.name is bad' },
    });
    assert.deepEqual((await call('POST', '/conflict', review('x'))).json().response.status, {
      code: 409,
      message: 'exists',
    });
  });

  it('turns a throwing handler into a denial naming the path, still HTTP 200', async () => {
    const res = await call('POST', '/throws', review('x'));
    assert.equal(res.status, 200);
    const { response } = res.json();
    assert.equal(response.allowed, false);
    assert.match((response.status as { message: string }).message, /^internal error in \/throws: kaput$/);
  });

  it('a route with cachedReads reads the cache, and a refusal is decided again from consistent reads', async () => {
    const reads = { cached: 0, consistent: 0 };
    let cachedNames: string[] = [];
    const view = (who: keyof typeof reads, names: () => string[]) =>
      ({
        listIPPools: async () => {
          reads[who]++;
          return names().map((name) => ({ metadata: { name } }));
        },
      }) as unknown as ClusterView;
    const cachedServer = new WebhookServer({
      routes: [
        {
          path: '/cached',
          type: 'mutating',
          rule,
          failurePolicy: 'Ignore',
          cachedReads: true,
          handler: async (_req, cluster) =>
            (await cluster.listIPPools()).length > 0
              ? { allowed: true }
              : { allowed: false, message: 'Pod ns/p: SpiderIPPool "new" does not exist' },
        },
      ],
      cluster: view('consistent', () => ['new']),
      cachedCluster: view('cached', () => cachedNames),
      metrics: new WebhookMetrics(),
      log: createLogger('test', 'error'),
      certificate: await issueServingCertificate(ca, ['127.0.0.1'], 1),
      host: '127.0.0.1',
      port: 0,
    });
    const saved = server;
    await cachedServer.listen();
    server = cachedServer;
    try {
      assert.equal((await call('POST', '/cached', review('p'))).json().response.allowed, true);
      assert.deepEqual(reads, { cached: 1, consistent: 1 }, 'the pool missing from the cache was read again');
      cachedNames = ['new'];
      assert.equal((await call('POST', '/cached', review('p'))).json().response.allowed, true);
      assert.deepEqual(reads, { cached: 2, consistent: 1 }, 'an admission from the cache needs no other read');
    } finally {
      server = saved;
      await cachedServer.close();
    }
  });

  it('allows requests from excluded namespaces without asking the handler', async () => {
    const { response } = (await call('POST', '/mutate', review('bad', { namespace: 'kube-system' }))).json();
    assert.deepEqual(response, { uid: 'uid-bad', allowed: true });
  });

  it('answers a malformed review with HTTP 400 and a message, unknown paths with 404, GET on a route with 405', async () => {
    const notJson = await call('POST', '/mutate', '{oops');
    assert.equal(notJson.status, 400);
    assert.match(notJson.text, /malformed AdmissionReview for \/mutate: the body is not JSON/);
    const noRequest = await call(
      'POST',
      '/mutate',
      JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview' }),
    );
    assert.equal(noRequest.status, 400);
    assert.match(noRequest.text, /has no request/);
    const v1beta1 = await call(
      'POST',
      '/mutate',
      JSON.stringify({ apiVersion: 'admission.k8s.io/v1beta1', kind: 'AdmissionReview', request: { uid: 'u' } }),
    );
    assert.equal(v1beta1.status, 400);
    assert.match(v1beta1.text, /expected kind AdmissionReview of admission.k8s.io\/v1/);
    const noUid = await call('POST', '/mutate', review('x', { uid: '' }));
    assert.equal(noUid.status, 400);
    assert.match(noUid.text, /request.uid is missing/);
    assert.equal((await call('POST', '/nowhere', review('x'))).status, 404);
    assert.equal((await call('GET', '/mutate')).status, 405);
  });

  it('serves /healthz and /metrics with requests, denials and latency by webhook path', async () => {
    assert.equal((await call('GET', '/healthz')).text, 'ok');
    const text = (await call('GET', '/metrics')).text;
    assert.match(text, /spiderpool_webhook_requests_total\{webhook="\/mutate",operation="CREATE"\} [1-9]/);
    assert.match(text, /spiderpool_webhook_denials_total\{webhook="\/mutate",operation="CREATE"\} 1\n/);
    assert.match(text, /spiderpool_webhook_handler_errors_total\{webhook="\/throws"\} 1\n/);
    assert.match(text, /spiderpool_webhook_request_duration_seconds_count\{webhook="\/validate"\} 1\n/);
  });

  it('presents a new certificate to new connections after setCertificate, without a restart', async () => {
    const other = await generateCA('other-ca', 1);
    server.setCertificate(await issueServingCertificate(other, ['127.0.0.1'], 1));
    await assert.rejects(call('GET', '/healthz'), /self[- ]signed|unable to verify|certificate/i);
    const saved = ca;
    ca = other;
    try {
      assert.equal((await call('GET', '/healthz')).status, 200);
    } finally {
      ca = saved;
    }
  });
});
