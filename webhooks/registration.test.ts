import assert from 'node:assert/strict';
import { buildWebhookConfigurations, webhookName } from './registration.ts';
import type { WebhookRoute } from './types.ts';

const route = (path: string, type: WebhookRoute['type'], extra: Partial<WebhookRoute> = {}): WebhookRoute => ({
  path,
  type,
  failurePolicy: 'Fail',
  handler: async () => ({ allowed: true }),
  rule: { apiGroups: [''], apiVersions: ['v1'], resources: ['pods'], operations: ['CREATE'], scope: 'Namespaced' },
  ...extra,
});

describe('webhook configurations', () => {
  it('names webhooks after their paths as fully qualified names', () => {
    assert.equal(webhookName('/mutate--v1-pod'), 'mutate--v1-pod.spidernet.io');
    assert.equal(
      webhookName('/validate-spiderpool-spidernet-io-v2beta1-spiderippool'),
      'validate-spiderpool-spidernet-io-v2beta1-spiderippool.spidernet.io',
    );
    assert.throws(() => webhookName('/'), /webhook path \/ cannot name a webhook/);
  });

  it('splits routes by type, with v1 reviews, no side effects, 10 s timeout and the CA in every entry', () => {
    const { mutating, validating } = buildWebhookConfigurations(
      'cfg',
      [route('/m', 'mutating'), route('/v', 'validating', { failurePolicy: 'Ignore' })],
      { url: 'https://127.0.0.1:5722/' },
      'PEM',
    );
    assert.equal(mutating?.webhooks?.length, 1);
    const [m] = mutating!.webhooks!;
    assert.equal(m!.clientConfig.url, 'https://127.0.0.1:5722/m');
    assert.equal(m!.clientConfig.caBundle, Buffer.from('PEM').toString('base64'));
    assert.equal(m!.sideEffects, 'None');
    assert.deepEqual(m!.admissionReviewVersions, ['v1']);
    assert.equal(m!.timeoutSeconds, 10);
    assert.equal(m!.namespaceSelector, undefined);
    assert.equal(validating?.webhooks?.[0]?.failurePolicy, 'Ignore');
    assert.equal(validating?.metadata?.name, 'cfg');
  });

  it('excludes namespaces by their name label, keeps object selectors, and targets a Service with the path', () => {
    const { mutating, validating } = buildWebhookConfigurations(
      'cfg',
      [
        route('/p', 'mutating', {
          excludeNamespaces: ['kube-system', 'spiderpool'],
          objectSelector: { matchLabels: { a: 'b' } },
        }),
      ],
      { service: { namespace: 'spiderpool', name: 'svc', port: 443 } },
      'PEM',
    );
    assert.equal(validating, undefined);
    const [p] = mutating!.webhooks!;
    assert.deepEqual(p!.namespaceSelector, {
      matchExpressions: [
        { key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: ['kube-system', 'spiderpool'] },
      ],
    });
    assert.deepEqual(p!.objectSelector, { matchLabels: { a: 'b' } });
    assert.deepEqual(p!.clientConfig.service, { namespace: 'spiderpool', name: 'svc', port: 443, path: '/p' });
  });
});
