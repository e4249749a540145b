// The Mutating/ValidatingWebhookConfiguration objects that make the apiserver call the routes. Both
// configurations share one name; each route becomes one webhook entry named after its path.
import {
  AdmissionregistrationV1Api,
  type KubeConfig,
  type V1MutatingWebhook,
  type V1MutatingWebhookConfiguration,
  type V1ValidatingWebhook,
  type V1ValidatingWebhookConfiguration,
  type AdmissionregistrationV1WebhookClientConfig,
} from '@kubernetes/client-node';
import { CONTROLLER_NAME } from '../api/v2beta1/constants.ts';
import { isAlreadyExists, isConflict, isNotFound } from '../lib/kube.ts';
import type { WebhookRoute } from './types.ts';

/** Where the apiserver reaches the server: a base URL (`https://127.0.0.1:5722`) or a Service. */
export type WebhookTarget = { url: string } | { service: { namespace: string; name: string; port?: number } };

export interface WebhookConfigurations {
  mutating?: V1MutatingWebhookConfiguration;
  validating?: V1ValidatingWebhookConfiguration;
}

/**
 * `/validate-spiderpool-spidernet-io-v2beta1-spiderippool` →
 * `validate-spiderpool-spidernet-io-v2beta1-spiderippool.spidernet.io`.
 */
export function webhookName(path: string): string {
  const label = path
    .replace(/^\/+/, '')
    .replace(/[^a-z0-9-]+/gi, '-')
    .toLowerCase();
  if (!label || label.length > 63)
    throw new Error(`webhook path ${path} cannot name a webhook: it must give a DNS label of 1 to 63 characters`);
  return `${label}.spidernet.io`;
}

function clientConfig(
  target: WebhookTarget,
  path: string,
  caBundle: string,
): AdmissionregistrationV1WebhookClientConfig {
  const ca = Buffer.from(caBundle).toString('base64');
  if ('url' in target) return { url: `${target.url.replace(/\/+$/, '')}${path}`, caBundle: ca };
  return { service: { ...target.service, path }, caBundle: ca };
}

function webhook(route: WebhookRoute, target: WebhookTarget, caBundle: string): V1ValidatingWebhook {
  return {
    name: webhookName(route.path),
    clientConfig: clientConfig(target, route.path, caBundle),
    rules: [{ ...route.rule, operations: [...route.rule.operations] }],
    failurePolicy: route.failurePolicy,
    matchPolicy: 'Equivalent',
    sideEffects: 'None',
    admissionReviewVersions: ['v1'],
    timeoutSeconds: 10,
    // The label is automatic from Kubernetes 1.21; the server also skips these namespaces itself.
    ...(route.excludeNamespaces?.length
      ? {
          namespaceSelector: {
            matchExpressions: [
              { key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: route.excludeNamespaces },
            ],
          },
        }
      : {}),
    ...(route.objectSelector ? { objectSelector: route.objectSelector } : {}),
  };
}

export function buildWebhookConfigurations(
  name: string,
  routes: WebhookRoute[],
  target: WebhookTarget,
  caBundle: string,
): WebhookConfigurations {
  const labels = { 'app.kubernetes.io/name': 'spiderpool', 'app.kubernetes.io/component': CONTROLLER_NAME };
  const mutating = routes
    .filter((r) => r.type === 'mutating')
    .map((r): V1MutatingWebhook => ({ ...webhook(r, target, caBundle), reinvocationPolicy: 'Never' }));
  const validating = routes.filter((r) => r.type === 'validating').map((r) => webhook(r, target, caBundle));
  return {
    ...(mutating.length
      ? {
          mutating: {
            apiVersion: 'admissionregistration.k8s.io/v1',
            kind: 'MutatingWebhookConfiguration',
            metadata: { name, labels },
            webhooks: mutating,
          },
        }
      : {}),
    ...(validating.length
      ? {
          validating: {
            apiVersion: 'admissionregistration.k8s.io/v1',
            kind: 'ValidatingWebhookConfiguration',
            metadata: { name, labels },
            webhooks: validating,
          },
        }
      : {}),
  };
}

type Kind = 'mutating' | 'validating';
type Configuration = V1MutatingWebhookConfiguration | V1ValidatingWebhookConfiguration;

/** Typed access to both configuration kinds through one interface. */
export class WebhookConfigurationClient {
  private readonly api: AdmissionregistrationV1Api;

  constructor(kubeConfig: KubeConfig) {
    this.api = kubeConfig.makeApiClient(AdmissionregistrationV1Api);
  }

  async read(kind: Kind, name: string): Promise<Configuration | undefined> {
    try {
      return kind === 'mutating'
        ? await this.api.readMutatingWebhookConfiguration({ name })
        : await this.api.readValidatingWebhookConfiguration({ name });
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  create(kind: Kind, body: Configuration): Promise<Configuration> {
    return kind === 'mutating'
      ? this.api.createMutatingWebhookConfiguration({ body })
      : this.api.createValidatingWebhookConfiguration({ body: body as V1ValidatingWebhookConfiguration });
  }

  /** body.metadata.resourceVersion makes this a compare-and-swap. */
  replace(kind: Kind, body: Configuration): Promise<Configuration> {
    const name = body.metadata?.name as string;
    return kind === 'mutating'
      ? this.api.replaceMutatingWebhookConfiguration({ name, body })
      : this.api.replaceValidatingWebhookConfiguration({ name, body: body as V1ValidatingWebhookConfiguration });
  }

  async delete(kind: Kind, name: string): Promise<void> {
    try {
      if (kind === 'mutating') await this.api.deleteMutatingWebhookConfiguration({ name });
      else await this.api.deleteValidatingWebhookConfiguration({ name });
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }
}

/** Creates or overwrites both configurations; a kind without routes is deleted so no stale entry remains. */
export async function applyWebhookConfigurations(
  kubeConfig: KubeConfig,
  name: string,
  configurations: WebhookConfigurations,
): Promise<void> {
  const client = new WebhookConfigurationClient(kubeConfig);
  for (const kind of ['mutating', 'validating'] as const) {
    const desired = configurations[kind];
    if (!desired) {
      await client.delete(kind, name);
      continue;
    }
    for (let attempt = 1; ; attempt++) {
      const existing = await client.read(kind, name);
      try {
        if (!existing) await client.create(kind, desired);
        else
          await client.replace(kind, {
            ...desired,
            metadata: { ...desired.metadata, resourceVersion: existing.metadata?.resourceVersion },
          });
        break;
      } catch (err) {
        if (attempt >= 5 || !(isConflict(err) || isAlreadyExists(err) || isNotFound(err))) throw err;
      }
    }
  }
}

export async function deleteWebhookConfigurations(kubeConfig: KubeConfig, name: string): Promise<void> {
  const client = new WebhookConfigurationClient(kubeConfig);
  await Promise.all([client.delete('mutating', name), client.delete('validating', name)]);
}
