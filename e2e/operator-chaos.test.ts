// Chaos against the operator on a control plane of its own: kube-apiserver and, separately, etcd are
// restarted while pools are created, edited, filled and deleted; every status must come right afterwards
// without restarting the operator. Then two real controller processes share the Lease and the leader is
// killed with SIGKILL: the other must take over within one lease period and carry on reconciling.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CoordinationV1Api, CoreV1Api, CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import type { SpiderIPPool } from '../api/v2beta1/types.ts';
import { FINALIZER, GROUP, VERSION } from '../api/v2beta1/constants.ts';
import { isNotFound, loadKubeConfig } from '../lib/kube.ts';
import { createIPPoolReconciler } from '../operator/ippool/reconciler.ts';
import type { RunningOperator } from '../operator/runtime/types.ts';
import {
  freePort,
  restartComponent,
  startControlPlane,
  type Component,
  type ControlPlane,
} from './cluster/control-plane.ts';
import { installCrds, repoRoot } from './cluster/install.ts';
import { kubectlFor, kubectlOk, type Kubectl } from './cluster/kubectl.ts';
import { runOperator } from './harness/operator.ts';
import { table } from './harness/table.ts';
import { eventually } from './harness/wait.ts';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const pools = { group: GROUP, version: VERSION, plural: 'spiderippools' };

/** Pool i has ips 10.(90+i/250).(i%250).1-…n: its expected total is n, read back from the spec. */
const rangeOf = (i: number, n: number) =>
  `10.${90 + Math.floor(i / 250)}.${i % 250}.1-10.${90 + Math.floor(i / 250)}.${i % 250}.${n}`;
const expectedTotal = (pool: SpiderIPPool) => Number(/\.(\d+)$/.exec(pool.spec.ips?.[0] ?? '')?.[1] ?? 0);
const expectedAllocated = (pool: SpiderIPPool) =>
  pool.status?.allocatedIPs ? Object.keys(JSON.parse(pool.status.allocatedIPs) as object).length : 0;

interface Switch {
  off: boolean;
}

/** Retries a write through an outage; a 409 means the pool changed meanwhile and the write is recomputed. */
async function persist(what: () => Promise<unknown>, until: Switch): Promise<boolean> {
  while (!until.off) {
    try {
      await what();
      return true;
    } catch (err) {
      if (isNotFound(err)) return false;
      await sleep(200);
    }
  }
  return false;
}

/** Creates, edits, fills and deletes pools until switched off, retrying through failures. */
async function churn(
  kc: KubeConfig,
  prefix: string,
  count: number,
  until: Switch,
): Promise<{ live: Set<string>; deleted: Set<string>; writes: number }> {
  const custom = kc.makeApiClient(CustomObjectsApi);
  const live = new Set<string>();
  const deleted = new Set<string>();
  let writes = 0;
  const name = (i: number) => `${prefix}-${i}`;
  const read = async (i: number) => (await custom.getClusterCustomObject({ ...pools, name: name(i) })) as SpiderIPPool;
  const worker = async (w: number) => {
    for (let step = 0; !until.off; step++) {
      const i = (w * 7 + step * 13) % count;
      const n = 2 + ((step * 31 + w) % 200);
      const action = live.has(name(i)) ? step % 5 : 0;
      const ok = await persist(async () => {
        if (action === 0) {
          await custom
            .createClusterCustomObject({
              ...pools,
              body: {
                apiVersion: `${GROUP}/${VERSION}`,
                kind: 'SpiderIPPool',
                metadata: { name: name(i) },
                spec: { ipVersion: 4, subnet: '10.0.0.0/8', ips: [rangeOf(i, n)] },
              },
            })
            .catch((err: unknown) => {
              if ((err as { code?: number }).code !== 409) throw err;
            });
          live.add(name(i));
          deleted.delete(name(i));
        } else if (action === 1 || action === 2) {
          const pool = await read(i);
          await custom.replaceClusterCustomObject({
            ...pools,
            name: name(i),
            body: { ...pool, spec: { ...pool.spec, ips: [rangeOf(i, n)] } },
          });
        } else if (action === 3) {
          // An agent's allocation write: records with the resourceVersion the pool was read at.
          const pool = await read(i);
          const records = Object.fromEntries(
            Array.from({ length: step % 4 }, (_, k) => [
              `10.${90 + Math.floor(i / 250)}.${i % 250}.${k + 1}`,
              { pod: `ns/p${k}`, podUid: `u${k}` },
            ]),
          );
          await custom.replaceClusterCustomObjectStatus({
            ...pools,
            name: name(i),
            body: {
              ...pool,
              status: {
                ...pool.status,
                allocatedIPs: Object.keys(records).length ? JSON.stringify(records) : undefined,
              },
            },
          });
        } else {
          const pool = await read(i);
          if (expectedAllocated(pool) > 0) return;
          await custom.deleteClusterCustomObject({ ...pools, name: name(i) });
          live.delete(name(i));
          deleted.add(name(i));
        }
      }, until);
      if (ok) writes++;
      await sleep(20);
    }
  };
  await Promise.all([0, 1, 2, 3].map(worker));
  return { live, deleted, writes };
}

/** Every pool's counters, label and finalizer right, and every deleted pool gone. */
async function converged(kc: KubeConfig, prefix: string, deleted: Set<string>, timeoutMs: number): Promise<number> {
  const custom = kc.makeApiClient(CustomObjectsApi);
  return eventually('every pool status to match its spec and records', timeoutMs, async () => {
    const items = (
      (await custom.listClusterCustomObject(pools).catch(() => ({ items: [] }))) as { items: SpiderIPPool[] }
    ).items.filter((p) => p.metadata.name.startsWith(`${prefix}-`));
    const wrong = items.filter(
      (p) =>
        p.status?.totalIPCount !== expectedTotal(p) ||
        p.status?.allocatedIPCount !== expectedAllocated(p) ||
        p.metadata.labels?.['ipam.spidernet.io/ippool-cidr'] !== '10-0-0-0-8' ||
        !p.metadata.finalizers?.includes(FINALIZER),
    );
    const lingering = items.filter((p) => deleted.has(p.metadata.name) && expectedAllocated(p) === 0);
    return items.length > 0 && wrong.length === 0 && lingering.length === 0 ? items.length : undefined;
  });
}

describe('operator chaos', function () {
  this.timeout(600_000);
  let cp: ControlPlane;
  let kubectl: Kubectl;
  let kc: KubeConfig;

  before(async function () {
    this.timeout(300_000);
    cp = await startControlPlane({ controllers: false });
    kubectl = kubectlFor(cp.binDir, cp.kubeconfig);
    await installCrds(kubectl);
    kc = loadKubeConfig(cp.kubeconfig);
  });

  after(async () => {
    await cp?.stop();
  });

  for (const component of ['kube-apiserver', 'etcd'] as Component[]) {
    it(`restarting ${component} while pools change leaves every status right, without restarting the operator`, async () => {
      const prefix = `chaos-${component === 'etcd' ? 'etcd' : 'api'}`;
      const operator: RunningOperator = await runOperator(kc, [createIPPoolReconciler]);
      try {
        const until = { off: false };
        const churning = churn(kc, prefix, 40, until);
        await sleep(6_000);
        const restartStarted = Date.now();
        await restartComponent(cp, component, { downMs: 3_000 });
        const restartMs = Date.now() - restartStarted;
        await sleep(8_000);
        until.off = true;
        const { deleted, writes } = await churning;
        const settleStarted = Date.now();
        const count = await converged(kc, prefix, deleted, 90_000);
        console.log(
          `      ${component} down+restart ${restartMs} ms; ${writes} writes; ${count} pools correct ${Date.now() - settleStarted} ms after the churn ended`,
        );
        await eventually('the operator to lead again', 30_000, async () => (operator.isLeader() ? true : undefined));
      } finally {
        await operator.stop();
      }
    });
  }

  it('hands over to the second controller process within one lease period when the leader is killed', async () => {
    const LEASE_S = 6;
    const core = kc.makeApiClient(CoreV1Api);
    const leases = kc.makeApiClient(CoordinationV1Api);
    const custom = kc.makeApiClient(CustomObjectsApi);
    await core.createNamespace({ body: { metadata: { name: 'spiderpool' } } });
    const spawnController = async (identity: string) => {
      const port = await freePort();
      const fd = openSync(join(cp.dir, 'logs', `${identity}.log`), 'a');
      const proc = spawn(process.execPath, ['--import', 'tsx', join(repoRoot, 'operator/main.ts')], {
        cwd: repoRoot,
        stdio: ['ignore', fd, fd],
        env: {
          ...process.env,
          KUBECONFIG: cp.kubeconfig,
          SPIDERPOOL_NAMESPACE: 'spiderpool',
          OPERATOR_METRICS_PORT: String(port),
          SPIDERPOOL_POD_NAME: identity,
          SPIDERPOOL_LEADER_DURATION: String(LEASE_S),
          SPIDERPOOL_LEADER_RENEW_DEADLINE: '4',
          SPIDERPOOL_LEADER_RETRY_PERIOD: '1',
          LOG_LEVEL: 'info',
        },
      });
      closeSync(fd);
      const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
      return { proc, port, identity, exited };
    };
    const get = async (port: number, path: string) => {
      const res = await fetch(`http://127.0.0.1:${port}${path}`, { signal: AbortSignal.timeout(2000) });
      return { status: res.status, text: await res.text() };
    };
    const holder = async () =>
      (
        await leases
          .readNamespacedLease({ name: 'spiderpool-controller', namespace: 'spiderpool' })
          .catch(() => undefined)
      )?.spec;
    const procs: ChildProcess[] = [];
    try {
      const a = await spawnController('replica-a');
      procs.push(a.proc);
      await eventually('replica-a to lead', 60_000, async () =>
        (await holder())?.holderIdentity === 'replica-a' ? true : undefined,
      );
      const b = await spawnController('replica-b');
      procs.push(b.proc);
      await eventually('replica-b caches to sync', 60_000, async () =>
        (await get(b.port, '/readyz').catch(() => undefined))?.status === 200 ? true : undefined,
      );
      assert.match((await get(a.port, '/metrics')).text, /^spiderpool_controller_leader 1$/m);
      assert.match((await get(b.port, '/metrics')).text, /^spiderpool_controller_leader 0$/m);

      const before = await holder();
      a.proc.kill('SIGKILL');
      const killedAt = Date.now();
      await a.exited;
      const after = await eventually('replica-b to take the lease', LEASE_S * 3000, async () => {
        const spec = await holder();
        return spec?.holderIdentity === 'replica-b' ? spec : undefined;
      });
      const acquiredAt = Date.parse(String(after.acquireTime));
      const handOverMs = acquiredAt - killedAt;
      const sinceLastRenewMs = killedAt - Date.parse(String(before?.renewTime));
      console.log(
        `      hand-over ${handOverMs} ms after SIGKILL (lease ${LEASE_S} s; the old leader had renewed ${sinceLastRenewMs} ms before the kill)`,
      );
      // The lease is the old leader's until its last renewTime plus the lease duration, and the kill comes
      // after that renewal: so the bound is one lease period, plus the few ms of timer and request latency
      // when the kill falls right after a renewal.
      assert.ok(handOverMs <= LEASE_S * 1000 + 100, `hand-over took ${handOverMs} ms, more than one lease period`);
      assert.equal(after.leaseTransitions, (before?.leaseTransitions ?? 0) + 1);

      await custom.createClusterCustomObject({
        ...pools,
        body: {
          apiVersion: `${GROUP}/${VERSION}`,
          kind: 'SpiderIPPool',
          metadata: { name: 'after-handover' },
          spec: { ipVersion: 4, subnet: '10.200.0.0/24', ips: ['10.200.0.10-10.200.0.19'] },
        },
      });
      await eventually('the new leader to reconcile a new pool', 20_000, async () => {
        const pool = (await custom.getClusterCustomObject({ ...pools, name: 'after-handover' })) as SpiderIPPool;
        return pool.status?.totalIPCount === 10 ? true : undefined;
      });

      // The product's scrape: every pool's gauges on the new leader equal `kubectl get sp`.
      const { header, rows } = table(
        await kubectlOk(kubectl, ['--cache-dir', join(cp.dir, 'kubectl-cache'), 'get', 'sp']),
      );
      const metrics = (await get(b.port, '/metrics')).text;
      assert.ok(rows.length > 0);
      for (const row of rows) {
        const value = (metric: string) =>
          Number(new RegExp(`^${metric}\\{SpiderIPPool="${row[0]}"\\} (\\S+)$`, 'm').exec(metrics)?.[1]);
        assert.equal(
          value('spiderpool_debug_ippool_total_ip_counts'),
          Number(row[header.indexOf('TOTAL-IP-COUNT')]),
          `total of ${row[0]}`,
        );
        assert.equal(
          value('spiderpool_debug_ippool_allocated_ip_counts'),
          Number(row[header.indexOf('ALLOCATED-IP-COUNT')]),
          `allocated of ${row[0]}`,
        );
      }

      b.proc.kill('SIGTERM');
      assert.equal(await b.exited, 0, 'SIGTERM ends the controller cleanly');
      assert.equal((await holder())?.holderIdentity, '', 'the lease is released on shutdown');
    } finally {
      for (const p of procs) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
      const logs = ['replica-a', 'replica-b'].map((r) => join(cp.dir, 'logs', `${r}.log`));
      for (const file of logs) {
        const text = (() => {
          try {
            return readFileSync(file, 'utf8');
          } catch {
            return '';
          }
        })();
        if (/"level":"error"/.test(text))
          console.log(
            `      errors in ${file}:\n${text
              .split('\n')
              .filter((l) => l.includes('"level":"error"'))
              .slice(0, 5)
              .join('\n')}`,
          );
      }
    }
  });
});
