import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import forge from 'node-forge';
import { serialNumberHex } from './generate.ts';

describe('certificate serial numbers', () => {
  const keys = forge.pki.rsa.generateKeyPair({ bits: 1024 });

  const selfSigned = (serial: string): string => {
    const cert = forge.pki.createCertificate();
    cert.publicKey = keys.publicKey;
    cert.serialNumber = serial;
    cert.validity.notBefore = new Date();
    cert.validity.notAfter = new Date(Date.now() + 86_400_000);
    cert.setSubject([{ name: 'commonName', value: 'serial-test' }]);
    cert.setIssuer([{ name: 'commonName', value: 'serial-test' }]);
    cert.sign(keys.privateKey, forge.md.sha256.create());
    return forge.pki.certificateToPem(cert);
  };

  for (const [what, first] of [
    ['two leading zero bytes', [0x00, 0x00, 0x05]],
    ['a high first byte', [0xff, 0x80]],
    ['a zero byte before a low one', [0x00, 0x12]],
  ] as const) {
    it(`encodes random bytes with ${what} as a positive, minimal serial that OpenSSL reads back`, () => {
      const random = Buffer.alloc(16, 0x33);
      Buffer.from(first).copy(random);
      const hex = serialNumberHex(random);
      assert.equal(hex.length, 32);
      assert.ok(parseInt(hex.slice(0, 2), 16) >= 0x01 && parseInt(hex.slice(0, 2), 16) <= 0x7f, hex);
      assert.equal(new X509Certificate(selfSigned(hex)).serialNumber, hex.toUpperCase());
    });
  }

  it('reproduces the failure the rule prevents: two leading zero bytes are illegal padding', () => {
    assert.throws(() => new X509Certificate(selfSigned(`0000${'33'.repeat(14)}`)), /illegal padding/);
  });
});
