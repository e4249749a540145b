// Self-signed CA and serving certificates for the admission server, made with node-forge.
import { randomBytes } from 'node:crypto';
import { isIP } from 'node:net';
import forge from 'node-forge';

export interface KeyPair {
  /** PEM certificate. */
  cert: string;
  /** PEM private key (PKCS#1). */
  key: string;
}

function rsaKeyPair(): Promise<forge.pki.rsa.KeyPair> {
  // The callback form uses Node's native generator off the main thread.
  return new Promise((resolve, reject) =>
    forge.pki.rsa.generateKeyPair({ bits: 2048 }, (err, pair) => (err ? reject(err) : resolve(pair))),
  );
}

/**
 * A certificate serial as hex that DER encodes minimally and positive: the first byte is neither 0 nor
 * has its high bit set. A leading zero byte before a byte below 0x80 is "illegal padding" to OpenSSL,
 * and node-forge removes only one such byte, so random bytes alone fail now and then.
 */
export function serialNumberHex(random: Buffer): string {
  const bytes = Buffer.from(random);
  bytes[0] = bytes[0]! & 0x7f || 0x01;
  return bytes.toString('hex');
}

function newCertificate(publicKey: forge.pki.PublicKey, validityDays: number): forge.pki.Certificate {
  const cert = forge.pki.createCertificate();
  cert.publicKey = publicKey;
  cert.serialNumber = serialNumberHex(randomBytes(16));
  // Backdated a little so that clocks slightly behind ours accept it at once.
  cert.validity.notBefore = new Date(Date.now() - 5 * 60_000);
  cert.validity.notAfter = new Date(Date.now() + validityDays * 86_400_000);
  return cert;
}

export async function generateCA(commonName: string, validityDays: number): Promise<KeyPair> {
  const keys = await rsaKeyPair();
  const cert = newCertificate(keys.publicKey, validityDays);
  const subject = [{ name: 'commonName', value: commonName }];
  cert.setSubject(subject);
  cert.setIssuer(subject);
  cert.setExtensions([
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  cert.sign(keys.privateKey, forge.md.sha256.create());
  return { cert: forge.pki.certificateToPem(cert), key: forge.pki.privateKeyToPem(keys.privateKey) };
}

/** A serving certificate for `hosts` (DNS names and IP addresses) signed by `ca`. */
export async function issueServingCertificate(ca: KeyPair, hosts: string[], validityDays: number): Promise<KeyPair> {
  if (hosts.length === 0) throw new Error('a serving certificate needs at least one host name or IP address');
  const caCert = forge.pki.certificateFromPem(ca.cert);
  const caKey = forge.pki.privateKeyFromPem(ca.key);
  const keys = await rsaKeyPair();
  const cert = newCertificate(keys.publicKey, validityDays);
  cert.setSubject([{ name: 'commonName', value: hosts[0] as string }]);
  cert.setIssuer(caCert.subject.attributes);
  cert.setExtensions([
    { name: 'basicConstraints', cA: false },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', serverAuth: true },
    { name: 'subjectAltName', altNames: hosts.map((h) => (isIP(h) ? { type: 7, ip: h } : { type: 2, value: h })) },
  ]);
  cert.sign(caKey, forge.md.sha256.create());
  return { cert: forge.pki.certificateToPem(cert), key: forge.pki.privateKeyToPem(keys.privateKey) };
}
