import assert from 'node:assert/strict';
import type { CoordinatorConfig } from '../../lib/agent-api.ts';
import { CniError } from '../skel/errors.ts';
import { DEFAULTS, mergeConfig, normaliseCidr, parseMode, parseNadCoordinator } from './config.ts';

const cluster: CoordinatorConfig = {
  mode: 'underlay',
  overlayPodCIDR: ['10.233.64.0/18'],
  serviceCIDR: ['10.233.0.0/18'],
  hijackCIDR: ['169.254.0.0/16'],
  policyRoutes: [{ dst: '172.16.0.0/16', gw: '10.6.0.1' }],
  podMACPrefix: '0a:1b',
  tunePodRoutes: false,
  podDefaultRouteNIC: 'net1',
  vethLinkAddress: '169.254.100.1',
  vethMTU: 9000,
  hostRuleTable: 600,
  podRPFilter: 2,
  txQueueLen: 1000,
  detectIPConflict: true,
  detectGateway: true,
};

const invalid = (fn: () => unknown, msg: RegExp) =>
  assert.throws(fn, (e: unknown) => e instanceof CniError && e.code === 7 && msg.test(e.message));

describe('coordinator config merge', () => {
  it('takes every value from the SpiderCoordinator when the NAD sets none', () => {
    const c = mergeConfig(parseNadCoordinator({ type: 'coordinator' }), cluster);
    assert.deepEqual(c, {
      mode: 'underlay',
      overlayPodCIDR: ['10.233.64.0/18'],
      serviceCIDR: ['10.233.0.0/18'],
      hijackCIDR: ['169.254.0.0/16'],
      policyRoutes: [{ dst: '172.16.0.0/16', gw: '10.6.0.1', family: 4 }],
      podMACPrefix: '0a:1b',
      podDefaultCniNic: 'eth0',
      podDefaultRouteNic: 'net1',
      tunePodRoutes: false,
      hostRuleTable: 600,
      podRPFilter: 2,
      txQueueLen: 1000,
      vethLinkAddress: '169.254.100.1',
      vethMTU: 9000,
      detectIPConflict: true,
      detectGateway: true,
    });
  });

  it('lets NAD values win, including false and 0', () => {
    const nad = parseNadCoordinator({
      type: 'coordinator',
      mode: 'auto',
      tunePodRoutes: true,
      podRPFilter: 0,
      serviceCIDR: ['10.96.0.0/12'],
      hostRuleTable: 700,
      podDefaultRouteNic: 'eth0',
      vethMTU: 1400,
      txQueueLen: 0,
      policyRoutes: [{ dst: 'fd00::5', gw: 'fd00::1' }],
      detectGateway: false,
    });
    const c = mergeConfig(nad, cluster);
    assert.equal(c.detectGateway, false);
    assert.equal(c.detectIPConflict, true, 'an absent NAD switch takes the cluster one');
    assert.equal(c.mode, 'auto');
    assert.equal(c.tunePodRoutes, true);
    assert.equal(c.podRPFilter, 0);
    assert.equal(c.txQueueLen, 0);
    assert.deepEqual(c.serviceCIDR, ['10.96.0.0/12']);
    assert.deepEqual(c.overlayPodCIDR, ['10.233.64.0/18'], 'an absent NAD list takes the cluster one');
    assert.equal(c.hostRuleTable, 700);
    assert.equal(c.podDefaultRouteNic, 'eth0');
    assert.equal(c.vethMTU, 1400);
    assert.deepEqual(c.policyRoutes, [{ dst: 'fd00::5/128', gw: 'fd00::1', family: 6 }]);
  });

  it('skips conflict detection for a live-migration target even when the NAD asks for it', () => {
    const nad = parseNadCoordinator({ type: 'coordinator', detectIPConflict: true, detectGateway: true });
    const c = mergeConfig(nad, { ...cluster, migrationTarget: true });
    assert.equal(c.detectIPConflict, false, 'the source pod still answers for the address the target takes over');
    assert.equal(c.detectGateway, true);
    assert.equal(mergeConfig(nad, cluster).detectIPConflict, true);
  });

  it('falls back to the CRD defaults without a SpiderCoordinator, and an empty NAD list counts as absent', () => {
    const c = mergeConfig(parseNadCoordinator({ type: 'coordinator', hijackCIDR: [], vethMTU: 0 }), undefined);
    assert.equal(c.mode, 'auto');
    assert.equal(c.hostRuleTable, DEFAULTS.hostRuleTable);
    assert.equal(c.vethMTU, 1500);
    assert.equal(c.tunePodRoutes, true);
    assert.equal(c.podRPFilter, 0);
    assert.deepEqual(c.hijackCIDR, []);
    assert.equal(mergeConfig(parseNadCoordinator({ hijackCIDR: [] }), cluster).hijackCIDR[0], '169.254.0.0/16');
  });

  it('accepts both spellings of the off mode, from the NAD and from the cluster', () => {
    assert.equal(parseMode('disabled'), 'disable');
    assert.equal(parseMode('disable'), 'disable');
    assert.equal(mergeConfig({}, { ...cluster, mode: 'disabled' }).mode, 'disable');
    invalid(() => parseMode('bridge'), /unknown mode "bridge"/);
  });

  it('normalises CIDRs and refuses bad values naming the field', () => {
    assert.equal(normaliseCidr('10.6.1.7/16', 'f'), '10.6.0.0/16');
    assert.equal(normaliseCidr('10.6.1.7', 'f'), '10.6.1.7/32');
    assert.equal(normaliseCidr('fd00:0:0::1:2/64', 'f'), 'fd00::/64');
    invalid(() => mergeConfig(parseNadCoordinator({ serviceCIDR: ['10.96.0.0/33'] }), undefined), /"serviceCIDR"/);
    invalid(
      () => mergeConfig(parseNadCoordinator({ policyRoutes: [{ dst: '10.0.0.0/8', gw: 'fd00::1' }] }), undefined),
      /policyRoutes\[0\]\.gw.*IPv4/,
    );
    invalid(
      () => mergeConfig(parseNadCoordinator({ podRPFilter: 3 }), undefined),
      /"podRPFilter" must be -1, 0, 1 or 2/,
    );
    invalid(() => mergeConfig(parseNadCoordinator({ podMACPrefix: '01:02' }), undefined), /"podMACPrefix"/);
    invalid(
      () => mergeConfig(parseNadCoordinator({ podMACPrefix: '03:00' }), undefined),
      /"podMACPrefix": "03:00" is not a two-byte unicast/,
    );
    invalid(() => parseNadCoordinator({ detectIPConflict: 'yes' }), /"detectIPConflict" must be a boolean, got/);
    invalid(() => parseNadCoordinator({ tunePodRoutes: 'yes' }), /"tunePodRoutes" must be a boolean/);
    invalid(() => parseNadCoordinator({ hijackCIDR: '10.0.0.0/8' }), /"hijackCIDR" must be a list of strings/);
  });
});
