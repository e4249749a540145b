import assert from 'node:assert/strict';
import {
  addressEventMessage,
  addressEventsMessage,
  parseAddressEvent,
  parseAddressEvents,
  type AddressEvent,
} from './address-events.ts';

describe('address event messages', () => {
  it('read back what they were written from', () => {
    const cases: AddressEvent[] = [
      { kind: 'allocated', ip: '10.6.0.5', pod: 'ns/web-0', podUid: '5f0c-1', nic: 'net1' },
      { kind: 'released', ip: 'fd00::5', pod: 'ns/web-0', podUid: '5f0c-1' },
    ];
    for (const e of cases) assert.deepEqual(parseAddressEvent(addressEventMessage(e)), e);
    assert.equal(addressEventMessage(cases[0]!), 'IP 10.6.0.5 allocated to pod ns/web-0 uid 5f0c-1 nic net1');
    assert.deepEqual(parseAddressEvents(addressEventsMessage(cases)), cases);
  });

  it('ignore messages written by anything else', () => {
    for (const m of [undefined, '', 'IP 10.6.0.5 was given away', 'IP 10.6.0.5 allocated to pod ns/a'])
      assert.equal(parseAddressEvent(m), undefined);
    assert.deepEqual(parseAddressEvents('IP 10.6.0.5 was given away\nIP 10.6.0.6 released from pod ns/a uid u'), [
      { kind: 'released', ip: '10.6.0.6', pod: 'ns/a', podUid: 'u' },
    ]);
  });
});
