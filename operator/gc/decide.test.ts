import assert from 'node:assert/strict';
import type { V1Pod, V1StatefulSet } from '@kubernetes/client-node';
import type { SpiderEndpoint } from '../../api/v2beta1/types.ts';
import { decide, decideEndpoint, endOfLife, statefulSetOf, type DecideOptions, type PoolRecord } from './decide.ts';

const NOW = Date.parse('2026-01-01T12:00:00Z');
const opts: DecideOptions = { now: NOW, graceMarginMs: 0, enableStatefulSet: true };
const iso = (ms: number) => new Date(ms).toISOString();

const record = (over: Partial<PoolRecord> = {}): PoolRecord => ({
  pool: 'p4',
  ip: '10.0.0.5',
  pod: 'ns/web-1',
  podUid: 'uid-old',
  ...over,
});

const pod = (
  uid: string,
  over: {
    set?: string;
    deletion?: string | Date;
    grace?: number;
    phase?: string;
    finishedAt?: string;
    termGrace?: number;
  } = {},
): V1Pod => ({
  metadata: {
    name: 'web-1',
    namespace: 'ns',
    uid,
    ...(over.set
      ? {
          ownerReferences: [
            { apiVersion: 'apps/v1', kind: 'StatefulSet', name: over.set, uid: 'set-uid', controller: true },
          ],
        }
      : {}),
    ...(over.deletion
      ? { deletionTimestamp: over.deletion as Date, deletionGracePeriodSeconds: over.grace ?? 30 }
      : {}),
  },
  spec: { containers: [], ...(over.termGrace !== undefined ? { terminationGracePeriodSeconds: over.termGrace } : {}) },
  status: {
    phase: over.phase ?? 'Running',
    ...(over.finishedAt
      ? {
          containerStatuses: [
            {
              name: 'c',
              image: 'i',
              imageID: '',
              ready: false,
              restartCount: 0,
              state: { terminated: { exitCode: 0, finishedAt: over.finishedAt as unknown as Date } },
            },
          ],
        }
      : {}),
  },
});

const endpoint = (uid: string, over: { set?: string; ip?: string; pool?: string } = {}): SpiderEndpoint => ({
  metadata: { name: 'web-1', namespace: 'ns', resourceVersion: '7', uid: `se-${uid}` },
  status: {
    current: {
      uid,
      node: 'n1',
      ips: [{ interface: 'eth0', ipv4: `${over.ip ?? '10.0.0.5'}/24`, ipv4Pool: over.pool ?? 'p4' }],
    },
    ownerControllerType: over.set ? 'StatefulSet' : 'Deployment',
    ownerControllerName: over.set ?? 'web',
  },
});

const set = (replicas: number, over: { start?: number; deleting?: boolean; name?: string } = {}): V1StatefulSet => ({
  metadata: {
    name: over.name ?? 'web',
    namespace: 'ns',
    ...(over.deleting ? { deletionTimestamp: new Date(NOW) } : {}),
  },
  spec: {
    replicas,
    selector: {},
    serviceName: 'web',
    template: {},
    ...(over.start !== undefined ? { ordinals: { start: over.start } } : {}),
  },
});

describe('GC decision for one pool record', () => {
  describe('malformed records', () => {
    it('releases a record whose pod is not "namespace/name"', () => {
      for (const bad of ['web-1', '/web-1', 'ns/', '']) {
        assert.deepEqual(
          decide(record({ pod: bad }), {}, opts),
          { action: 'release', reason: 'InvalidRecord', deleteEndpoint: false },
          bad,
        );
      }
    });
    it('releases a record without a pod UID', () => {
      assert.equal(decide(record({ podUid: '' }), { pod: pod('') }, opts).action, 'release');
    });
  });

  describe('the pod exists with the record UID', () => {
    it('keeps the address of a running pod', () => {
      assert.deepEqual(decide(record(), { pod: pod('uid-old') }, opts), { action: 'keep', reason: 'PodAlive' });
    });
    it('keeps the address of a pending pod', () => {
      assert.deepEqual(decide(record(), { pod: pod('uid-old', { phase: 'Pending' }) }, opts), {
        action: 'keep',
        reason: 'PodAlive',
      });
    });
    it('keeps a running scaled-down StatefulSet pod until it is gone', () => {
      assert.deepEqual(decide(record(), { pod: pod('uid-old', { set: 'web' }), statefulSet: set(1) }, opts), {
        action: 'keep',
        reason: 'PodAlive',
      });
    });
    it('keeps a terminating pod within deletionTimestamp + grace + margin and says when to look again', () => {
      const deletion = NOW - 20_000;
      const d = decide(
        record(),
        { pod: pod('uid-old', { deletion: iso(deletion), grace: 30 }) },
        { ...opts, graceMarginMs: 5000 },
      );
      assert.deepEqual(d, { action: 'keep', reason: 'PodTerminating', recheckAt: deletion + 35_000 });
    });
    it('releases a terminating pod past its grace period, and its own endpoint', () => {
      const seen = { pod: pod('uid-old', { deletion: iso(NOW - 31_000), grace: 30 }), endpoint: endpoint('uid-old') };
      assert.deepEqual(decide(record(), seen, opts), {
        action: 'release',
        reason: 'PodTerminatedPastGrace',
        deleteEndpoint: true,
      });
    });
    it('reads deletionTimestamp as a Date (fresh read) as well as a string (cache)', () => {
      const d = decide(record(), { pod: pod('uid-old', { deletion: new Date(NOW - 31_000), grace: 30 }) }, opts);
      assert.equal(d.action, 'release');
    });
    it('the margin postpones the release of a terminating pod', () => {
      const d = decide(
        record(),
        { pod: pod('uid-old', { deletion: iso(NOW - 31_000), grace: 30 }) },
        { ...opts, graceMarginMs: 10_000 },
      );
      assert.equal(d.action, 'keep');
    });
    it('does not delete an endpoint of another UID when releasing a terminated pod', () => {
      const seen = { pod: pod('uid-old', { deletion: iso(NOW - 31_000), grace: 30 }), endpoint: endpoint('uid-other') };
      assert.deepEqual(decide(record(), seen, opts), {
        action: 'release',
        reason: 'PodTerminatedPastGrace',
        deleteEndpoint: false,
      });
    });
    it('keeps a terminating StatefulSet pod past grace while the set wants its ordinal', () => {
      const seen = {
        pod: pod('uid-old', { set: 'web', deletion: iso(NOW - 60_000), grace: 30 }),
        endpoint: endpoint('uid-old', { set: 'web' }),
        statefulSet: set(2),
      };
      assert.deepEqual(decide(record(), seen, opts), { action: 'keep', reason: 'StatefulSetRetained' });
    });
    it('releases a terminating StatefulSet pod past grace once scaled down', () => {
      const seen = {
        pod: pod('uid-old', { set: 'web', deletion: iso(NOW - 60_000), grace: 30 }),
        endpoint: endpoint('uid-old', { set: 'web' }),
        statefulSet: set(1),
      };
      assert.deepEqual(decide(record(), seen, opts), {
        action: 'release',
        reason: 'PodTerminatedPastGrace',
        deleteEndpoint: true,
      });
    });
    it('keeps a completed pod until finishedAt + terminationGracePeriodSeconds + margin', () => {
      const finished = NOW - 5000;
      const d = decide(
        record(),
        { pod: pod('uid-old', { phase: 'Succeeded', finishedAt: iso(finished), termGrace: 10 }) },
        opts,
      );
      assert.deepEqual(d, { action: 'keep', reason: 'PodCompleting', recheckAt: finished + 10_000 });
    });
    it('releases a completed pod after its grace period', () => {
      const d = decide(record(), { pod: pod('uid-old', { phase: 'Failed', finishedAt: iso(NOW - 40_000) }) }, opts);
      assert.deepEqual(d, { action: 'release', reason: 'PodCompleted', deleteEndpoint: false });
    });
    it('releases a completed pod without any finish time', () => {
      assert.equal(decide(record(), { pod: pod('uid-old', { phase: 'Succeeded' }) }, opts).action, 'release');
    });
    it('keeps a failed StatefulSet pod that the set will recreate', () => {
      const seen = {
        pod: pod('uid-old', { set: 'web', phase: 'Failed', finishedAt: iso(NOW - 100_000) }),
        statefulSet: set(3),
      };
      assert.deepEqual(decide(record(), seen, opts), { action: 'keep', reason: 'StatefulSetRetained' });
    });
  });

  describe('a pod of the same name exists with another UID', () => {
    it('releases the record of a stateless pod, and the endpoint when it names the dead UID', () => {
      assert.deepEqual(decide(record(), { pod: pod('uid-new'), endpoint: endpoint('uid-old') }, opts), {
        action: 'release',
        reason: 'PodUIDMismatch',
        deleteEndpoint: true,
      });
    });
    it('leaves the new pod its endpoint', () => {
      assert.deepEqual(decide(record(), { pod: pod('uid-new'), endpoint: endpoint('uid-new') }, opts), {
        action: 'release',
        reason: 'PodUIDMismatch',
        deleteEndpoint: false,
      });
    });
    it('keeps a StatefulSet record that the endpoint lists: the agent moves it to the new UID on ADD', () => {
      const seen = {
        pod: pod('uid-new', { set: 'web' }),
        endpoint: endpoint('uid-old', { set: 'web' }),
        statefulSet: set(2),
      };
      assert.deepEqual(decide(record(), seen, opts), { action: 'keep', reason: 'StatefulSetRetained' });
    });
    it('releases a StatefulSet record that the endpoint does not list, keeping the endpoint', () => {
      const seen = {
        pod: pod('uid-new', { set: 'web' }),
        endpoint: endpoint('uid-old', { set: 'web', ip: '10.0.0.9' }),
        statefulSet: set(2),
      };
      assert.deepEqual(decide(record(), seen, opts), {
        action: 'release',
        reason: 'PodUIDMismatch',
        deleteEndpoint: false,
      });
    });
    it('the listed address must be of the same pool', () => {
      const seen = {
        pod: pod('uid-new', { set: 'web' }),
        endpoint: endpoint('uid-old', { set: 'web', pool: 'other' }),
        statefulSet: set(2),
      };
      assert.equal(decide(record(), seen, opts).action, 'release');
    });
    it('releases a StatefulSet record and its endpoint when the new pod is out of the replicas', () => {
      const seen = {
        pod: pod('uid-new', { set: 'web' }),
        endpoint: endpoint('uid-old', { set: 'web' }),
        statefulSet: set(1),
      };
      assert.deepEqual(decide(record(), seen, opts), {
        action: 'release',
        reason: 'PodUIDMismatch',
        deleteEndpoint: true,
      });
    });
  });

  describe('no pod of that name exists', () => {
    it('releases the record and deletes the endpoint of a stateless pod', () => {
      assert.deepEqual(decide(record(), { endpoint: endpoint('uid-old') }, opts), {
        action: 'release',
        reason: 'PodDeleted',
        deleteEndpoint: true,
      });
    });
    it('releases the record when there is no endpoint either', () => {
      assert.deepEqual(decide(record(), {}, opts), { action: 'release', reason: 'PodDeleted', deleteEndpoint: false });
    });
    it('deletes a stateless endpoint of any UID: no pod of the name lives', () => {
      assert.deepEqual(decide(record(), { endpoint: endpoint('uid-other') }, opts), {
        action: 'release',
        reason: 'PodDeleted',
        deleteEndpoint: true,
      });
    });
    it('keeps a StatefulSet pod that is being recreated (ordinal within replicas)', () => {
      assert.deepEqual(decide(record(), { endpoint: endpoint('uid-old', { set: 'web' }), statefulSet: set(2) }, opts), {
        action: 'keep',
        reason: 'StatefulSetRetained',
      });
    });
    it('honours spec.ordinals.start', () => {
      const seen = (s: V1StatefulSet) => ({ endpoint: endpoint('uid-old', { set: 'web' }), statefulSet: s });
      assert.equal(decide(record(), seen(set(2, { start: 1 })), opts).action, 'keep');
      assert.equal(decide(record(), seen(set(2, { start: 2 })), opts).action, 'release');
      assert.equal(decide(record({ pod: 'ns/web-3' }), seen(set(2, { start: 2 })), opts).action, 'keep');
      assert.equal(decide(record({ pod: 'ns/web-4' }), seen(set(2, { start: 2 })), opts).action, 'release');
    });
    it('releases and deletes the endpoint of a scaled-down ordinal', () => {
      assert.deepEqual(decide(record(), { endpoint: endpoint('uid-old', { set: 'web' }), statefulSet: set(1) }, opts), {
        action: 'release',
        reason: 'StatefulSetScaledDown',
        deleteEndpoint: true,
      });
    });
    it('releases and deletes the endpoint when the set is gone or being deleted', () => {
      assert.deepEqual(decide(record(), { endpoint: endpoint('uid-old', { set: 'web' }) }, opts), {
        action: 'release',
        reason: 'StatefulSetDeleted',
        deleteEndpoint: true,
      });
      assert.deepEqual(
        decide(
          record(),
          { endpoint: endpoint('uid-old', { set: 'web' }), statefulSet: set(3, { deleting: true }) },
          opts,
        ),
        { action: 'release', reason: 'StatefulSetDeleted', deleteEndpoint: true },
      );
    });
    it('ignores a StatefulSet of another name than the endpoint records', () => {
      assert.equal(
        decide(record(), { endpoint: endpoint('uid-old', { set: 'web' }), statefulSet: set(3, { name: 'db' }) }, opts)
          .action,
        'release',
      );
    });
    it('releases a StatefulSet record the endpoint does not list, and keeps the endpoint', () => {
      const seen = { endpoint: endpoint('uid-old', { set: 'web', ip: '10.0.0.9' }), statefulSet: set(2) };
      assert.deepEqual(decide(record(), seen, opts), {
        action: 'release',
        reason: 'PodDeleted',
        deleteEndpoint: false,
      });
    });
    it('treats StatefulSet pods as stateless when StatefulSet retention is off', () => {
      const seen = { endpoint: endpoint('uid-old', { set: 'web' }), statefulSet: set(2) };
      assert.deepEqual(decide(record(), seen, { ...opts, enableStatefulSet: false }), {
        action: 'release',
        reason: 'PodDeleted',
        deleteEndpoint: true,
      });
    });
  });
});

describe('GC helpers', () => {
  it('statefulSetOf: the pod controller when the pod exists, else the endpoint owner', () => {
    assert.equal(statefulSetOf(pod('u', { set: 'db' }), endpoint('u', { set: 'web' })), 'db');
    assert.equal(statefulSetOf(pod('u'), endpoint('u', { set: 'web' })), undefined);
    assert.equal(statefulSetOf(undefined, endpoint('u', { set: 'web' })), 'web');
    assert.equal(statefulSetOf(undefined, endpoint('u')), undefined);
    assert.equal(statefulSetOf(undefined, undefined), undefined);
  });
  it('endOfLife: undefined while running', () => {
    assert.equal(endOfLife(pod('u'), 0), undefined);
    assert.equal(endOfLife(pod('u', { phase: 'Unknown' }), 0), undefined);
  });
  it('endOfLife: the default terminationGracePeriodSeconds is 30', () => {
    assert.equal(endOfLife(pod('u', { phase: 'Succeeded', finishedAt: iso(NOW) }), 1000), NOW + 31_000);
  });
});

describe('GC decision for a SpiderEndpoint no record names', () => {
  const ep = endpoint('uid-old', { set: 'web' });
  it('keeps it while records name it', () => {
    assert.deepEqual(decideEndpoint(ep, {}, true, opts), { action: 'keep', reason: 'RecordsRemain' });
  });
  it('keeps it while its pod exists with its UID', () => {
    assert.deepEqual(decideEndpoint(endpoint('uid-old'), { pod: pod('uid-old') }, false, opts), {
      action: 'keep',
      reason: 'PodAlive',
    });
  });
  it('keeps a StatefulSet endpoint whose ordinal is wanted', () => {
    assert.deepEqual(decideEndpoint(ep, { statefulSet: set(2) }, false, opts), {
      action: 'keep',
      reason: 'StatefulSetRetained',
    });
  });
  it('deletes it when the pod is gone, replaced by another UID, or scaled down', () => {
    assert.deepEqual(decideEndpoint(endpoint('uid-old'), {}, false, opts), { action: 'delete' });
    assert.deepEqual(decideEndpoint(endpoint('uid-old'), { pod: pod('uid-new') }, false, opts), { action: 'delete' });
    assert.deepEqual(decideEndpoint(ep, { statefulSet: set(1) }, false, opts), { action: 'delete' });
    assert.deepEqual(decideEndpoint(ep, {}, false, { ...opts, enableStatefulSet: false }), { action: 'delete' });
  });
});
