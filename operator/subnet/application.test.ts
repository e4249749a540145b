import assert from 'node:assert/strict';
import type { KubernetesObject } from '@kubernetes/client-node';
import { SelectionError } from '../../ipam/selection/errors.ts';
import {
  appKey,
  applicationOf,
  applicationRecord,
  autoPoolRequests,
  jobPods,
  parseAppKey,
  parseApplicationRecord,
  type Application,
} from './application.ts';
import { ipNumberText, poolSize } from './pool-size.ts';

const SUBNET = 'ipam.spidernet.io/subnet';
const SUBNETS = 'ipam.spidernet.io/subnets';
const IP_NUMBER = 'ipam.spidernet.io/ippool-ip-number';
const RECLAIM = 'ipam.spidernet.io/ippool-reclaim';

function workload(kind: string, spec: object, meta: object = {}, status: object = {}): KubernetesObject {
  return {
    apiVersion: kind === 'Job' ? 'batch/v1' : 'apps/v1',
    kind,
    metadata: { name: 'web', namespace: 'team', uid: 'u-1', ...meta },
    spec,
    status,
  } as KubernetesObject;
}

const template = (annotations: Record<string, string>, hostNetwork = false) => ({
  metadata: { annotations },
  spec: { hostNetwork, containers: [] },
});

function app(annotations: Record<string, string>, replicas = 2, hostNetwork = false): Application {
  return applicationOf(
    'Deployment',
    workload('Deployment', { replicas, template: template(annotations, hostNetwork) }),
  ) as Application;
}

describe('subnet applications', () => {
  describe('pool size', () => {
    it('"N" is fixed and "+N" adds N to the replicas', () => {
      assert.equal(poolSize({ flexible: false, count: 4 }, 10), 4);
      assert.equal(poolSize({ flexible: true, count: 1 }, 2), 3);
      assert.equal(poolSize({ flexible: true, count: 0 }, 0), 0);
      assert.equal(ipNumberText({ flexible: true, count: 1 }), '+1');
      assert.equal(ipNumberText({ flexible: false, count: 7 }), '7');
    });
  });

  describe('replicas per kind', () => {
    it('Deployment, StatefulSet and ReplicaSet count spec.replicas', () => {
      for (const kind of ['Deployment', 'StatefulSet', 'ReplicaSet'] as const) {
        assert.equal(applicationOf(kind, workload(kind, { replicas: 5, template: template({}) }))?.replicas, 5, kind);
        assert.equal(applicationOf(kind, workload(kind, { replicas: 0, template: template({}) }))?.replicas, 0, kind);
      }
    });

    it('a DaemonSet counts the nodes it is scheduled to', () => {
      const ds = workload('DaemonSet', { template: template({}) }, {}, { desiredNumberScheduled: 3 });
      assert.equal(applicationOf('DaemonSet', ds)?.replicas, 3);
      assert.equal(applicationOf('DaemonSet', workload('DaemonSet', { template: template({}) }))?.replicas, 0);
    });

    it('a Job counts completions when both are set, else parallelism, and at least 1', () => {
      assert.equal(jobPods(3, undefined), 3);
      assert.equal(jobPods(2, 10), 10);
      assert.equal(jobPods(0, undefined), 1);
      assert.equal(jobPods(2, 0), 1);
      assert.equal(jobPods(undefined, 5), 1);
      assert.equal(applicationOf('Job', workload('Job', { parallelism: 4, template: template({}) }))?.replicas, 4);
    });

    it('a ReplicaSet controlled by a Deployment is not an application; one controlled by something else is', () => {
      const owned = (apiVersion: string, kind: string) =>
        workload(
          'ReplicaSet',
          { replicas: 1, template: template({}) },
          { ownerReferences: [{ apiVersion, kind, name: 'x', uid: 'x', controller: true }] },
        );
      assert.equal(applicationOf('ReplicaSet', owned('apps/v1', 'Deployment')), undefined);
      assert.equal(applicationOf('ReplicaSet', owned('argoproj.io/v1alpha1', 'Rollout'))?.kind, 'ReplicaSet');
    });

    it('a Job of a CronJob is no application of its own: its pods belong to the CronJob, of either version', () => {
      for (const apiVersion of ['batch/v1', 'batch/v1beta1']) {
        const job = workload(
          'Job',
          { template: template({}) },
          { ownerReferences: [{ apiVersion, kind: 'CronJob', name: 'c', uid: 'c', controller: true }] },
        );
        assert.equal(applicationOf('Job', job), undefined);
      }
    });

    it("a CronJob is sized like one of its Jobs, from its jobTemplate, with the Job's template", () => {
      const cron = (spec: object) =>
        applicationOf('CronJob', workload('CronJob', { schedule: '* * * * *', jobTemplate: { spec } }));
      assert.equal(cron({ parallelism: 2, completions: 5, template: template({}) })?.replicas, 5);
      assert.equal(cron({ parallelism: 3, template: template({}) })?.replicas, 3);
      assert.equal(cron({ parallelism: 0, template: template({}) })?.replicas, 1);
      const app = cron({ template: template({ [SUBNET]: '{"ipv4":["s4"]}' }) });
      assert.equal(app?.apiVersion, 'batch/v1');
      assert.equal(app?.replicas, 1);
      assert.deepEqual(app?.template?.metadata?.annotations, { [SUBNET]: '{"ipv4":["s4"]}' });
    });
  });

  describe('requests', () => {
    it('the subnet annotation asks for one pool per family on eth0, sized replicas + 1 by default', () => {
      assert.deepEqual(autoPoolRequests(app({ [SUBNET]: '{"ipv4":["s4","ignored"],"ipv6":["s6"]}' })), [
        { nic: 'eth0', family: 4, subnet: 's4', size: 3, ipNumber: '+1', reclaim: true },
        { nic: 'eth0', family: 6, subnet: 's6', size: 3, ipNumber: '+1', reclaim: true },
      ]);
    });

    it('subnets wins over subnet and covers every NIC; ip-number and reclaim apply to all', () => {
      const a = app(
        {
          [SUBNET]: '{"ipv4":["other"]}',
          [SUBNETS]: '[{"interface":"eth0","ipv4":["a"]},{"interface":"net1","ipv6":["b"]}]',
          [IP_NUMBER]: '5',
          [RECLAIM]: 'false',
        },
        9,
      );
      assert.deepEqual(autoPoolRequests(a), [
        { nic: 'eth0', family: 4, subnet: 'a', size: 5, ipNumber: '5', reclaim: false },
        { nic: 'net1', family: 6, subnet: 'b', size: 5, ipNumber: '5', reclaim: false },
      ]);
    });

    it('no subnet annotation, or host networking, asks for nothing', () => {
      assert.deepEqual(autoPoolRequests(app({ 'ipam.spidernet.io/ippool': '{"ipv4":["p"]}' })), []);
      assert.deepEqual(autoPoolRequests(app({ [SUBNET]: '{"ipv4":["s"]}' }, 2, true)), []);
    });

    it('a malformed annotation is a WrongInput naming it', () => {
      assert.throws(
        () => autoPoolRequests(app({ [SUBNET]: '{"ipv4":["s"]}', [IP_NUMBER]: '++1' })),
        (err: unknown) =>
          err instanceof SelectionError && err.reason === 'WrongInput' && /ippool-ip-number/.test(err.message),
      );
      assert.throws(() => autoPoolRequests(app({ [SUBNET]: '{"ipv4":["s"]}', [IP_NUMBER]: '-2' })), /negative/);
      assert.throws(() => autoPoolRequests(app({ [SUBNET]: '{"ipv4":["s"]}', [RECLAIM]: 'maybe' })), /ippool-reclaim/);
    });
  });

  describe('keys and records', () => {
    it('the reconcile key round-trips and refuses other kinds', () => {
      assert.equal(appKey({ kind: 'StatefulSet', namespace: 'ns', name: 'db' }), 'StatefulSet/ns/db');
      assert.deepEqual(parseAppKey('StatefulSet/ns/db'), { kind: 'StatefulSet', namespace: 'ns', name: 'db' });
      assert.deepEqual(parseAppKey('CronJob/ns/db'), { kind: 'CronJob', namespace: 'ns', name: 'db' });
      assert.equal(parseAppKey('CloneSet/ns/db'), undefined);
      assert.equal(parseAppKey('Deployment/ns'), undefined);
    });

    it('the subnet record is <group>_<version>_<Kind>_<ns>_<name>', () => {
      assert.equal(
        applicationRecord({ kind: 'Deployment', namespace: 'default', name: 'nginx' }),
        'apps_v1_Deployment_default_nginx',
      );
      assert.equal(applicationRecord({ kind: 'Job', namespace: 'a', name: 'b' }), 'batch_v1_Job_a_b');
      assert.deepEqual(parseApplicationRecord('batch_v1_Job_a_b'), { kind: 'Job', namespace: 'a', name: 'b' });
      assert.equal(parseApplicationRecord('v1_Pod_a_b'), undefined);
      assert.equal(parseApplicationRecord('apps.kruise.io_v1alpha1_CloneSet_a_b'), undefined);
      assert.equal(parseApplicationRecord('batch_v1_Deployment_a_b'), undefined);
    });
  });
});
