import assert from 'node:assert/strict';
import { leaseState } from './leader.ts';

describe('leaseState', () => {
  const now = Date.parse('2026-01-01T00:00:30Z');
  const lease = (holderIdentity: string | undefined, renewTime: string, leaseDurationSeconds = 15) => ({
    spec: { holderIdentity, renewTime: renewTime as unknown as Date, leaseDurationSeconds },
  });

  it('is free without a holder, mine when this identity holds it', () => {
    assert.equal(leaseState(lease(undefined, '2026-01-01T00:00:29.000000Z'), 'me', now), 'free');
    assert.equal(leaseState(lease('', '2026-01-01T00:00:29.000000Z'), 'me', now), 'free');
    assert.equal(leaseState(lease('me', '2025-01-01T00:00:00.000000Z'), 'me', now), 'mine');
  });

  it("expires after the holder's leaseDurationSeconds, not the candidate's", () => {
    assert.equal(leaseState(lease('other', '2026-01-01T00:00:16.000000Z', 15), 'me', now), 'held');
    assert.equal(leaseState(lease('other', '2026-01-01T00:00:14.000000Z', 15), 'me', now), 'free');
    assert.equal(leaseState(lease('other', '2026-01-01T00:00:14.000000Z', 60), 'me', now), 'held');
  });
});
