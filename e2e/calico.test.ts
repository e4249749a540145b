// The Calico IPPool reconciler on the real apiserver: the quick-start step "create a Calico IPPool with
// the Spiderpool subnet's CIDR" done for every subnet annotated ipam.spidernet.io/calico-bgp: "true".
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { CustomObjectsApi } from '@kubernetes/client-node';
import winston from 'winston';
import type { SpiderIPPool } from '../api/v2beta1/types.ts';
import { GROUP, VERSION } from '../api/v2beta1/constants.ts';
import { isNotFound } from '../lib/kube.ts';
import { MANAGED_BY, MANAGED_BY_LABEL, type CalicoIPPool } from '../operator/calico/calico-ippool.ts';
import { createCalicoPoolReconciler } from '../operator/calico/reconciler.ts';
import type { RunningOperator } from '../operator/runtime/types.ts';
import { repoRoot } from './cluster/install.ts';
import { kubectlOk } from './cluster/kubectl.ts';
import { testCluster, type TestCluster } from './harness/cluster.ts';
import { runOperator } from './harness/operator.ts';
import { eventually } from './harness/wait.ts';

const CRD = join(repoRoot, 'e2e', 'crds', 'calico-ippools.yaml');
const QUICK_START_POOL = join(repoRoot, 'e2e', 'fixtures', 'calico-quickstart', 'nginx-ippool-v4.yaml');
const OURS = 'spiderpool-10-244-0-0-16';
const SUBNET = 'calico-e2e-subnet';
const SUBNET_POOL = 'spiderpool-172-30-0-0-16';
const FOREIGN = 'spiderpool-ippool';
const quickStartSpec = {
  cidr: '10.244.0.0/16',
  blockSize: 26,
  ipipMode: 'Never',
  vxlanMode: 'Never',
  natOutgoing: false,
  nodeSelector: 'all()',
};

describe('Calico IPPool reconciler', function () {
  this.timeout(120_000);
  let c: TestCluster;
  let custom: CustomObjectsApi;
  let operator: RunningOperator | undefined;
  let poolExisted = false;
  const logs: { level: string; message: string }[] = [];

  const calicoApi = { group: 'crd.projectcalico.org', version: 'v1', plural: 'ippools' };
  const readCalico = (name: string) =>
    custom.getClusterCustomObject({ ...calicoApi, name }).then(
      (p) => p as CalicoIPPool,
      (e: unknown) => {
        if (isNotFound(e)) return undefined;
        throw e;
      },
    );
  const calicoBecomes = (name: string, what: string, want: (p: CalicoIPPool | undefined) => boolean) =>
    eventually(`Calico IPPool ${name} ${what}`, 45_000, async () => {
      const p = await readCalico(name);
      return want(p) ? { pool: p } : undefined;
    });
  const annotate = (kind: string, name: string, ...pairs: string[]) =>
    kubectlOk(c.kubectl, ['annotate', '--overwrite', kind, name, ...pairs]);
  const crdMissingLogs = () =>
    logs.filter((l) => l.message.includes('the Calico IPPool CRD (ippools.crd.projectcalico.org) is not installed'));

  before(async function () {
    this.timeout(300_000);
    c = await testCluster();
    custom = c.kubeConfig.makeApiClient(CustomObjectsApi);
    const crd = await c.kubectl(['get', 'crd', 'ippools.crd.projectcalico.org']);
    assert.notEqual(crd.code, 0, 'the Calico IPPool CRD is not installed when this file starts');
    poolExisted = (await c.kubectl(['get', 'sp', 'nginx-ippool-v4'])).code === 0;
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        logs.push(JSON.parse(chunk.toString()) as { level: string; message: string });
        done();
      },
    });
    const log = winston.createLogger({
      level: 'info',
      format: winston.format.json(),
      transports: [new winston.transports.Stream({ stream: sink })],
    });
    operator = await runOperator(c.kubeConfig, [createCalicoPoolReconciler], { log });
  });

  after(async () => {
    await operator?.stop();
    if (!c) return;
    if (poolExisted)
      await c.kubectl([
        'annotate',
        'sp',
        'nginx-ippool-v4',
        'ipam.spidernet.io/calico-bgp-',
        'ipam.spidernet.io/calico-block-size-',
      ]);
    else await c.kubectl(['delete', 'sp', 'nginx-ippool-v4', '--ignore-not-found', '--wait=false']);
    await c.kubectl(['delete', 'ss', SUBNET, '--ignore-not-found', '--wait=false']);
    await c.kubectl(['delete', 'ippools.crd.projectcalico.org', '--all', '--ignore-not-found']);
    await c.kubectl(['delete', '-f', CRD, '--ignore-not-found']);
  });

  it('without the Calico CRD, an opted-in quick-start pool changes nothing and the absence is logged once', async () => {
    await kubectlOk(c.kubectl, ['apply', '-f', QUICK_START_POOL]);
    await annotate('sp', 'nginx-ippool-v4', 'ipam.spidernet.io/calico-bgp=true');
    await eventually('the missing CRD to be logged', 20_000, async () =>
      crdMissingLogs().length > 0 ? true : undefined,
    );
    // Further changes of the pool within the retry interval do not try again, nor log again.
    await annotate('sp', 'nginx-ippool-v4', 'example.com/touch=1');
    await annotate('sp', 'nginx-ippool-v4', 'example.com/touch=2');
    await new Promise((r) => setTimeout(r, 1_000));
    assert.equal(crdMissingLogs().length, 1);
    assert.deepEqual(
      logs.filter((l) => l.level === 'error'),
      [],
    );
  });

  it('once the CRD is installed, the quick-start Calico IPPool is created, labelled as ours', async () => {
    await kubectlOk(c.kubectl, ['apply', '-f', CRD]);
    await kubectlOk(c.kubectl, [
      'wait',
      '--for=condition=Established',
      '--timeout=30s',
      'crd/ippools.crd.projectcalico.org',
    ]);
    // No pool event follows the CRD's arrival: the reconciler's own retry finds it.
    const { pool } = await calicoBecomes(OURS, 'to exist', (p) => p !== undefined);
    assert.deepEqual(pool?.spec, quickStartSpec);
    assert.equal(pool?.metadata?.labels?.[MANAGED_BY_LABEL], MANAGED_BY);
    assert.equal(crdMissingLogs().length, 1);
    // The operator's Calico cache notices the new CRD on its own retry; the following tests need it.
    await operator!.resync();
  });

  it('puts back fields changed by hand and follows the block-size annotation', async () => {
    await custom.patchClusterCustomObject({
      ...calicoApi,
      name: OURS,
      body: [
        { op: 'replace', path: '/spec/ipipMode', value: 'Always' },
        { op: 'add', path: '/spec/allowedUses', value: ['Workload'] },
      ],
    });
    const fixed = await calicoBecomes(OURS, 'to have ipipMode Never again', (p) => p?.spec?.ipipMode === 'Never');
    assert.deepEqual(fixed.pool?.spec, { ...quickStartSpec, allowedUses: ['Workload'] });
    await annotate('sp', 'nginx-ippool-v4', 'ipam.spidernet.io/calico-block-size=24');
    await calicoBecomes(OURS, 'to have blockSize 24', (p) => p?.spec?.blockSize === 24);
  });

  it('an invalid block size is reported and leaves the Calico pool as it is', async () => {
    await annotate('sp', 'nginx-ippool-v4', 'ipam.spidernet.io/calico-block-size=12');
    await eventually('the invalid block size to be logged', 20_000, async () =>
      logs.some((l) =>
        l.message.includes(
          'SpiderIPPool nginx-ippool-v4: annotation ipam.spidernet.io/calico-block-size "12" is out of range',
        ),
      )
        ? true
        : undefined,
    );
    assert.equal((await readCalico(OURS))?.spec?.blockSize, 24);
    await annotate('sp', 'nginx-ippool-v4', 'ipam.spidernet.io/calico-block-size-');
    await calicoBecomes(OURS, 'to have blockSize 26', (p) => p?.spec?.blockSize === 26);
  });

  it('a Calico pool made by hand for the same CIDR (the quick start) is left alone and ours steps aside', async () => {
    await kubectlOk(c.kubectl, ['apply', '-f', '-'], {
      stdin: JSON.stringify({
        apiVersion: 'crd.projectcalico.org/v1',
        kind: 'IPPool',
        metadata: { name: FOREIGN },
        spec: { ...quickStartSpec, ipipMode: 'CrossSubnet' },
      }),
    });
    await calicoBecomes(OURS, 'to be removed as a duplicate', (p) => p === undefined);
    const foreign = await readCalico(FOREIGN);
    assert.equal(foreign?.spec?.ipipMode, 'CrossSubnet');
    assert.equal(foreign?.metadata?.labels?.[MANAGED_BY_LABEL], undefined);
    await kubectlOk(c.kubectl, ['delete', 'ippools.crd.projectcalico.org', FOREIGN]);
    await calicoBecomes(OURS, 'to be back', (p) => p !== undefined && p.spec?.ipipMode === 'Never');
  });

  it('a SpiderSubnet opts in too; removing the opt-in or the object removes only our pools', async () => {
    await kubectlOk(c.kubectl, ['apply', '-f', '-'], {
      stdin: JSON.stringify({
        apiVersion: `${GROUP}/${VERSION}`,
        kind: 'SpiderSubnet',
        metadata: {
          name: SUBNET,
          annotations: { 'ipam.spidernet.io/calico-bgp': 'true', 'ipam.spidernet.io/calico-block-size': '28' },
        },
        spec: { subnet: '172.30.0.0/16', ips: ['172.30.0.10-172.30.0.200'] },
      }),
    });
    const { pool } = await calicoBecomes(SUBNET_POOL, 'to exist', (p) => p !== undefined);
    assert.deepEqual(pool?.spec, { ...quickStartSpec, cidr: '172.30.0.0/16', blockSize: 28 });

    await annotate('sp', 'nginx-ippool-v4', 'ipam.spidernet.io/calico-bgp-');
    await calicoBecomes(OURS, 'to be deleted after the opt-in is removed', (p) => p === undefined);
    await kubectlOk(c.kubectl, ['delete', 'ss', SUBNET, '--wait=false']);
    await calicoBecomes(SUBNET_POOL, 'to be deleted with its SpiderSubnet', (p) => p === undefined);
    const sp = (await custom.getClusterCustomObject({
      group: GROUP,
      version: VERSION,
      plural: 'spiderippools',
      name: 'nginx-ippool-v4',
    })) as SpiderIPPool;
    assert.equal(sp.spec.subnet, '10.244.0.0/16');
    assert.deepEqual(
      logs.filter((l) => l.level === 'error'),
      [],
    );
  });
});
