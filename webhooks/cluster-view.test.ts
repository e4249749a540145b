import assert from 'node:assert/strict';
import { sharedFreshRead } from './cluster-view.ts';

describe('sharedFreshRead', () => {
  it('shares one call among callers that arrive together, never one that started before them', async () => {
    const releases: (() => void)[] = [];
    let calls = 0;
    const read = sharedFreshRead(() => {
      const n = ++calls;
      return new Promise<number>((resolve) => releases.push(() => resolve(n)));
    });
    const a = read();
    // b and c arrive while call 1 is running: they may not use it, and share call 2.
    const b = read();
    const c = read();
    assert.equal(calls, 1);
    releases[0]!();
    assert.equal(await a, 1);
    await new Promise((r) => setImmediate(r));
    assert.equal(calls, 2);
    const d = read();
    releases[1]!();
    assert.deepEqual([await b, await c], [2, 2]);
    await new Promise((r) => setImmediate(r));
    releases[2]!();
    assert.equal(await d, 3);
  });

  it('a failed call fails its callers only; the next caller starts afresh', async () => {
    let calls = 0;
    const read = sharedFreshRead(async () => {
      calls++;
      if (calls === 1) throw new Error('apiserver down');
      return calls;
    });
    await assert.rejects(read(), /apiserver down/);
    assert.equal(await read(), 2);
  });
});
