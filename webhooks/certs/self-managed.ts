// Self-managed certificates: the first replica to find no Secret creates it (create-or-read, so racing
// replicas end up with the one that won), and whichever replica first sees the serving certificate near
// its end renews it in place with a resourceVersion precondition. The CA is kept across renewals so the
// caBundle does not change; when the CA itself nears its end a new one is made and the old one stays in
// ca.crt while it is still valid, so replicas still serving the old certificate stay trusted.
import { X509Certificate } from 'node:crypto';
import type { CoreV1Api, V1Secret } from '@kubernetes/client-node';
import { isAlreadyExists, isConflict, isNotFound } from '../../lib/kube.ts';
import type { Logger } from '../../lib/log.ts';
import { generateCA, issueServingCertificate } from './generate.ts';
import { certificateSecretData, parseCertificateSecret, splitPem, type CertificateSecret } from './secret.ts';

const DAY = 86_400;

export interface SelfManagedOptions {
  namespace: string;
  secretName: string;
  /** DNS names and IP addresses the serving certificate must cover. */
  hosts: string[];
  /** Default 10 years. */
  caValiditySeconds?: number;
  /** Default 1 year. */
  certValiditySeconds?: number;
  /** Renew the serving certificate this long before it ends. Default 30 days. */
  renewBeforeSeconds?: number;
}

interface Lifetimes {
  ca: number;
  cert: number;
  renewBefore: number;
}

function lifetimes(options: SelfManagedOptions): Lifetimes {
  const l = {
    ca: options.caValiditySeconds ?? 3650 * DAY,
    cert: options.certValiditySeconds ?? 365 * DAY,
    renewBefore: options.renewBeforeSeconds ?? 30 * DAY,
  };
  if (l.renewBefore >= l.cert)
    throw new Error(`renewBeforeSeconds (${l.renewBefore}) must be shorter than certValiditySeconds (${l.cert})`);
  if (l.cert > l.ca) throw new Error(`certValiditySeconds (${l.cert}) must not exceed caValiditySeconds (${l.ca})`);
  return l;
}

const endOf = (pem: string) => new Date(new X509Certificate(pem).validTo).getTime();

function servingHosts(pem: string): string[] {
  return (new X509Certificate(pem).subjectAltName ?? '')
    .split(', ')
    .map((entry) => entry.replace(/^(DNS|IP Address):/, ''));
}

/** When the Secret's certificates must be renewed: the serving certificate's or the CA's threshold. */
export function renewalDue(cert: CertificateSecret, options: SelfManagedOptions): Date {
  const l = lifetimes(options);
  const signingCA = splitPem(cert.caBundle)[0] as string;
  return new Date(Math.min(endOf(cert.serving.cert) - l.renewBefore * 1000, endOf(signingCA) - l.cert * 1000));
}

/** What to regenerate now: nothing, the serving certificate only, or the CA and the serving certificate. */
export function renewalNeeded(
  cert: CertificateSecret,
  options: SelfManagedOptions,
  now = Date.now(),
): 'none' | 'serving' | 'ca' {
  const l = lifetimes(options);
  const signingCA = splitPem(cert.caBundle)[0] as string;
  const caExpiring = endOf(signingCA) - now < l.cert * 1000;
  const signedByCA = new X509Certificate(cert.serving.cert).verify(new X509Certificate(signingCA).publicKey);
  const covered = new Set(servingHosts(cert.serving.cert));
  const servingStale =
    !signedByCA || endOf(cert.serving.cert) - now < l.renewBefore * 1000 || options.hosts.some((h) => !covered.has(h));
  if (!servingStale && !caExpiring) return 'none';
  // Without the CA key only a new CA can sign a new serving certificate.
  return caExpiring || !cert.caKey ? 'ca' : 'serving';
}

async function renewed(
  current: CertificateSecret | undefined,
  need: 'serving' | 'ca',
  options: SelfManagedOptions,
): Promise<CertificateSecret> {
  const l = lifetimes(options);
  // Replicas configured with different host lists converge on the union instead of taking turns.
  const hosts = [...new Set([...options.hosts, ...(current ? servingHosts(current.serving.cert) : [])])];
  if (need === 'serving' && current?.caKey) {
    const signingCA = splitPem(current.caBundle)[0] as string;
    const serving = await issueServingCertificate({ cert: signingCA, key: current.caKey }, hosts, l.cert / DAY);
    return { caBundle: current.caBundle, serving, caKey: current.caKey };
  }
  const ca = await generateCA(`spiderpool-webhook-ca-${Math.floor(Date.now() / 1000)}`, l.ca / DAY);
  const serving = await issueServingCertificate(ca, hosts, l.cert / DAY);
  const previous = current
    ? splitPem(current.caBundle)
        .slice(0, 1)
        .filter((pem) => endOf(pem) > Date.now())
    : [];
  return { caBundle: [ca.cert, ...previous].join(''), serving, caKey: ca.key };
}

function secretBody(options: SelfManagedOptions, cert: CertificateSecret, resourceVersion?: string): V1Secret {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    type: 'kubernetes.io/tls',
    metadata: {
      name: options.secretName,
      namespace: options.namespace,
      labels: { 'app.kubernetes.io/component': 'spiderpool-webhook-certs' },
      ...(resourceVersion ? { resourceVersion } : {}),
    },
    data: certificateSecretData(cert),
  };
}

/**
 * Returns the certificates every replica serves: the Secret's when they are good for a while yet,
 * otherwise freshly generated ones written with create-or-read / compare-and-swap, so that concurrent
 * replicas agree on one set.
 */
export async function ensureSelfManagedSecret(
  core: CoreV1Api,
  options: SelfManagedOptions,
  log: Logger,
): Promise<CertificateSecret> {
  const { namespace, secretName: name } = options;
  for (let attempt = 1; attempt <= 10; attempt++) {
    let secret: V1Secret | undefined;
    try {
      secret = await core.readNamespacedSecret({ namespace, name });
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
    if (!secret) {
      const fresh = await renewed(undefined, 'ca', options);
      try {
        const created = await core.createNamespacedSecret({ namespace, body: secretBody(options, fresh) });
        log.info('created the webhook certificate Secret', { namespace, name });
        return { ...fresh, resourceVersion: created.metadata?.resourceVersion };
      } catch (err) {
        if (isAlreadyExists(err)) continue;
        throw err;
      }
    }
    let current: CertificateSecret | undefined;
    try {
      current = parseCertificateSecret(secret);
    } catch (err) {
      log.warn('the webhook certificate Secret is unusable, replacing it', {
        namespace,
        name,
        err: (err as Error).message,
      });
    }
    const need = current ? renewalNeeded(current, options) : 'ca';
    if (need === 'none') return current as CertificateSecret;
    const next = await renewed(current, need, options);
    try {
      const written = await core.replaceNamespacedSecret({
        namespace,
        name,
        body: secretBody(options, next, secret.metadata?.resourceVersion),
      });
      log.info('renewed the webhook certificates', { namespace, name, renewed: need });
      return { ...next, resourceVersion: written.metadata?.resourceVersion };
    } catch (err) {
      if (isConflict(err) || isNotFound(err)) continue;
      throw err;
    }
  }
  throw new Error(`Secret ${namespace}/${name}: gave up after 10 conflicting writes by other replicas`);
}
