import assert from 'node:assert/strict';
import { Conflicts } from './conflicts.ts';

describe('agent: addresses set aside after a conflict', () => {
  it('holds an address, in its canonical form and its family only, until the hold expires', () => {
    let now = 1_000;
    const c = new Conflicts(60_000, () => now);
    c.hold('10.6.0.5', 'aa:bb:cc:dd:ee:ff');
    c.hold('fd00:0:0::0005', 'aa:bb:cc:dd:ee:ff');
    assert.deepEqual(c.set(4).toRanges(), ['10.6.0.5']);
    assert.deepEqual(c.set(6).toRanges(), ['fd00::5']);
    now += 60_000;
    assert.ok(c.set(4).isEmpty());
    assert.ok(c.set(6).isEmpty());
  });

  it('a second report of the same address extends its hold', () => {
    let now = 0;
    const c = new Conflicts(10, () => now);
    c.hold('10.6.0.5', 'aa:bb:cc:dd:ee:ff');
    now = 8;
    c.hold('10.6.0.5', '11:22:33:44:55:66');
    now = 15;
    assert.deepEqual(c.set(4).toRanges(), ['10.6.0.5']);
  });

  it('refuses what is not an address', () => {
    assert.throws(() => new Conflicts().hold('10.6.0.300', 'aa:bb:cc:dd:ee:ff'));
  });
});
