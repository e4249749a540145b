import assert from 'node:assert/strict';
import { generateCA, issueServingCertificate } from './generate.ts';
import { renewalDue, renewalNeeded } from './self-managed.ts';
import { splitPem } from './secret.ts';

const DAY = 86_400;
const options = {
  namespace: 'ns',
  secretName: 's',
  hosts: ['127.0.0.1', 'svc.ns.svc'],
  caValiditySeconds: 3650 * DAY,
  certValiditySeconds: 365 * DAY,
  renewBeforeSeconds: 30 * DAY,
};

describe('self-managed certificate renewal', function () {
  this.timeout(20_000);

  it('keeps a fresh certificate, renews the serving certificate near its end, and the CA near its end', async () => {
    const ca = await generateCA('ca', 3650);
    const serving = await issueServingCertificate(ca, options.hosts, 365);
    const cert = { caBundle: ca.cert, serving, caKey: ca.key };
    assert.equal(renewalNeeded(cert, options), 'none');
    assert.equal(renewalNeeded(cert, options, Date.now() + 340 * DAY * 1000), 'serving');
    assert.equal(renewalNeeded(cert, options, Date.now() + 3300 * DAY * 1000), 'ca');
    const due = renewalDue(cert, options).getTime();
    assert.ok(
      Math.abs(due - (Date.now() + 335 * DAY * 1000)) < 60_000,
      'due 30 days before the serving certificate ends',
    );
  });

  it('renews when a host is missing, when the serving certificate is not signed by the CA, and needs a new CA without the CA key', async () => {
    const ca = await generateCA('ca', 3650);
    const other = await generateCA('other', 3650);
    assert.equal(
      renewalNeeded(
        { caBundle: ca.cert, serving: await issueServingCertificate(ca, ['127.0.0.1'], 365), caKey: ca.key },
        options,
      ),
      'serving',
    );
    assert.equal(
      renewalNeeded(
        { caBundle: ca.cert, serving: await issueServingCertificate(other, options.hosts, 365), caKey: ca.key },
        options,
      ),
      'serving',
    );
    assert.equal(
      renewalNeeded({ caBundle: ca.cert, serving: await issueServingCertificate(other, options.hosts, 365) }, options),
      'ca',
    );
  });

  it('splits and normalises PEM bundles so that they compare as sets', async () => {
    const a = await generateCA('a', 1);
    const b = await generateCA('b', 1);
    const lf = (pem: string) => pem.replace(/\r/g, '');
    assert.deepEqual(splitPem(`${a.cert}\r\n\n${b.cert}`), [lf(a.cert), lf(b.cert)]);
    assert.deepEqual(splitPem(lf(`${a.cert}${b.cert}`)), splitPem(`${a.cert}${b.cert}`));
    assert.deepEqual(splitPem('garbage'), []);
  });

  it('rejects lifetimes that cannot work', () => {
    assert.throws(
      () =>
        renewalNeeded({ caBundle: '', serving: { cert: '', key: '' } }, { ...options, renewBeforeSeconds: 400 * DAY }),
      /renewBeforeSeconds .* must be shorter than certValiditySeconds/,
    );
  });
});
