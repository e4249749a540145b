// The agent's API on its unix socket, with hostile input: every refusal is a 4xx `{ reason, message }` that
// changes nothing, and an oversized body is not read past the limit.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { createLogger } from '../lib/log.ts';
import { AgentMetrics } from './metrics.ts';
import { serveAgent, type AgentServer } from './server.ts';
import { addArgs, setup, type FakeCluster } from './testing/fake-cluster.ts';

interface Answer {
  status: number;
  body: string;
}

function call(socketPath: string, method: string, path: string, body: string | Buffer): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const headers = { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) };
    const req = request({ socketPath, method, path, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('agent API with hostile input', function () {
  this.timeout(60_000);
  let dir: string;
  let server: AgentServer;
  let cluster: FakeCluster;
  let snapshot: () => string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'agent-api-'));
    const agent = setup();
    cluster = agent.cluster;
    await agent.ipam.allocate(addArgs(cluster.addPod('a')));
    snapshot = () => JSON.stringify([cluster.pools(), [...cluster.endpoints]]);
    server = await serveAgent({
      socketPath: join(dir, 'agent.sock'),
      ipam: agent.ipam,
      metrics: new AgentMetrics(),
      log: createLogger('agent-test', 'error'),
    });
  });

  after(async () => {
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('oversized-body-413-stops-reading: a body over 1 MiB gets 413 and the connection closes, unread', async () => {
    const sent = await new Promise<{ head: string; written: number }>((resolve, reject) => {
      const socket = connect(server.socketPath);
      let head = '';
      let written = 0;
      const chunk = Buffer.alloc(64 * 1024, 'a');
      const pump = () => {
        // Chunked, so only reading tells the agent how big the body is; 64 MiB if it never stops reading.
        while (written < 64 * 1024 * 1024 && !socket.destroyed) {
          written += chunk.length;
          if (!socket.write(`${chunk.length.toString(16)}\r\n${chunk}\r\n`)) return void socket.once('drain', pump);
        }
      };
      socket.on('data', (d) => (head += d.toString()));
      socket.on('close', () => resolve({ head, written }));
      socket.on('error', () => {}); // the agent closing mid-write resets the connection
      socket.on('connect', () => {
        socket.write('POST /v1/ipam/ip HTTP/1.1\r\nHost: agent\r\nTransfer-Encoding: chunked\r\n\r\n');
        pump();
      });
      setTimeout(() => reject(new Error('the connection stayed open')), 20_000).unref();
    });
    assert.match(sent.head, /^HTTP\/1\.1 413 /);
    assert.match(sent.head, /"reason":"WrongInput","message":"request body larger than 1048576 bytes"/);
    assert.ok(sent.written < 16 * 1024 * 1024, `the agent stopped reading; ${sent.written} bytes were sent`);

    const declared = await call(server.socketPath, 'POST', '/v1/ipam/ip', Buffer.alloc(1024 * 1024 + 1, ' '));
    assert.equal(declared.status, 413);
  });

  it('hostile-bodies-fuzz: malformed and hostile requests get a 4xx {reason, message} and change nothing', async () => {
    const before = snapshot();
    const text = fc.oneof(
      fc.string(),
      fc.constantFrom('', '..', '../..', 'a/b', '%2e%2e', 'A', '__proto__', 'constructor', 'x'.repeat(300), 'a\u0000b'),
    );
    const hostileArgs = fc.record(
      {
        containerID: fc.oneof(text, fc.jsonValue()),
        ifName: fc.oneof(text, fc.constantFrom('eth0', 'x'.repeat(16), 'a b'), fc.jsonValue()),
        netNamespace: fc.oneof(text, fc.jsonValue()),
        podNamespace: fc.oneof(text, fc.constant('ns'), fc.jsonValue()),
        podName: fc.oneof(text, fc.constant('a'), fc.jsonValue()),
        podUID: fc.oneof(text, fc.jsonValue()),
        defaultIPv4IPPool: fc.jsonValue(),
        cleanGateway: fc.jsonValue(),
      },
      { requiredKeys: [] },
    );
    const body = fc.oneof(
      hostileArgs.map((a) => JSON.stringify(a)),
      fc.jsonValue().map((v) => JSON.stringify(v)),
      fc.string(),
      fc.constantFrom('{', '{"__proto__":{"podName":"a"}}', '[]', 'null', '1e999', '"'.repeat(1000)),
    );
    const target = fc.oneof(
      fc.constantFrom('POST /v1/ipam/ip', 'DELETE /v1/ipam/ip'),
      fc
        .tuple(fc.constantFrom('/v1/workloadendpoint', '/v1/coordinator/config'), text, text)
        .map(
          ([path, ns, name]) =>
            `GET ${path}?podNamespace=${encodeURIComponent(ns)}&podName=${encodeURIComponent(name)}`,
        ),
    );
    await fc.assert(
      fc.asyncProperty(target, body, async (t, b) => {
        const [method, path] = t.split(' ') as [string, string];
        const answer = await call(server.socketPath, method, path, b);
        // A DEL of an unknown pod succeeds with nothing done, and a well-formed CHECK of a pod may find it.
        if (answer.status === 200) return;
        assert.ok(
          answer.status >= 400 && answer.status < 500,
          `${t} ${b.slice(0, 200)}: ${answer.status} ${answer.body}`,
        );
        const error = JSON.parse(answer.body) as Record<string, unknown>;
        assert.deepEqual(Object.keys(error), ['reason', 'message']);
        assert.equal(typeof error.reason, 'string');
        assert.equal(typeof error.message, 'string');
      }),
      { numRuns: 400 },
    );
    assert.equal(snapshot(), before, 'no pool record and no endpoint changed');
  });
});
