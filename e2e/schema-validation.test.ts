// Objects that break the structural schemas are refused by the real apiserver with the field path in the
// message, and nothing is stored.
import assert from 'node:assert/strict';
import { GROUP, VERSION } from '../api/v2beta1/constants.ts';
import { testCluster, type TestCluster } from './harness/cluster.ts';

// `status` of a kind with a status subresource is ignored on create, so such cases write it through /status.
interface Case {
  title: string;
  kind: string;
  namespaced?: boolean;
  spec?: unknown;
  status?: unknown;
  statusWrite?: { plural: string };
  expect: RegExp;
}

// The apiserver names list items without an index in 1.20 (`spec.routes.gw`) and with one in later versions.
const item = '(\\[\\d+\\])?';

const cases: Case[] = [
  {
    title: 'SpiderIPPool ipVersion outside the enum',
    kind: 'SpiderIPPool',
    spec: { subnet: '10.0.0.0/24', ipVersion: 5 },
    expect: /spec\.ipVersion: Unsupported value: 5/,
  },
  {
    title: 'SpiderIPPool ipVersion as a string',
    kind: 'SpiderIPPool',
    spec: { subnet: '10.0.0.0/24', ipVersion: 'v4' },
    expect: /spec\.ipVersion.*must be of type integer/,
  },
  {
    title: 'SpiderIPPool without subnet',
    kind: 'SpiderIPPool',
    spec: { ips: ['10.0.0.1'] },
    expect: /spec\.subnet: Required value/,
  },
  {
    title: 'SpiderIPPool ips as a string',
    kind: 'SpiderIPPool',
    spec: { subnet: '10.0.0.0/24', ips: '10.0.0.1-10.0.0.9' },
    expect: /spec\.ips.*must be of type array/,
  },
  {
    title: 'SpiderIPPool default as a string',
    kind: 'SpiderIPPool',
    spec: { subnet: '10.0.0.0/24', default: 'yes' },
    expect: /spec\.default.*must be of type boolean/,
  },
  {
    title: 'SpiderIPPool route without gw',
    kind: 'SpiderIPPool',
    spec: { subnet: '10.0.0.0/24', routes: [{ dst: '10.1.0.0/16' }] },
    expect: new RegExp(`spec\\.routes${item}\\.gw: Required value`),
  },
  {
    title: 'SpiderIPPool selector with an unknown operator',
    kind: 'SpiderIPPool',
    spec: { subnet: '10.0.0.0/24', nodeAffinity: { matchExpressions: [{ key: 'a', operator: 'Like' }] } },
    expect: new RegExp(`spec\\.nodeAffinity\\.matchExpressions${item}\\.operator: Unsupported value: "Like"`),
  },
  {
    title: 'SpiderIPPool negative allocatedIPCount',
    kind: 'SpiderIPPool',
    spec: { subnet: '10.0.0.0/24' },
    status: { allocatedIPCount: -1 },
    statusWrite: { plural: 'spiderippools' },
    expect: /status\.allocatedIPCount.*greater than or equal to 0/,
  },
  {
    title: 'SpiderSubnet excludeIPs as an object',
    kind: 'SpiderSubnet',
    spec: { subnet: '10.0.0.0/24', excludeIPs: { a: 1 } },
    expect: /spec\.excludeIPs.*must be of type array/,
  },
  {
    title: 'SpiderReservedIP ipVersion 5',
    kind: 'SpiderReservedIP',
    spec: { ipVersion: 5, ips: ['10.0.0.1'] },
    expect: /spec\.ipVersion: Unsupported value: 5/,
  },
  {
    title: 'SpiderEndpoint NIC without interface',
    kind: 'SpiderEndpoint',
    namespaced: true,
    status: {
      current: { uid: 'u', node: 'n', ips: [{ ipv4: '10.0.0.1/24' }] },
      ownerControllerType: 'Pod',
      ownerControllerName: 'p',
    },
    expect: new RegExp(`status\\.current\\.ips${item}\\.interface: Required value`),
  },
  {
    title: 'SpiderEndpoint vlan above 4094',
    kind: 'SpiderEndpoint',
    namespaced: true,
    status: {
      current: { uid: 'u', node: 'n', ips: [{ interface: 'eth0', vlan: 5000 }] },
      ownerControllerType: 'Pod',
      ownerControllerName: 'p',
    },
    expect: new RegExp(`status\\.current\\.ips${item}\\.vlan.*less than or equal to 4094`),
  },
  {
    title: 'SpiderMultusConfig unknown cniType',
    kind: 'SpiderMultusConfig',
    namespaced: true,
    spec: { cniType: 'flannel' },
    expect: /spec\.cniType: Unsupported value: "flannel"/,
  },
  {
    title: 'SpiderMultusConfig macvlan without master',
    kind: 'SpiderMultusConfig',
    namespaced: true,
    spec: { cniType: 'macvlan', macvlan: { vlanID: 10 } },
    expect: /spec\.macvlan\.master: Required value/,
  },
  {
    title: 'SpiderMultusConfig vlanID above 4094',
    kind: 'SpiderMultusConfig',
    namespaced: true,
    spec: { cniType: 'macvlan', macvlan: { master: ['eth0'], vlanID: 5000 } },
    expect: /spec\.macvlan\.vlanID.*less than or equal to 4094/,
  },
  {
    title: 'SpiderMultusConfig bond mode 9',
    kind: 'SpiderMultusConfig',
    namespaced: true,
    spec: { cniType: 'ipvlan', ipvlan: { master: ['eth0', 'eth1'], bond: { name: 'bond0', mode: 9 } } },
    expect: /spec\.ipvlan\.bond\.mode.*less than or equal to 6/,
  },
  {
    title: 'SpiderMultusConfig sriov without resourceName',
    kind: 'SpiderMultusConfig',
    namespaced: true,
    spec: { cniType: 'sriov', sriov: { vlanID: 1 } },
    expect: /spec\.sriov\.resourceName: Required value/,
  },
  {
    title: 'SpiderMultusConfig coordinator mode outside the enum',
    kind: 'SpiderMultusConfig',
    namespaced: true,
    spec: { cniType: 'macvlan', macvlan: { master: ['eth0'] }, coordinator: { mode: 'hybrid' } },
    expect: /spec\.coordinator\.mode: Unsupported value: "hybrid"/,
  },
  {
    title: 'SpiderMultusConfig ippools.ipv4 as a string',
    kind: 'SpiderMultusConfig',
    namespaced: true,
    spec: { cniType: 'macvlan', macvlan: { master: ['eth0'], ippools: { ipv4: '10-6-v4' } } },
    expect: /spec\.macvlan\.ippools\.ipv4.*must be of type array/,
  },
  {
    title: 'SpiderCoordinator unknown podCIDRType',
    kind: 'SpiderCoordinator',
    spec: { podCIDRType: 'weave' },
    expect: /spec\.podCIDRType: Unsupported value: "weave"/,
  },
  {
    title: 'SpiderCoordinator hostRuleTable as a string',
    kind: 'SpiderCoordinator',
    spec: { podCIDRType: 'cluster', hostRuleTable: 'main' },
    expect: /spec\.hostRuleTable.*must be of type integer/,
  },
  {
    title: 'SpiderCoordinator unknown phase',
    kind: 'SpiderCoordinator',
    spec: { podCIDRType: 'cluster' },
    status: { phase: 'Ready' },
    statusWrite: { plural: 'spidercoordinators' },
    expect: /status\.phase: Unsupported value: "Ready"/,
  },
];

describe('CRD schemas refuse malformed objects with a field path', function () {
  this.timeout(120_000);
  let c: TestCluster;
  before(async () => {
    c = await testCluster();
  });

  cases.forEach((tc, i) => {
    it(tc.title, async () => {
      const name = `schema-case-${i}`;
      const object = {
        apiVersion: `${GROUP}/${VERSION}`,
        kind: tc.kind,
        metadata: { name, ...(tc.namespaced ? { namespace: 'default' } : {}) },
        ...(tc.spec === undefined ? {} : { spec: tc.spec }),
        ...(tc.status === undefined ? {} : { status: tc.status }),
      };
      // Server-side validation is what is tested here; kubectl's own client-side check is switched off.
      if (tc.statusWrite) {
        const { status, ...withoutStatus } = object;
        const created = JSON.parse(
          (await c.kubectl(['create', '-o', 'json', '-f', '-'], { stdin: JSON.stringify(withoutStatus) })).stdout,
        );
        const path = `/apis/${GROUP}/${VERSION}/${tc.statusWrite.plural}/${name}/status`;
        const r = await c.kubectl(['replace', '--raw', path, '-f', '-'], {
          stdin: JSON.stringify({ ...created, status }),
        });
        try {
          assert.notEqual(r.code, 0, `expected a refusal, got: ${r.stdout}`);
          assert.match(r.stderr, tc.expect);
          const stored = JSON.parse((await c.kubectl(['get', tc.kind.toLowerCase(), name, '-o', 'json'])).stdout);
          assert.equal(stored.status, undefined, 'a refused status must not be stored');
        } finally {
          await c.kubectl(['delete', tc.kind.toLowerCase(), name]);
        }
        return;
      }
      const r = await c.kubectl(['create', '--validate=false', '-f', '-'], { stdin: JSON.stringify(object) });
      assert.notEqual(r.code, 0, `expected a refusal, got: ${r.stdout}`);
      assert.match(r.stderr, /is invalid/);
      assert.match(r.stderr, tc.expect);
      const left = await c.kubectl(['get', tc.kind.toLowerCase(), name, ...(tc.namespaced ? ['-n', 'default'] : [])]);
      assert.notEqual(left.code, 0, 'a refused object must not be stored');
      assert.match(left.stderr, /NotFound/);
    });
  });
});
