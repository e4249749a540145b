import assert from 'node:assert/strict';
import type { SpiderIPPool, SpiderIPPoolSpec } from '../../api/v2beta1/types.ts';
import { explainSelection, selectPools, type SelectionInput } from './index.ts';

const pool = (name: string, spec: Partial<SpiderIPPoolSpec> = {}): SpiderIPPool => ({
  apiVersion: 'spiderpool.spidernet.io/v2beta1',
  kind: 'SpiderIPPool',
  metadata: { name },
  spec: { ipVersion: 4, subnet: '10.6.0.0/16', ...spec },
});

const input = (pools: SpiderIPPool[], wanted: string[]): SelectionInput => ({
  pod: {
    metadata: {
      name: 'web',
      namespace: 'default',
      annotations: { 'ipam.spidernet.io/ippool': JSON.stringify({ ipv4: wanted }) },
    },
    spec: { nodeName: 'worker1', containers: [] },
  },
  namespace: { metadata: { name: 'default' } },
  node: { metadata: { name: 'worker1', labels: { zone: 'a' } } },
  ifName: 'eth0',
  cniDefaults: {},
  pools,
  topController: { kind: 'Pod', name: 'web', namespace: 'default', uid: 'u1', apiVersion: 'v1' },
  enableIPv4: true,
  enableIPv6: true,
  installNamespace: 'spiderpool',
});

describe('explainSelection', () => {
  it('gives every candidate its verdict in the order the rule lists them, and the agent its error', () => {
    const pools = [pool('elsewhere', { nodeName: ['worker2'] }), pool('off', { disable: true })];
    const x = input(pools, ['elsewhere', 'off', 'missing']);
    const explained = explainSelection(x);
    assert.equal(explained.rule, 'ippool');
    assert.deepEqual(explained.nics[0]?.families[0], {
      family: 4,
      candidates: [
        { pool: 'elsewhere', refused: 'nodeName [worker2] does not include node worker1' },
        { pool: 'off', refused: 'disabled' },
        { pool: 'missing', refused: 'does not exist' },
      ],
      tryOrder: [],
    });
    assert.throws(
      () => selectPools(x),
      (err: Error) => 'error' in explained.outcome && err.message === explained.outcome.error.message,
    );
  });

  it('orders the usable pools as the agent tries them: most specific first', () => {
    const pools = [pool('plain'), pool('pinned', { nodeName: ['worker1'] }), pool('off', { disable: true })];
    const explained = explainSelection(input(pools, ['plain', 'pinned', 'off']));
    const ipv4 = explained.nics[0]?.families[0];
    assert.deepEqual(ipv4?.candidates, [{ pool: 'plain' }, { pool: 'pinned' }, { pool: 'off', refused: 'disabled' }]);
    assert.deepEqual(ipv4?.tryOrder, ['pinned', 'plain']);
    assert.deepEqual(explained.outcome, {
      plan: [{ nic: 'eth0', cleanGateway: false, ipv4: ['pinned', 'plain'], ipv6: [] }],
    });
    assert.equal(explained.nics[0]?.families[1]?.absent, 'annotation ipam.spidernet.io/ippool lists no IPv6 pool');
  });

  it('reports a malformed annotation as the agent does, with no candidates', () => {
    const x = input([], []);
    x.pod.metadata!.annotations = { 'ipam.spidernet.io/ippool': '{not json' };
    const explained = explainSelection(x);
    assert.deepEqual(explained.nics, []);
    assert.ok('error' in explained.outcome && explained.outcome.error.reason === 'WrongInput');
  });
});
