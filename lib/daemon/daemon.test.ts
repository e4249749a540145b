// The daemon shell as a process: a small daemon (testdata/daemon.ts) run the way the three daemons run.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { join } from 'node:path';

const DAEMON = join(import.meta.dirname, 'testdata', 'daemon.ts');

interface Running {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

function run(env: Record<string, string>): Running {
  const child = spawn(process.execPath, ['--import', 'tsx', DAEMON], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
  let output = '';
  child.stdout?.on('data', (d: Buffer) => {
    output += d.toString();
  });
  child.stderr?.on('data', (d: Buffer) => {
    output += d.toString();
  });
  const exited = once(child, 'exit').then(([code]) => code as number | null);
  return { child, output: () => output, exited };
}

async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  await new Promise((r) => server.close(r));
  return port;
}

async function until<T>(what: string, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

const lines = (output: string) =>
  output
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>);
const status = (port: number, path: string) => fetch(`http://127.0.0.1:${port}${path}`).then((r) => r.status);

describe('daemon shell', function () {
  this.timeout(30_000);

  it('serves health at once, ready after start, and stops once on SIGTERM', async () => {
    const port = await freePort();
    const daemon = run({ TEST_PORT: String(port), TEST_START_MS: '500' });
    try {
      await until('/healthz', async () => ((await status(port, '/healthz')) === 200 ? true : undefined));
      assert.equal(await status(port, '/readyz'), 503, 'not ready while starting');
      await until('/readyz', async () => ((await status(port, '/readyz')) === 200 ? true : undefined));
      assert.match(await fetch(`http://127.0.0.1:${port}/metrics`).then((r) => r.text()), /^test_started 1$/m);
      daemon.child.kill('SIGTERM');
      assert.equal(await daemon.exited, 0, daemon.output());
      const log = lines(daemon.output());
      assert.ok(log.every((l) => l.component === 'test-daemon'));
      assert.deepEqual(log.filter((l) => l.message === 'components stopped').length, 1);
    } finally {
      daemon.child.kill('SIGKILL');
    }
  });

  it('exits 1 on a second signal while stopping', async () => {
    const port = await freePort();
    const daemon = run({ TEST_PORT: String(port), TEST_STOP_MS: '10000' });
    try {
      await until('/readyz', async () => ((await status(port, '/readyz')) === 200 ? true : undefined));
      daemon.child.kill('SIGTERM');
      await until('the stop to begin', async () => (daemon.output().includes('shutting down') ? true : undefined));
      daemon.child.kill('SIGINT');
      assert.equal(await daemon.exited, 1, daemon.output());
    } finally {
      daemon.child.kill('SIGKILL');
    }
  });

  it('logs an unhandled rejection and keeps serving', async () => {
    const port = await freePort();
    const daemon = run({ TEST_PORT: String(port), TEST_REJECT: 'true' });
    try {
      await until('the rejection to be logged', async () =>
        daemon.output().includes('unhandled rejection') ? true : undefined,
      );
      assert.equal(await status(port, '/healthz'), 200);
      const logged = lines(daemon.output()).find((l) => l.message === 'unhandled rejection');
      assert.equal(logged?.err, 'escaped');
      assert.match(String(logged?.stack), /testdata[/\\]daemon\.ts/);
    } finally {
      daemon.child.kill('SIGKILL');
    }
  });

  it('fails start-up with exit 1, the message and the stack', async () => {
    const daemon = run({ TEST_PORT: '0', TEST_FAIL: 'true' });
    assert.equal(await daemon.exited, 1);
    const logged = lines(daemon.output()).find((l) => l.message === 'test-daemon failed to start');
    assert.equal(logged?.level, 'error');
    assert.equal(logged?.err, 'no apiserver');
    assert.match(String(logged?.stack), /testdata[/\\]daemon\.ts/);
  });

  it('refuses an invalid configuration before starting anything, naming every bad variable', async () => {
    const daemon = run({ TEST_PORT: '70000', TEST_FAIL: 'no', LOG_LEVEL: 'loud' });
    assert.equal(await daemon.exited, 1);
    const logged = lines(daemon.output()).find((l) => l.message === 'test-daemon failed to start');
    assert.equal(
      logged?.err,
      'invalid configuration: LOG_LEVEL: "loud" is not one of error, warn, info, http, verbose, debug, silly; ' +
        'TEST_PORT: "70000" is not a port number (0-65535); TEST_FAIL: "no" is not true or false',
    );
    assert.doesNotMatch(daemon.output(), /serving metrics and health/);
  });
});
