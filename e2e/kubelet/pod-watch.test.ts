// The pod source survives a failing apiserver: errors delay the next attempt with growing back-off,
// a closed watch leads to a fresh list (which is how vanished pods are noticed), and stop() ends it.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { KubeConfig, type V1Pod } from '@kubernetes/client-node';
import { watchNodePods } from './pod-watch.ts';

const pod = (name: string) => ({
  metadata: { name, namespace: 'default', uid: `uid-${name}` },
  spec: { nodeName: 'n1' },
});

describe('pod source', () => {
  let server: Server;
  let kubeConfig: KubeConfig;
  const requests: string[] = [];
  let lists = 0;

  before(async () => {
    server = createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://x');
      requests.push(
        `${url.searchParams.get('watch') ? 'watch' : 'list'} ${url.searchParams.get('fieldSelector')} ${url.searchParams.get('resourceVersion') ?? ''}`,
      );
      if (url.searchParams.get('watch')) {
        // One change, then the server ends the watch as an apiserver does after its timeout.
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.end(`${JSON.stringify({ type: 'ADDED', object: pod('b') })}\n`);
        return;
      }
      lists++;
      if (lists <= 2) {
        res.writeHead(500, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify({ kind: 'Status', status: 'Failure', message: 'etcd is sad', code: 500 }));
        return;
      }
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(
        JSON.stringify({
          kind: 'PodList',
          apiVersion: 'v1',
          metadata: { resourceVersion: String(lists) },
          items: lists === 3 ? [pod('a')] : [pod('b')],
        }),
      );
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    kubeConfig = new KubeConfig();
    kubeConfig.loadFromClusterAndUser(
      { name: 'fake', server: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, skipTLSVerify: true },
      { name: 'nobody' },
    );
  });

  after(() => new Promise<void>((r) => server.close(() => r())));

  it('retries with back-off, relists after the watch ends, and stops', async function () {
    this.timeout(20_000);
    const logs: string[] = [];
    const seen: string[] = [];
    const names = (pods: V1Pod[]) => pods.map((p) => p.metadata?.name).join(',');
    const source = watchNodePods(
      kubeConfig,
      'n1',
      {
        resync: (pods) => seen.push(`resync ${names(pods)}`),
        change: (type, p) => seen.push(`${type} ${p.metadata?.name}`),
      },
      (m) => logs.push(m),
    );
    const deadline = Date.now() + 15_000;
    while (seen.length < 4 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    await source.stop();

    assert.deepEqual(seen.slice(0, 4), ['resync a', 'ADDED b', 'resync b', 'ADDED b']);
    assert.match(logs[0] ?? '', /^n1: pod watch failed, retrying in 500 ms: /);
    assert.match(logs[1] ?? '', /retrying in 1000 ms/);
    assert.deepEqual(requests.slice(0, 4), [
      'list spec.nodeName=n1 ',
      'list spec.nodeName=n1 ',
      'list spec.nodeName=n1 ',
      'watch spec.nodeName=n1 3',
    ]);
    const settled = requests.length;
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(requests.length, settled, 'no request after stop()');
  });
});
