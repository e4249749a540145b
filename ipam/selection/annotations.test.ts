import assert from 'node:assert/strict';
import { ANNOTATION } from '../../api/v2beta1/constants.ts';
import { parseNamespaceDefaultPools, parsePodIPAMAnnotations, type PodIPAMAnnotations } from './annotations.ts';
import { SelectionError } from './errors.ts';

const A = ANNOTATION;

const valid: [title: string, annotations: Record<string, string>, expected: PodIPAMAnnotations][] = [
  ['no annotations', {}, {}],
  ['unrelated annotations are ignored', { 'kubectl.kubernetes.io/restartedAt': 'now' }, {}],
  [
    'ippool',
    { [A.ippool]: '{"ipv4":["pool-a","backup-*"],"ipv6":["pool6"]}' },
    { ippool: { ipv4: ['pool-a', 'backup-*'], ipv6: ['pool6'] } },
  ],
  [
    'ippool with one family and null for the other',
    { [A.ippool]: '{"ipv4":["nginx-ippool-v4"],"ipv6":null}' },
    { ippool: { ipv4: ['nginx-ippool-v4'], ipv6: [] } },
  ],
  [
    'member names match case-insensitively, as in Go',
    { [A.ippool]: '{"IPv4":["a"]}' },
    { ippool: { ipv4: ['a'], ipv6: [] } },
  ],
  [
    'ippools with interface names',
    {
      [A.ippools]:
        '[{"interface":"eth0","ipv4":["a"],"ipv6":["b"],"cleangateway":false},{"interface":"net1","ipv4":["c"],"cleanGateway":true}]',
    },
    {
      ippools: [
        { interface: 'eth0', ipv4: ['a'], ipv6: ['b'], cleanGateway: false },
        { interface: 'net1', ipv4: ['c'], ipv6: [], cleanGateway: true },
      ],
    },
  ],
  [
    'ippools without interface names',
    { [A.ippools]: '[{"ipv4":["a"]},{"ipv4":["c"]}]' },
    {
      ippools: [
        { ipv4: ['a'], ipv6: [], cleanGateway: false },
        { ipv4: ['c'], ipv6: [], cleanGateway: false },
      ],
    },
  ],
  [
    'subnet defaults to eth0 and keeps the first subnet',
    { [A.subnet]: '{"ipv4":["subnet-6","other"]}' },
    { subnet: { interface: 'eth0', ipv4: 'subnet-6' } },
  ],
  [
    'subnets',
    { [A.subnets]: '[{"interface":"eth0","ipv4":["s1"],"ipv6":["s2"]},{"interface":"net1","ipv4":["s3"]}]' },
    {
      subnets: [
        { interface: 'eth0', ipv4: 's1', ipv6: 's2' },
        { interface: 'net1', ipv4: 's3' },
      ],
    },
  ],
  [
    'routes',
    { [A.routes]: '[{"dst":"10.0.0.0/16","gw":"192.168.1.1"},{"dst":"fd00::/64","gw":"fd01::1"}]' },
    {
      routes: [
        { dst: '10.0.0.0/16', gw: '192.168.1.1' },
        { dst: 'fd00::/64', gw: 'fd01::1' },
      ],
    },
  ],
  ['default-route-nic', { [A.defaultRouteNic]: 'net1' }, { defaultRouteNic: 'net1' }],
  ['fixed ippool-ip-number', { [A.ippoolIPNumber]: '5' }, { ippoolIPNumber: { flexible: false, count: 5 } }],
  ['flexible ippool-ip-number', { [A.ippoolIPNumber]: '+1' }, { ippoolIPNumber: { flexible: true, count: 1 } }],
  ['ippool-reclaim in Go bool syntax', { [A.ippoolReclaim]: 'F' }, { ippoolReclaim: false }],
];

const invalid: [title: string, key: string, value: string, expected: RegExp][] = [
  ['ippool invalid JSON', A.ippool, '{"ipv4":[pool-a]}', /not valid JSON/],
  ['ippool empty value', A.ippool, '', /not valid JSON/],
  ['ippool as an array', A.ippool, '["pool-a"]', /must be a JSON object/],
  ['ippool ipv4 as a string', A.ippool, '{"ipv4":"pool-a"}', /"ipv4" must be an array of names/],
  ['ippool empty pool name', A.ippool, '{"ipv4":[""]}', /"ipv4" contains an empty name/],
  ['ippools as an object', A.ippools, '{"interface":"eth0"}', /must be a JSON array/],
  ['ippools empty array', A.ippools, '[]', /needs at least one item/],
  ['ippools item not an object', A.ippools, '["a"]', /item 0 must be a JSON object/],
  [
    'ippools interface on some items only',
    A.ippools,
    '[{"interface":"eth0","ipv4":["a"]},{"ipv4":["b"]}]',
    /"interface" is set on some items but not on all/,
  ],
  [
    'ippools duplicate interface',
    A.ippools,
    '[{"interface":"eth0","ipv4":["a"]},{"interface":"eth0","ipv4":["b"]}]',
    /interface eth0 is listed twice/,
  ],
  [
    'ippools interface name too long',
    A.ippools,
    '[{"interface":"averyverylongname0","ipv4":["a"]}]',
    /longer than 15 characters/,
  ],
  [
    'ippools cleangateway as a string',
    A.ippools,
    '[{"interface":"eth0","ipv4":["a"],"cleangateway":"yes"}]',
    /"cleangateway" must be true or false/,
  ],
  ['subnet without any family', A.subnet, '{"interface":"eth0"}', /names no IPv4 or IPv6 subnet/],
  ['subnet as an array', A.subnet, '[{"ipv4":["s"]}]', /must be a JSON object/],
  ['subnets empty array', A.subnets, '[]', /needs at least one item/],
  ['subnets item without interface', A.subnets, '[{"ipv4":["s1"]}]', /item 0 has no "interface"/],
  [
    'subnets item without any family',
    A.subnets,
    '[{"interface":"eth0","ipv4":["s1"]},{"interface":"net1"}]',
    /item 1 names no IPv4 or IPv6 subnet/,
  ],
  [
    'subnets duplicate interface',
    A.subnets,
    '[{"interface":"eth0","ipv4":["s1"]},{"interface":"eth0","ipv4":["s2"]}]',
    /interface eth0 is used by more than one item/,
  ],
  [
    'subnets same subnet for two NICs',
    A.subnets,
    '[{"interface":"eth0","ipv4":["s1"]},{"interface":"net1","ipv4":["s1"]}]',
    /IPv4 subnet s1 is used by more than one item/,
  ],
  ['routes as an object', A.routes, '{"dst":"10.0.0.0/16","gw":"192.168.1.1"}', /must be a JSON array/],
  ['route without gw', A.routes, '[{"dst":"10.0.0.0/16"}]', /route 0 needs "dst" and "gw"/],
  ['route dst not a CIDR', A.routes, '[{"dst":"10.0.0.0","gw":"192.168.1.1"}]', /dst "10.0.0.0" is not a CIDR/],
  ['route dst prefix too long', A.routes, '[{"dst":"10.0.0.0/33","gw":"192.168.1.1"}]', /is not a CIDR/],
  ['route gw not an IP', A.routes, '[{"dst":"10.0.0.0/16","gw":"gateway"}]', /gw "gateway" is not an IP address/],
  ['route families differ', A.routes, '[{"dst":"10.0.0.0/16","gw":"fd00::1"}]', /different IP families/],
  ['default-route-nic empty', A.defaultRouteNic, '', /is empty/],
  ['default-route-nic with a slash', A.defaultRouteNic, 'net/1', /contains '\/' or whitespace/],
  ['ippool-ip-number negative', A.ippoolIPNumber, '-1', /is negative/],
  ['ippool-ip-number flexible negative', A.ippoolIPNumber, '+-1', /is negative/],
  ['ippool-ip-number two plus signs', A.ippoolIPNumber, '++1', /neither "N"/],
  ['ippool-ip-number not an integer', A.ippoolIPNumber, '1.5', /neither "N"/],
  ['ippool-ip-number plus alone', A.ippoolIPNumber, '+', /neither "N"/],
  ['ippool-reclaim not a bool', A.ippoolReclaim, 'yes', /"yes" is not "true" or "false"/],
];

describe('selection/annotations', () => {
  describe('parsePodIPAMAnnotations accepts', () => {
    for (const [title, annotations, expected] of valid) {
      it(title, () => assert.deepEqual(parsePodIPAMAnnotations(annotations), expected));
    }
    it('a pod without annotations', () => assert.deepEqual(parsePodIPAMAnnotations(undefined), {}));
  });

  describe('parsePodIPAMAnnotations refuses with WrongInput naming the annotation', () => {
    for (const [title, key, value, expected] of invalid) {
      it(title, () => {
        assert.throws(
          () => parsePodIPAMAnnotations({ [key]: value }),
          (err: unknown) => {
            assert.ok(err instanceof SelectionError);
            assert.equal(err.reason, 'WrongInput');
            assert.ok(err.message.startsWith(`annotation ${key} is invalid: `), err.message);
            assert.match(err.message, expected);
            return true;
          },
        );
      });
    }
  });

  describe('parseNamespaceDefaultPools', () => {
    const ns = (annotations?: Record<string, string>) => ({
      metadata: { name: 'team-a', ...(annotations ? { annotations } : {}) },
    });

    it('reads both families', () => {
      assert.deepEqual(
        parseNamespaceDefaultPools(
          ns({ [A.namespaceDefaultIPv4]: '["ns-v4-pool1","ns-v4-*"]', [A.namespaceDefaultIPv6]: '["ns-v6-pool1"]' }),
        ),
        {
          ipv4: ['ns-v4-pool1', 'ns-v4-*'],
          ipv6: ['ns-v6-pool1'],
        },
      );
    });

    it('is empty for a namespace without annotations', () => {
      assert.deepEqual(parseNamespaceDefaultPools(ns()), { ipv4: [], ipv6: [] });
    });

    it('names the namespace and the annotation when malformed', () => {
      assert.throws(() => parseNamespaceDefaultPools(ns({ [A.namespaceDefaultIPv4]: 'ns-v4-pool1' })), {
        name: 'SelectionError',
        reason: 'WrongInput',
        message: /^annotation ipam\.spidernet\.io\/default-ipv4-ippool of namespace team-a is invalid: not valid JSON/,
      });
      assert.throws(() => parseNamespaceDefaultPools(ns({ [A.namespaceDefaultIPv6]: '{"ipv6":["a"]}' })), {
        reason: 'WrongInput',
        message: /default-ipv6-ippool of namespace team-a is invalid: the value must be an array of names/,
      });
    });
  });

  it('routes-as-strict-as-stored: a route the SpiderEndpoint could not record is refused as WrongInput', () => {
    for (const route of [
      { dst: '10.0.0.0/08', gw: '10.6.0.1' },
      { dst: 'fd00::/064', gw: 'fd00::1' },
      { dst: 'fe80::%eth0/64', gw: 'fe80::1' },
      { dst: 'fd00::/64', gw: 'fe80::1%eth0' },
    ]) {
      assert.throws(
        () => parsePodIPAMAnnotations({ [A.routes]: JSON.stringify([route]) }),
        (err: unknown) => err instanceof SelectionError && err.reason === 'WrongInput',
        JSON.stringify(route),
      );
    }
  });
});
