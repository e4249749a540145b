import assert from 'node:assert/strict';
import { FINALIZER, POOL_CIDR_LABEL } from '../../api/v2beta1/constants.ts';
import type { SpiderIPPool } from '../../api/v2beta1/types.ts';
import {
  InvalidPool,
  allocatedIPCount,
  finalizerRemovalPatch,
  metadataPatch,
  statusPatch,
  totalIPCount,
} from './status.ts';

const pool = (spec: Partial<SpiderIPPool['spec']>, extra: Partial<SpiderIPPool> = {}): SpiderIPPool => ({
  metadata: { name: 'p', resourceVersion: '7', ...extra.metadata },
  spec: { subnet: '10.0.0.0/16', ...spec },
  ...(extra.status ? { status: extra.status } : {}),
});

describe('IPPool status', () => {
  it('totalIPCount is |ips − excludeIPs| without expanding ranges', () => {
    assert.equal(
      totalIPCount(pool({ ips: ['10.0.0.1-10.0.0.100', '10.0.0.50-10.0.0.150'], excludeIPs: ['10.0.0.10-10.0.0.19'] })),
      140,
    );
    assert.equal(totalIPCount(pool({})), 0);
    assert.equal(totalIPCount(pool({ subnet: 'fd00::/64', ips: ['fd00::-fd00::ffff:ffff'] })), 2 ** 32);
    assert.equal(
      totalIPCount(pool({ subnet: 'fd00::/32', ips: ['fd00::-fd00:0:ffff:ffff:ffff:ffff:ffff:ffff'] })),
      Number.MAX_SAFE_INTEGER,
      'capped where JSON numbers stop being exact',
    );
  });

  it('names the pool and field of a bad range', () => {
    assert.throws(
      () => totalIPCount(pool({ excludeIPs: ['10.0.0.9-10.0.0.1'] })),
      (err: Error) => err instanceof InvalidPool && /SpiderIPPool p: spec\.excludeIPs/.test(err.message),
    );
    assert.throws(
      () => allocatedIPCount(pool({}, { status: { allocatedIPs: '{' } })),
      (err: Error) => err instanceof InvalidPool && /allocatedIPs/.test(err.message),
    );
  });

  it('allocatedIPCount counts the records', () => {
    assert.equal(
      allocatedIPCount(
        pool(
          {},
          {
            status: {
              allocatedIPs: JSON.stringify({
                '10.0.0.1': { pod: 'a/b', podUid: 'u' },
                '10.0.0.2': { pod: 'a/c', podUid: 'v' },
              }),
            },
          },
        ),
      ),
      2,
    );
    assert.equal(allocatedIPCount(pool({})), 0);
  });

  it('metadataPatch adds the finalizer and the label, guarded by the resourceVersion, and nothing when both are there', () => {
    assert.deepEqual(metadataPatch(pool({})), [
      { op: 'replace', path: '/metadata/resourceVersion', value: '7' },
      { op: 'add', path: '/metadata/finalizers', value: [FINALIZER] },
      { op: 'add', path: '/metadata/labels', value: { [POOL_CIDR_LABEL]: '10-0-0-0-16' } },
    ]);
    assert.deepEqual(
      metadataPatch(
        pool({}, { metadata: { name: 'p', resourceVersion: '7', finalizers: ['other'], labels: { a: 'b' } } }),
      )?.slice(1),
      [
        { op: 'add', path: '/metadata/finalizers/-', value: FINALIZER },
        { op: 'add', path: '/metadata/labels/ipam.spidernet.io~1ippool-cidr', value: '10-0-0-0-16' },
      ],
    );
    assert.equal(
      metadataPatch(
        pool({}, { metadata: { name: 'p', finalizers: [FINALIZER], labels: { [POOL_CIDR_LABEL]: '10-0-0-0-16' } } }),
      ),
      undefined,
    );
  });

  it('finalizerRemovalPatch removes only this finalizer', () => {
    assert.deepEqual(
      finalizerRemovalPatch(
        pool({}, { metadata: { name: 'p', resourceVersion: '7', finalizers: ['other', FINALIZER] } }),
      )?.[1],
      { op: 'remove', path: '/metadata/finalizers/1' },
    );
    assert.equal(finalizerRemovalPatch(pool({}, { metadata: { name: 'p', finalizers: ['other'] } })), undefined);
  });

  it('statusPatch writes only when a counter differs', () => {
    assert.deepEqual(statusPatch(pool({}), { total: 5, allocated: 0 })?.[1], {
      op: 'add',
      path: '/status',
      value: { totalIPCount: 5, allocatedIPCount: 0 },
    });
    assert.equal(
      statusPatch(pool({}, { status: { totalIPCount: 5, allocatedIPCount: 1 } }), { total: 5, allocated: 1 }),
      undefined,
    );
    assert.equal(
      statusPatch(pool({}, { status: { totalIPCount: 5, allocatedIPCount: 1 } }), { total: 5, allocated: 2 })?.length,
      3,
    );
  });
});
