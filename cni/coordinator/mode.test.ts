import assert from 'node:assert/strict';
import { CniError } from '../skel/errors.ts';
import { resolveMode } from './mode.ts';

const pod = (cur: string, vethExists: boolean, upLinks: number) => ({ first: 'eth0', cur, vethExists, upLinks });
const refused = (fn: () => unknown, msg: RegExp) =>
  assert.throws(fn, (e: unknown) => e instanceof CniError && msg.test(e.message));

describe('coordinator mode resolution', () => {
  it('auto: the first NIC is underlay, first invoke, table 101', () => {
    assert.deepEqual(resolveMode('auto', pod('eth0', false, 1)), { mode: 'underlay', firstInvoke: true, table: 101 });
  });

  it('auto: a later NIC of an underlay pod is underlay, 98 + up links (eth0 and veth0 counted)', () => {
    assert.deepEqual(resolveMode('auto', pod('net1', true, 3)), { mode: 'underlay', firstInvoke: false, table: 101 });
    assert.deepEqual(resolveMode('auto', pod('net2', true, 4)), { mode: 'underlay', firstInvoke: false, table: 102 });
  });

  it('auto: a later NIC without veth0 is overlay; first invoke with eth0 + it, then 99 + up links', () => {
    assert.deepEqual(resolveMode('auto', pod('net1', false, 2)), { mode: 'overlay', firstInvoke: true, table: 101 });
    assert.deepEqual(resolveMode('auto', pod('net2', false, 3)), { mode: 'overlay', firstInvoke: false, table: 102 });
  });

  it('refuses inconsistent explicit modes', () => {
    refused(() => resolveMode('underlay', pod('net1', false, 2)), /must also run .* on its first interface eth0/);
    refused(() => resolveMode('overlay', pod('eth0', false, 1)), /cannot run on the first interface eth0/);
    refused(() => resolveMode('overlay', pod('net1', true, 3)), /already has veth0/);
  });
});
