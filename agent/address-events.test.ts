// The allocation history never holds up an ADD or DEL: a slow or failing apiserver only delays or drops events.
import assert from 'node:assert/strict';
import { parseAddressEvent, parseAddressEvents } from '../lib/address-events.ts';
import type { JsonClient } from '../lib/json-client.ts';
import type { Logger } from '../lib/log.ts';
import { AddressEvents } from './address-events.ts';

interface Created {
  namespace: string;
  body: { reason?: string; message?: string; involvedObject: { name?: string; uid?: string }; type?: string };
}

function fakeCore(answer: () => Promise<unknown>) {
  const created: Created[] = [];
  const core = {
    request: (_method: string, path: string, { body }: { body: Created['body'] }) => {
      created.push({ namespace: decodeURIComponent(/\/namespaces\/([^/]+)\/events$/.exec(path)?.[1] ?? ''), body });
      return answer();
    },
  } as unknown as JsonClient;
  return { core, created };
}

function recordingLog() {
  const warnings: { message: string; meta: Record<string, unknown> }[] = [];
  const log = { warn: (message: string, meta: Record<string, unknown>) => warnings.push({ message, meta }) };
  return { log: log as unknown as Logger, warnings };
}

const options = { node: 'worker1', poolUid: (pool: string) => `uid-of-${pool}` };
const allocated = (ip: string) => ({ kind: 'allocated' as const, ip, pod: 'ns/web', podUid: 'u1', nic: 'eth0' });

describe('address events', () => {
  it('records Normal events on the pool, in default, whose message reads back', async () => {
    const { core, created } = fakeCore(() => Promise.resolve({}));
    const events = new AddressEvents(core, recordingLog().log, options);
    events.record('pool-a', allocated('10.6.0.5'));
    events.record('pool-a', { kind: 'released', ip: '10.6.0.5', pod: 'ns/web', podUid: 'u1' });
    await events.settled();
    assert.deepEqual(
      created.map((c) => [
        c.namespace,
        c.body.type,
        c.body.reason,
        c.body.involvedObject.name,
        c.body.involvedObject.uid,
      ]),
      [
        ['default', 'Normal', 'IPAllocated', 'pool-a', 'uid-of-pool-a'],
        ['default', 'Normal', 'IPReleased', 'pool-a', 'uid-of-pool-a'],
      ],
    );
    assert.deepEqual(parseAddressEvent(created[0]?.body.message), allocated('10.6.0.5'));
  });

  it('returns at once while the apiserver hangs, and holds at most its capacity', async () => {
    const { core, created } = fakeCore(() => new Promise(() => undefined));
    const { log, warnings } = recordingLog();
    const events = new AddressEvents(core, log, { ...options, capacity: 10, concurrency: 2 });
    const started = performance.now();
    for (let i = 0; i < 1000; i++) events.record('pool-a', allocated(`10.6.${i >> 8}.${i & 255}`));
    assert.ok(performance.now() - started < 100, 'recording waits for nothing');
    assert.equal(created.length, 2, 'two requests in flight');
    assert.equal(warnings.length, 1, 'the first drop is logged, not every one');
    assert.match(warnings[0]?.message ?? '', /queue full/);
  });

  it('logs a refused event and goes on with the next', async () => {
    let calls = 0;
    const { core, created } = fakeCore(() =>
      calls++ === 0 ? Promise.reject(new Error('forbidden')) : Promise.resolve({}),
    );
    const { log, warnings } = recordingLog();
    const events = new AddressEvents(core, log, { ...options, concurrency: 1 });
    events.record('pool-a', allocated('10.6.0.5'));
    events.record('pool-a', allocated('10.6.0.6'));
    await events.settled();
    assert.equal(created.length, 2);
    assert.deepEqual(warnings, [
      { message: 'cannot record address event', meta: { pool: 'pool-a', ip: '10.6.0.5', error: 'forbidden' } },
    ]);
  });

  it('sends the addresses of one pool and kind queued meanwhile in one Event, in order', async () => {
    let release: () => void = () => undefined;
    let first = true;
    const { core, created } = fakeCore(() => {
      if (!first) return Promise.resolve({});
      first = false;
      return new Promise((r) => (release = () => r({})));
    });
    const events = new AddressEvents(core, recordingLog().log, options);
    events.record('pool-a', allocated('10.6.0.1'));
    for (let i = 2; i <= 21; i++) events.record('pool-a', allocated(`10.6.0.${i}`));
    events.record('pool-a', { kind: 'released', ip: '10.6.0.1', pod: 'ns/web', podUid: 'u1' });
    for (let i = 1; i <= 3; i++) events.record('pool-b', allocated(`10.7.0.${i}`));
    events.record('pool-a', allocated('10.6.0.1'));
    release();
    await events.settled();
    assert.deepEqual(
      created.map((c) => [
        c.body.involvedObject.name,
        c.body.reason,
        parseAddressEvents(c.body.message).map((e) => e.ip.split('.')[3]),
      ]),
      [
        ['pool-a', 'IPAllocated', ['1']],
        ['pool-a', 'IPAllocated', ['2', '3', '4', '5', '6', '7', '8', '9']],
        ['pool-a', 'IPAllocated', ['10', '11', '12', '13', '14', '15', '16', '17']],
        ['pool-a', 'IPAllocated', ['18', '19', '20', '21']],
        ['pool-a', 'IPReleased', ['1']],
        ['pool-b', 'IPAllocated', ['1', '2', '3']],
        ['pool-a', 'IPAllocated', ['1']],
      ],
    );
  });
});
