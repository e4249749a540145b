import assert from 'node:assert/strict';
import { backoffDelay } from '../../lib/watch/backoff.ts';
import { WorkQueue } from './workqueue.ts';

const tick = () => new Promise((r) => setImmediate(r));

describe('WorkQueue', () => {
  it('holds a burst of adds of one key once', async () => {
    const q = new WorkQueue();
    for (let i = 0; i < 50; i++) q.add('a');
    q.add('b');
    assert.equal(q.depth, 2);
    assert.equal(await q.get(), 'a');
    assert.equal(await q.get(), 'b');
    assert.equal(q.depth, 0);
  });

  it('never hands a key being processed to a second worker, and requeues it when done if it was added meanwhile', async () => {
    const q = new WorkQueue();
    q.add('a');
    const key = await q.get();
    q.add('a');
    q.add('a');
    let second: string | undefined;
    void q.get().then((k) => {
      second = k;
    });
    await tick();
    assert.equal(second, undefined, 'the re-added key waits for done()');
    q.done(key!);
    await tick();
    assert.equal(second, 'a');
    q.done('a');
    assert.ok(q.idle());
  });

  it('hands keys to waiting workers in order', async () => {
    const q = new WorkQueue();
    const got = [q.get(), q.get()];
    q.add('x');
    q.add('y');
    assert.deepEqual(await Promise.all(got), ['x', 'y']);
  });

  it('addAfter keeps the earlier of two deadlines', async () => {
    const q = new WorkQueue();
    q.addAfter('a', 10_000);
    q.addAfter('a', 20);
    q.addAfter('a', 30_000);
    const started = Date.now();
    assert.equal(await q.get(), 'a');
    assert.ok(Date.now() - started < 1000);
    q.shutdown();
  });

  it('backs off per key exponentially until forget', () => {
    const q = new WorkQueue({ baseMs: 100, maxMs: 1000, jitter: 0 });
    assert.deepEqual(
      [
        q.addRateLimited('a'),
        q.addRateLimited('a'),
        q.addRateLimited('a'),
        q.addRateLimited('a'),
        q.addRateLimited('a'),
      ],
      [100, 200, 400, 800, 1000],
    );
    assert.equal(q.addRateLimited('b'), 100, 'other keys have their own count');
    q.forget('a');
    assert.equal(q.addRateLimited('a'), 100);
    q.shutdown();
  });

  it('shutdown releases waiting workers and refuses new keys', async () => {
    const q = new WorkQueue();
    const waiting = q.get();
    q.addAfter('later', 50);
    q.shutdown();
    assert.equal(await waiting, undefined);
    q.add('a');
    assert.equal(await q.get(), undefined);
  });
});

describe('backoffDelay', () => {
  it('doubles from the base, caps at the maximum and adds at most the jitter fraction', () => {
    const policy = { baseMs: 200, maxMs: 60_000, jitter: 0.1 };
    assert.equal(
      backoffDelay(policy, 0, () => 0),
      200,
    );
    assert.equal(
      backoffDelay(policy, 3, () => 0),
      1600,
    );
    assert.equal(
      backoffDelay(policy, 3, () => 1),
      1760,
    );
    assert.equal(
      backoffDelay(policy, 1000, () => 0),
      60_000,
    );
  });
});
