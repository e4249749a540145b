// The pod work queue: bounded parallelism across keys, strictly serial per key, one more run for a
// key that changed while it ran, and delayed retries that close() cancels.
import assert from 'node:assert/strict';
import { KeyedQueue } from './queue.ts';

const tick = (ms = 5) => new Promise((r) => setTimeout(r, ms));

describe('keyed queue', () => {
  it('runs different keys in parallel up to the bound and each key serially', async () => {
    let active = 0;
    let peak = 0;
    const perKey = new Map<string, number>();
    const runs: string[] = [];
    const queue = new KeyedQueue(
      3,
      async (key) => {
        active++;
        perKey.set(key, (perKey.get(key) ?? 0) + 1);
        assert.equal(perKey.get(key), 1, `${key} runs once at a time`);
        peak = Math.max(peak, active);
        await tick(10);
        runs.push(key);
        perKey.set(key, 0);
        active--;
      },
      (key, err) => assert.fail(`${key}: ${String(err)}`),
    );
    for (let i = 0; i < 8; i++) queue.enqueue(`k${i}`);
    queue.enqueue('k0');
    queue.enqueue('k0');
    await tick(1);
    queue.enqueue('k0');
    while (runs.length < 9) await tick();
    await tick(30);
    await queue.close();
    assert.equal(peak, 3);
    assert.equal(runs.filter((k) => k === 'k0').length, 2, 'events during a run collapse into one more run');
    assert.equal(runs.length, 9);
  });

  it('hands errors to onError, retries after a delay, and close() drops pending retries', async () => {
    const runs: number[] = [];
    const errors: string[] = [];
    const queue: KeyedQueue = new KeyedQueue(
      1,
      async () => {
        runs.push(Date.now());
        if (runs.length < 3) throw new Error(`fail ${runs.length}`);
      },
      (key, err) => {
        errors.push((err as Error).message);
        queue.enqueueAfter(key, 20);
      },
    );
    queue.enqueue('p');
    while (runs.length < 3) await tick();
    assert.deepEqual(errors, ['fail 1', 'fail 2']);
    assert.ok((runs[1] ?? 0) - (runs[0] ?? 0) >= 15, 'the retry waited');

    queue.enqueueAfter('p', 50);
    await queue.close();
    await tick(80);
    assert.equal(runs.length, 3, 'no retry runs after close()');
  });
});
