// The admission server against the real apiserver: routes served and unregistered cleanly, certificate
// rotation through the Secret while the apiserver keeps calling, several replicas agreeing on one
// certificate, the cert-manager mode, namespace exclusion, and the process entry point with the real rules.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { createServer, connect as tcpConnect, type Server, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { join } from 'node:path';
import { AdmissionregistrationV1Api, CoreV1Api, CustomObjectsApi, type V1Secret } from '@kubernetes/client-node';
import type { SpiderIPPool } from '../api/v2beta1/types.ts';
import { FINALIZER, GROUP, VERSION } from '../api/v2beta1/constants.ts';
import { apiMessage } from '../lib/kube.ts';
import { createLogger } from '../lib/log.ts';
import { generateCA, issueServingCertificate, type KeyPair } from '../webhooks/certs/generate.ts';
import { certificateSecretData, splitPem } from '../webhooks/certs/secret.ts';
import { WebhookMetrics } from '../webhooks/metrics.ts';
import { deleteWebhookConfigurations } from '../webhooks/registration.ts';
import { startWebhooks, type Webhooks } from '../webhooks/start.ts';
import type { WebhookRoute } from '../webhooks/types.ts';
import { freePort } from './cluster/control-plane.ts';
import { repoRoot } from './cluster/install.ts';
import { testCluster, type TestCluster } from './harness/cluster.ts';
import { eventually } from './harness/wait.ts';
import { ensureNamespace, runWebhooks, webhookProbe, type RunningWebhooks } from './harness/webhooks.ts';

const NAMESPACE = 'spiderpool';
const MUTATED = 'webhook.test/mutated';
const MUTATE_PATH = '/mutate-spiderpool-spidernet-io-v2beta1-spiderippool';

const poolRoutes = (): WebhookRoute[] => [
  {
    path: MUTATE_PATH,
    type: 'mutating',
    rule: {
      apiGroups: [GROUP],
      apiVersions: [VERSION],
      resources: ['spiderippools'],
      operations: ['CREATE', 'UPDATE'],
      scope: 'Cluster',
    },
    failurePolicy: 'Fail',
    handler: async (req) => ({
      allowed: true,
      patch: req.object?.metadata?.labels
        ? [{ op: 'add', path: `/metadata/labels/${MUTATED.replace('/', '~1')}`, value: 'yes' }]
        : [{ op: 'add', path: '/metadata/labels', value: { [MUTATED]: 'yes' } }],
    }),
  },
  {
    path: '/validate-spiderpool-spidernet-io-v2beta1-spiderippool',
    type: 'validating',
    rule: {
      apiGroups: [GROUP],
      apiVersions: [VERSION],
      resources: ['spiderippools'],
      operations: ['CREATE', 'UPDATE'],
      scope: 'Cluster',
    },
    failurePolicy: 'Fail',
    handler: async (req) => {
      const pool = req.object as SpiderIPPool;
      if (pool.spec.subnet === '10.99.0.0/16')
        return {
          allowed: false,
          message: `SpiderIPPool ${pool.metadata.name}: spec.subnet 10.99.0.0/16 is reserved for this test`,
        };
      if (pool.spec.subnet === '10.98.0.0/16') throw new Error('boom');
      return { allowed: true, warnings: [`SpiderIPPool ${pool.metadata.name} checked`] };
    },
  },
];

const poolBody = (name: string, subnet = '10.97.0.0/16') => ({
  apiVersion: `${GROUP}/${VERSION}`,
  kind: 'SpiderIPPool',
  metadata: { name },
  spec: { subnet, ipVersion: 4 },
});

/** The certificate a fresh TLS connection to the server is shown. */
function servedFingerprint(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: '127.0.0.1', port, rejectUnauthorized: false }, () => {
      resolve(socket.getPeerX509Certificate()?.fingerprint256 ?? '');
      socket.end();
    });
    socket.on('error', reject);
  });
}

const fingerprint = (pem: string) => new X509Certificate(pem).fingerprint256;
const hostsOf = (pem: string) =>
  (new X509Certificate(pem).subjectAltName ?? '').split(', ').map((e) => e.replace(/^(DNS|IP Address):/, ''));

/** A TCP round-robin in front of several replicas, standing in for a Service. */
function roundRobin(): Promise<{ port: number; targets: number[]; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const state = { port: 0, targets: [] as number[], next: 0, close: () => Promise.resolve() };
  const server: Server = createServer((client) => {
    const port = state.targets[state.next++ % state.targets.length] as number;
    const upstream = tcpConnect(port, '127.0.0.1');
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream).pipe(client);
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => {
      state.port = (server.address() as { port: number }).port;
      state.close = () =>
        new Promise<void>((r) => {
          for (const s of sockets) s.destroy();
          server.close(() => r());
        });
      resolve(state);
    }),
  );
}

function counterValue(text: string, metric: string, webhook: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${metric}{webhook="${webhook}"`));
  return line ? Number(line.split(' ').pop()) : 0;
}

describe('admission webhook server', function () {
  this.timeout(240_000);
  let c: TestCluster;
  let custom: CustomObjectsApi;
  let core: CoreV1Api;
  let admission: AdmissionregistrationV1Api;

  const dryRunPool = (name: string, subnet?: string) =>
    custom.createClusterCustomObject({
      group: GROUP,
      version: VERSION,
      plural: 'spiderippools',
      body: poolBody(name, subnet),
      dryRun: 'All',
    }) as Promise<SpiderIPPool>;
  /** Every caBundle of both configurations, as sets of certificate fingerprints. */
  const bundles = async (name: string) => {
    const configs = [
      await admission.readMutatingWebhookConfiguration({ name }),
      await admission.readValidatingWebhookConfiguration({ name }),
    ];
    return configs.flatMap((cfg) =>
      (cfg.webhooks ?? []).map((w) =>
        splitPem(Buffer.from(w.clientConfig.caBundle ?? '', 'base64').toString())
          .map(fingerprint)
          .sort(),
      ),
    );
  };
  const writeSecret = async (name: string, data: Record<string, string>) => {
    const body: V1Secret = { metadata: { name, namespace: NAMESPACE }, type: 'kubernetes.io/tls', data };
    try {
      const current = await core.readNamespacedSecret({ namespace: NAMESPACE, name });
      return await core.replaceNamespacedSecret({
        namespace: NAMESPACE,
        name,
        body: { ...body, metadata: { ...body.metadata, resourceVersion: current.metadata?.resourceVersion } },
      });
    } catch {
      return await core.createNamespacedSecret({ namespace: NAMESPACE, body });
    }
  };
  const deleteSecret = (name: string) =>
    core.deleteNamespacedSecret({ namespace: NAMESPACE, name }).catch(() => undefined);

  before(async () => {
    c = await testCluster();
    custom = c.kubeConfig.makeApiClient(CustomObjectsApi);
    core = c.kubeConfig.makeApiClient(CoreV1Api);
    admission = c.kubeConfig.makeApiClient(AdmissionregistrationV1Api);
    await ensureNamespace(c, NAMESPACE);
  });

  describe('routes through the apiserver', () => {
    let hooks: RunningWebhooks;
    before(async () => {
      hooks = await runWebhooks(c, poolRoutes(), {
        configurationName: 'webhook-server-routes',
        tls: { secretName: 'webhook-server-routes-tls' },
      });
    });
    after(async () => {
      await hooks?.stop();
      await deleteSecret('webhook-server-routes-tls');
    });

    it('registers one webhook per route with sideEffects None, v1 reviews, timeout 10 s and the Secret CA', async () => {
      const validating = await admission.readValidatingWebhookConfiguration({ name: 'webhook-server-routes' });
      const pool = validating.webhooks?.find(
        (w) => w.name === 'validate-spiderpool-spidernet-io-v2beta1-spiderippool.spidernet.io',
      );
      assert.ok(pool, 'the validating pool webhook is registered');
      assert.equal(
        pool.clientConfig.url,
        `https://127.0.0.1:${hooks.port}/validate-spiderpool-spidernet-io-v2beta1-spiderippool`,
      );
      assert.equal(pool.sideEffects, 'None');
      assert.deepEqual(pool.admissionReviewVersions, ['v1']);
      assert.equal(pool.timeoutSeconds, 10);
      assert.equal(pool.failurePolicy, 'Fail');
      const secret = await core.readNamespacedSecret({ namespace: NAMESPACE, name: 'webhook-server-routes-tls' });
      assert.equal(pool.clientConfig.caBundle, secret.data?.['ca.crt']);
      assert.equal(
        await servedFingerprint(hooks.port),
        fingerprint(Buffer.from(secret.data?.['tls.crt'] as string, 'base64').toString()),
      );
    });

    it('applies the JSON patch of the mutating route', async () => {
      assert.equal((await dryRunPool('webhook-server-a')).metadata.labels?.[MUTATED], 'yes');
    });

    it('denies with the handler message, and a throwing handler denies with an internal error naming the path', async () => {
      await assert.rejects(dryRunPool('webhook-server-b', '10.99.0.0/16'), (err) =>
        /spec.subnet 10.99.0.0\/16 is reserved for this test/.test(apiMessage(err)),
      );
      await assert.rejects(dryRunPool('webhook-server-c', '10.98.0.0/16'), (err) =>
        /internal error in \/validate-spiderpool-spidernet-io-v2beta1-spiderippool: boom/.test(apiMessage(err)),
      );
    });

    it('counts requests, denials and latency by webhook path in /metrics', async () => {
      const text = await hooks.webhooks.metrics.registry.metrics();
      assert.ok(counterValue(text, 'spiderpool_webhook_requests_total', MUTATE_PATH) >= 3);
      assert.ok(
        counterValue(
          text,
          'spiderpool_webhook_denials_total',
          '/validate-spiderpool-spidernet-io-v2beta1-spiderippool',
        ) >= 2,
      );
      assert.ok(counterValue(text, 'spiderpool_webhook_request_duration_seconds_count', MUTATE_PATH) >= 3);
    });
  });

  it('after stop() no configuration is left and the apiserver no longer calls', async () => {
    await assert.rejects(admission.readValidatingWebhookConfiguration({ name: 'webhook-server-routes' }), (err) =>
      /404|not found/i.test(String(err)),
    );
    assert.equal((await dryRunPool('webhook-server-d', '10.99.0.0/16')).metadata.labels?.[MUTATED], undefined);
  });

  it('rotation: a replaced Secret is served without a restart and the apiserver keeps calling throughout', async () => {
    const name = 'webhook-server-rotation';
    const hooks = await runWebhooks(c, poolRoutes(), {
      configurationName: name,
      tls: { secretName: `${name}-tls`, caPropagationMs: 1500, caGraceMs: 6000 },
    });
    const outcomes = { ok: 0, failed: [] as string[] };
    let loading = true;
    const load = (async () => {
      for (let i = 0; loading; i++) {
        try {
          const pool = await dryRunPool(`rotation-${i}`);
          if (pool.metadata.labels?.[MUTATED] === 'yes') outcomes.ok++;
          else outcomes.failed.push(`rotation-${i} not mutated`);
        } catch (err) {
          outcomes.failed.push(apiMessage(err));
        }
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    try {
      const old = hooks.webhooks.certificates();
      // Lifetimes the self-managed mode accepts as they are (a shorter one it would renew at once).
      const ca = await generateCA('rotation-test-ca', 3650);
      const serving = await issueServingCertificate(ca, hostsOf(old.serving.cert), 365);
      await new Promise((r) => setTimeout(r, 500));
      const replacedAt = Date.now();
      await writeSecret(`${name}-tls`, certificateSecretData({ caBundle: ca.cert, serving, caKey: ca.key }));

      await eventually('the new CA in every caBundle', 20_000, async () =>
        (await bundles(name)).every((b) => b.includes(fingerprint(ca.cert))) ? true : undefined,
      );
      await eventually('the new certificate served', 20_000, async () =>
        (await servedFingerprint(hooks.port)) === fingerprint(serving.cert) ? true : undefined,
      );
      const servedAfterMs = Date.now() - replacedAt;
      await eventually('the old CA retired from every caBundle', 30_000, async () =>
        (await bundles(name)).every((b) => b.length === 1 && b[0] === fingerprint(ca.cert)) ? true : undefined,
      );
      const okBeforeRetirement = outcomes.ok;
      // The apiserver now trusts only the new CA, so these calls verify the new certificate.
      await eventually('calls after the old CA is gone', 20_000, async () =>
        outcomes.ok >= okBeforeRetirement + 20 ? true : undefined,
      );
      loading = false;
      await load;
      process.stdout.write(
        `      rotation: new certificate served ${servedAfterMs} ms after the Secret was replaced; ${outcomes.ok} admission calls succeeded, ${outcomes.failed.length} failed\n`,
      );
      assert.deepEqual(outcomes.failed, []);
      assert.equal(hooks.webhooks.certificates().serving.cert, serving.cert);
    } finally {
      loading = false;
      await load;
      await hooks.stop();
      await deleteSecret(`${name}-tls`);
    }
  });

  it('self-managed: renews the serving certificate before it ends, keeping the CA, and recreates a deleted Secret', async () => {
    const name = 'webhook-server-renewal';
    const hooks = await runWebhooks(c, poolRoutes(), {
      configurationName: name,
      tls: {
        secretName: `${name}-tls`,
        certValiditySeconds: 40,
        renewBeforeSeconds: 32,
        caPropagationMs: 1000,
        caGraceMs: 5000,
      },
    });
    try {
      const first = hooks.webhooks.certificates();
      await eventually('a renewed serving certificate', 30_000, async () =>
        hooks.webhooks.certificates().serving.cert !== first.serving.cert ? true : undefined,
      );
      const renewed = hooks.webhooks.certificates();
      assert.equal(renewed.caBundle, first.caBundle, 'renewal keeps the CA');
      assert.ok(
        new Date(new X509Certificate(renewed.serving.cert).validTo) >
          new Date(new X509Certificate(first.serving.cert).validTo),
      );
      assert.equal(await servedFingerprint(hooks.port), fingerprint(renewed.serving.cert));
      assert.equal((await dryRunPool('renewal-a')).metadata.labels?.[MUTATED], 'yes');

      await deleteSecret(`${name}-tls`);
      await eventually('the Secret recreated with a new CA and served', 30_000, async () => {
        const now = hooks.webhooks.certificates();
        return now.caBundle !== first.caBundle &&
          (await servedFingerprint(hooks.port)) === fingerprint(now.serving.cert)
          ? true
          : undefined;
      });
      const stored = await core.readNamespacedSecret({ namespace: NAMESPACE, name: `${name}-tls` });
      assert.equal(
        Buffer.from(stored.data?.['tls.crt'] as string, 'base64').toString(),
        hooks.webhooks.certificates().serving.cert,
      );
      await eventually('every caBundle trusting the new CA', 20_000, async () =>
        (await bundles(name)).every((b) =>
          b.includes(fingerprint(splitPem(hooks.webhooks.certificates().caBundle)[0] as string)),
        )
          ? true
          : undefined,
      );
      assert.equal((await dryRunPool('renewal-b')).metadata.labels?.[MUTATED], 'yes');
    } finally {
      await hooks.stop();
      await deleteSecret(`${name}-tls`);
    }
  });

  it('two replicas starting together agree on one certificate, and the apiserver calls both', async () => {
    const name = 'webhook-server-replicas';
    const lb = await roundRobin();
    const probe = webhookProbe(c, name, NAMESPACE);
    const replica = () =>
      startWebhooks({
        kubeConfig: c.kubeConfig,
        routes: [...poolRoutes(), ...probe.routes],
        namespace: NAMESPACE,
        host: '127.0.0.1',
        port: 0,
        configurationName: name,
        tls: { secretName: `${name}-tls` },
        register: { urlHost: '127.0.0.1', urlPort: lb.port },
        metrics: new WebhookMetrics(),
        log: createLogger('webhooks', 'warn'),
      });
    let replicas: Webhooks[] = [];
    try {
      replicas = await Promise.all([replica(), replica()]);
      const [a, b] = replicas as [Webhooks, Webhooks];
      lb.targets.push(a.port, b.port);
      const secret = await core.readNamespacedSecret({ namespace: NAMESPACE, name: `${name}-tls` });
      const stored = Buffer.from(secret.data?.['tls.crt'] as string, 'base64').toString();
      assert.equal(a.certificates().serving.cert, stored);
      assert.equal(b.certificates().serving.cert, stored);
      assert.equal(await servedFingerprint(a.port), await servedFingerprint(b.port));
      await probe.untilCalled();
      const pools = await Promise.all(Array.from({ length: 30 }, (_, i) => dryRunPool(`replicas-${i}`)));
      assert.ok(pools.every((p) => p.metadata.labels?.[MUTATED] === 'yes'));
      const served = await Promise.all(
        replicas.map(async (r) =>
          counterValue(await r.metrics.registry.metrics(), 'spiderpool_webhook_requests_total', MUTATE_PATH),
        ),
      );
      process.stdout.write(`      replicas: mutating calls served by replica A ${served[0]}, replica B ${served[1]}\n`);
      assert.ok(
        served.every((n) => n > 0),
        `both replicas served calls: ${served}`,
      );
    } finally {
      await deleteWebhookConfigurations(c.kubeConfig, name);
      if (replicas.length) await probe.untilNotCalled();
      await Promise.all(replicas.map((r) => r.stop()));
      await lb.close();
      await deleteSecret(`${name}-tls`);
    }
  });

  it('cert-manager mode waits for the Secret, serves it unchanged, injects its CA and follows renewals', async () => {
    const name = 'webhook-server-cm';
    const ca: KeyPair = await generateCA('cert-manager-test-ca', 30);
    const first = await issueServingCertificate(ca, ['127.0.0.1', 'localhost'], 30);
    const b64 = (s: string) => Buffer.from(s).toString('base64');
    const starting = runWebhooks(c, poolRoutes(), {
      configurationName: name,
      tls: { mode: 'cert-manager', secretName: `${name}-tls` },
    });
    await new Promise((r) => setTimeout(r, 1500));
    const written = await writeSecret(`${name}-tls`, {
      'tls.crt': b64(first.cert),
      'tls.key': b64(first.key),
      'ca.crt': b64(ca.cert),
    });
    const hooks = await starting;
    try {
      assert.equal(await servedFingerprint(hooks.port), fingerprint(first.cert));
      assert.ok((await bundles(name)).every((b) => b.length === 1 && b[0] === fingerprint(ca.cert)));
      const secret = await core.readNamespacedSecret({ namespace: NAMESPACE, name: `${name}-tls` });
      assert.equal(
        secret.metadata?.resourceVersion,
        written.metadata?.resourceVersion,
        'the Secret is not written to in cert-manager mode',
      );

      const renewed = await issueServingCertificate(ca, ['127.0.0.1', 'localhost'], 30);
      await writeSecret(`${name}-tls`, {
        'tls.crt': b64(renewed.cert),
        'tls.key': b64(renewed.key),
        'ca.crt': b64(ca.cert),
      });
      await eventually('the renewed certificate served', 20_000, async () =>
        (await servedFingerprint(hooks.port)) === fingerprint(renewed.cert) ? true : undefined,
      );
      assert.equal((await dryRunPool('cm-a')).metadata.labels?.[MUTATED], 'yes');
    } finally {
      await hooks.stop();
      await deleteSecret(`${name}-tls`);
    }
  });

  it('excluded namespaces are never denied: by namespaceSelector from Kubernetes 1.21, by the server on older apiservers', async () => {
    const name = 'webhook-server-exclude';
    for (const ns of ['webhook-excluded', 'webhook-included']) await ensureNamespace(c, ns);
    const denyAll: WebhookRoute = {
      path: '/validate-test-pods',
      type: 'validating',
      failurePolicy: 'Fail',
      excludeNamespaces: ['webhook-excluded', NAMESPACE],
      rule: {
        apiGroups: [''],
        apiVersions: ['v1'],
        resources: ['configmaps'],
        operations: ['CREATE'],
        scope: 'Namespaced',
      },
      handler: async (req) => ({
        allowed: false,
        message: `ConfigMap ${req.namespace}/${req.object?.metadata?.name}: denied by the test`,
      }),
    };
    const hooks = await runWebhooks(c, [denyAll], { configurationName: name, tls: { secretName: `${name}-tls` } });
    try {
      const cm = (ns: string) =>
        core.createNamespacedConfigMap({ namespace: ns, dryRun: 'All', body: { metadata: { name: 'probe' } } });
      await assert.rejects(cm('webhook-included'), (err) =>
        /ConfigMap webhook-included\/probe: denied by the test/.test(apiMessage(err)),
      );
      const before = counterValue(
        await hooks.webhooks.metrics.registry.metrics(),
        'spiderpool_webhook_requests_total',
        '/validate-test-pods',
      );
      await cm('webhook-excluded');
      const after = counterValue(
        await hooks.webhooks.metrics.registry.metrics(),
        'spiderpool_webhook_requests_total',
        '/validate-test-pods',
      );
      const labelled =
        (await core.readNamespace({ name: 'webhook-excluded' })).metadata?.labels?.['kubernetes.io/metadata.name'] !==
        undefined;
      process.stdout.write(
        `      exclusion: namespace label kubernetes.io/metadata.name ${labelled ? 'present' : 'absent (Kubernetes < 1.21)'}; the apiserver ${after > before ? 'called the server, which allowed it' : 'did not call the server'}\n`,
      );
      assert.equal(after > before, !labelled);
    } finally {
      await hooks.stop();
      await deleteSecret(`${name}-tls`);
    }
  });

  it('the process entry point serves the real rules: registers itself, mutates and validates pools', async () => {
    const name = 'webhook-server-main';
    const port = await freePort();
    const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', join(repoRoot, 'webhooks', 'main.ts')], {
      cwd: repoRoot,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        ...process.env,
        KUBECONFIG: c.cp.kubeconfig,
        SPIDERPOOL_NAMESPACE: NAMESPACE,
        WEBHOOK_PORT: String(port),
        WEBHOOK_METRICS_PORT: '0',
        WEBHOOK_HOST: '127.0.0.1',
        WEBHOOK_URL_HOST: '127.0.0.1',
        WEBHOOK_CONFIGURATION_NAME: name,
        WEBHOOK_TLS_SECRET: `${name}-tls`,
        SPIDERPOOL_POD_WEBHOOK: 'false',
        LOG_LEVEL: 'warn',
      },
    });
    let output = '';
    child.stdout?.on('data', (d: Buffer) => {
      output += d.toString();
    });
    child.stderr?.on('data', (d: Buffer) => {
      output += d.toString();
    });
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    try {
      const pool = await eventually('the webhooks of the process adding the finalizer', 60_000, async () => {
        if (child.exitCode !== null) throw new Error(`webhooks/main.ts exited with ${child.exitCode}: ${output}`);
        const p = await dryRunPool('main-a', '10.96.0.0/16');
        return p.metadata.finalizers?.includes(FINALIZER) ? p : undefined;
      });
      assert.equal(pool.spec.ipVersion, 4);
      await assert.rejects(dryRunPool('main-b', '10.96.0.1/16'), (err) => /spec.subnet/.test(apiMessage(err)));
    } finally {
      await deleteWebhookConfigurations(c.kubeConfig, name);
      await eventually('the apiserver to stop calling the process', 30_000, async () => {
        try {
          return (await dryRunPool('main-c', '10.96.0.0/16')).metadata.finalizers?.includes(FINALIZER)
            ? undefined
            : true;
        } catch {
          return undefined;
        }
      });
      child.kill('SIGTERM');
      assert.equal(await exited, 0, output);
      await deleteSecret(`${name}-tls`);
    }
  });
});
