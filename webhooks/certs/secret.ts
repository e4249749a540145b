// The certificate Secret: the single source of truth every replica serves from and every webhook
// configuration's caBundle is kept equal to. Same keys as cert-manager writes (tls.crt, tls.key,
// ca.crt); the self-managed mode adds ca.key so any replica can renew.
import { X509Certificate } from 'node:crypto';
import type { V1Secret } from '@kubernetes/client-node';
import type { KeyPair } from './generate.ts';

export interface CertificateSecret {
  /** PEM certificates the apiserver must trust: the signing CA first, then CAs still being retired. */
  caBundle: string;
  /** Serving certificate and key. */
  serving: KeyPair;
  /** Present in self-managed Secrets. */
  caKey?: string;
  resourceVersion?: string;
}

const PEM_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** The certificates of a PEM bundle, each normalised to one canonical text so bundles compare as sets. */
export function splitPem(bundle: string): string[] {
  return (bundle.match(PEM_BLOCK) ?? []).map((block) => `${block.replace(/\r/g, '').trim()}\n`);
}

const decode = (secret: V1Secret, key: string): string | undefined => {
  const value = secret.data?.[key];
  return value === undefined ? undefined : Buffer.from(value, 'base64').toString('utf8');
};

/** Reads the certificate Secret; names the Secret and the key when one is missing or unusable. */
export function parseCertificateSecret(secret: V1Secret): CertificateSecret {
  const name = `Secret ${secret.metadata?.namespace}/${secret.metadata?.name}`;
  const required = (key: string) => {
    const value = decode(secret, key);
    if (!value?.trim()) throw new Error(`${name} has no data["${key}"]`);
    return value;
  };
  const caBundle = required('ca.crt');
  const serving = { cert: required('tls.crt'), key: required('tls.key') };
  if (splitPem(caBundle).length === 0) throw new Error(`${name}: data["ca.crt"] holds no PEM certificate`);
  try {
    new X509Certificate(serving.cert);
  } catch (err) {
    throw new Error(`${name}: data["tls.crt"] is not a PEM certificate: ${(err as Error).message}`, { cause: err });
  }
  const caKey = decode(secret, 'ca.key');
  return { caBundle, serving, ...(caKey ? { caKey } : {}), resourceVersion: secret.metadata?.resourceVersion };
}

export function certificateSecretData(cert: CertificateSecret): Record<string, string> {
  const b64 = (s: string) => Buffer.from(s).toString('base64');
  return {
    'ca.crt': b64(cert.caBundle),
    'tls.crt': b64(cert.serving.cert),
    'tls.key': b64(cert.serving.key),
    ...(cert.caKey ? { 'ca.key': b64(cert.caKey) } : {}),
  };
}

/** Same certificates and keys; resourceVersion ignored. */
export function sameCertificates(a: CertificateSecret, b: CertificateSecret): boolean {
  return a.caBundle === b.caBundle && a.serving.cert === b.serving.cert && a.serving.key === b.serving.key;
}
