// The Informer against a scripted apiserver on loopback: errors are retried instead of ending the
// process, a 410 relists, and objects that vanished while the watch was down are reported as removed.
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import { createLogger } from '../log.ts';
import { Informer } from './informer.ts';
import type { Kind } from './kind.ts';
import type { Change } from './store.ts';

const KIND: Kind = { group: 'example.io', version: 'v1', plural: 'things', kind: 'Thing', namespaced: false };
const thing = (name: string, rv: string) => ({
  apiVersion: 'example.io/v1',
  kind: 'Thing',
  metadata: { name, resourceVersion: rv },
});

type Handler = (req: IncomingMessage, res: ServerResponse, url: URL) => void;

async function fakeApiserver(handlers: {
  list: Handler[];
  watch: Handler[];
}): Promise<{ server: Server; kubeConfig: KubeConfig; requests: string[] }> {
  const requests: string[] = [];
  let lists = 0;
  let watches = 0;
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const isWatch = url.searchParams.get('watch') === 'true';
    requests.push(`${isWatch ? 'WATCH' : 'LIST'} rv=${url.searchParams.get('resourceVersion') ?? ''}`);
    const script = isWatch ? handlers.watch : handlers.list;
    const handler = script[Math.min(isWatch ? watches++ : lists++, script.length - 1)]!;
    handler(req, res, url);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromOptions({
    clusters: [
      { name: 'fake', server: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, skipTLSVerify: true },
    ],
    users: [{ name: 'u', token: 't' }],
    contexts: [{ name: 'c', cluster: 'fake', user: 'u' }],
    currentContext: 'c',
  });
  return { server, kubeConfig, requests };
}

const json =
  (status: number, body: unknown): Handler =>
  (_req, res) => {
    res.writeHead(status, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify(body));
  };
const list = (rv: string, ...items: unknown[]) =>
  json(200, { kind: 'ThingList', apiVersion: 'example.io/v1', metadata: { resourceVersion: rv }, items });
const events =
  (...lines: unknown[]): Handler =>
  (_req, res) => {
    res.writeHead(200, { 'Content-Type': 'application/json' });
    for (const line of lines) res.write(`${JSON.stringify(line)}\n`);
    res.end();
  };
const hang: Handler = (_req, res) => {
  res.writeHead(200, { 'Content-Type': 'application/json' });
  res.flushHeaders();
};

describe('Informer', () => {
  const fastBackoff = { baseMs: 10, maxMs: 50, jitter: 0 };
  const log = createLogger('informer-test', 'error');

  it('survives failed requests, relists on 410 and reports what vanished meanwhile as removed', async () => {
    const { server, kubeConfig, requests } = await fakeApiserver({
      list: [
        json(500, { kind: 'Status', code: 500 }),
        list('10', thing('a', '1'), thing('b', '2')),
        list('20', thing('a', '1'), thing('c', '15')),
      ],
      watch: [
        events(
          { type: 'MODIFIED', object: thing('a', '11') },
          { type: 'BOOKMARK', object: { kind: 'Thing', metadata: { resourceVersion: '12' } } },
        ),
        (_req, res) => {
          res.destroy();
        },
        events({
          type: 'ERROR',
          object: { kind: 'Status', code: 410, reason: 'Expired', message: 'too old resource version' },
        }),
        hang,
      ],
    });
    const informer = new Informer({ kind: KIND, kubeConfig, log, backoff: fastBackoff });
    const changes: string[] = [];
    informer.onChange((c: Change) =>
      changes.push(`${c.key}:${c.before ? (c.after ? 'changed' : 'removed') : 'added'}`),
    );
    try {
      informer.start();
      await informer.waitForSync();
      await new Promise((r) => setTimeout(r, 1500));
      assert.deepEqual(informer.store.keys().sort(), ['a', 'c']);
      assert.equal(informer.store.get('a')?.metadata?.resourceVersion, '1', 'the relist replaced the watched version');
      assert.deepEqual(changes, ['a:added', 'b:added', 'a:changed', 'a:changed', 'c:added', 'b:removed']);
      assert.deepEqual(requests.slice(0, 6), [
        'LIST rv=',
        'LIST rv=',
        'WATCH rv=10',
        'WATCH rv=12',
        'WATCH rv=12',
        'LIST rv=',
      ]);
      assert.equal(requests[6], 'WATCH rv=20');
    } finally {
      await informer.stop();
      server.closeAllConnections();
      server.close();
    }
  });

  it('keeps only the projection of listed and watched objects', async () => {
    const big = (name: string, rv: string) => ({ ...thing(name, rv), spec: { payload: 'x'.repeat(1000) } });
    const { server, kubeConfig } = await fakeApiserver({
      list: [list('10', big('a', '1'))],
      watch: [events({ type: 'ADDED', object: big('b', '11') }), hang],
    });
    const informer = new Informer({
      kind: KIND,
      kubeConfig,
      log,
      backoff: fastBackoff,
      project: (o) => ({ metadata: { name: o.metadata?.name, resourceVersion: o.metadata?.resourceVersion } }),
    });
    try {
      informer.start();
      await informer.waitForSync();
      await new Promise((r) => setTimeout(r, 300));
      assert.deepEqual(informer.store.get('a'), { metadata: { name: 'a', resourceVersion: '1' } });
      assert.deepEqual(informer.store.get('b'), { metadata: { name: 'b', resourceVersion: '11' } });
    } finally {
      await informer.stop();
      server.closeAllConnections();
      server.close();
    }
  });

  it('keeps an optional kind whose CRD is missing empty and synced', async () => {
    const { server, kubeConfig } = await fakeApiserver({
      list: [json(404, { kind: 'Status', code: 404 })],
      watch: [hang],
    });
    const informer = new Informer({
      kind: { ...KIND, optional: true },
      kubeConfig,
      log,
      backoff: fastBackoff,
      optionalRetryMs: 50,
    });
    try {
      informer.start();
      await informer.waitForSync();
      assert.equal(informer.hasSynced(), true);
      assert.equal(informer.store.size, 0);
    } finally {
      await informer.stop();
      server.closeAllConnections();
      server.close();
    }
  });

  it("sends the kind's field selector with the LIST and with every WATCH", async () => {
    const seen: string[] = [];
    const record =
      (next: Handler): Handler =>
      (req, res, url) => {
        seen.push(
          `${url.searchParams.get('watch') === 'true' ? 'WATCH' : 'LIST'} ${url.pathname} ${url.searchParams.get('fieldSelector')}`,
        );
        next(req, res, url);
      };
    const { server, kubeConfig } = await fakeApiserver({
      list: [record(list('1', thing('a', '1')))],
      watch: [record(events({ type: 'MODIFIED', object: thing('a', '2') })), record(hang)],
    });
    const informer = new Informer({
      kind: { ...KIND, fieldSelector: 'metadata.name=a' },
      kubeConfig,
      log,
      backoff: fastBackoff,
    });
    try {
      informer.start();
      await informer.waitForSync();
      for (let waited = 0; seen.length < 3 && waited < 2000; waited += 10) await new Promise((r) => setTimeout(r, 10));
      assert.equal(informer.id, 'things.example.io/v1 where metadata.name=a');
      assert.deepEqual(
        seen,
        ['LIST', 'WATCH', 'WATCH'].map((verb) => `${verb} /apis/example.io/v1/things metadata.name=a`),
      );
      assert.equal(informer.store.get('a')?.metadata?.resourceVersion, '2');
    } finally {
      await informer.stop();
      server.closeAllConnections();
      server.close();
    }
  });

  it('answers relist() with a LIST that starts after the request', async () => {
    const { server, kubeConfig, requests } = await fakeApiserver({
      list: [list('1', thing('a', '1')), list('2', thing('a', '1'), thing('b', '2'))],
      watch: [hang],
    });
    const informer = new Informer({ kind: KIND, kubeConfig, log, backoff: fastBackoff });
    try {
      informer.start();
      await informer.waitForSync();
      await new Promise((r) => setTimeout(r, 100));
      await informer.relist();
      assert.deepEqual(informer.store.keys().sort(), ['a', 'b']);
      assert.equal(requests.filter((r) => r.startsWith('LIST')).length, 2);
    } finally {
      await informer.stop();
      server.closeAllConnections();
      server.close();
    }
  });
});
