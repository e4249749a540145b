// The HTTPS admission server: routes AdmissionReviews to handlers, serves /healthz and /metrics, and
// swaps its certificate in place when the certificate Secret changes.
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../../lib/log.ts';
import { type AdmittedWrite, admittedWrite } from '../admitted-writes.ts';
import type { WebhookMetrics } from '../metrics.ts';
import type { AdmissionDecision, AdmissionRequest, ClusterView, WebhookRoute } from '../types.ts';
import { MalformedReviewError, decodeReview, encodeReview } from './review.ts';

/** PEM key and certificate chain the server presents. */
export interface ServingCertificate {
  key: string;
  cert: string;
}

export interface WebhookServerOptions {
  routes: WebhookRoute[];
  cluster: ClusterView;
  /** What routes with cachedReads read first; a refusal is decided again from `cluster`. */
  cachedCluster?: ClusterView;
  /**
   * What routes with provenReads read first, and where their validating routes note each write they admit; a
   * refusal is decided again from `cluster`.
   */
  proven?: { cluster: ClusterView; note(write: AdmittedWrite): Promise<void> };
  metrics: WebhookMetrics;
  log: Logger;
  certificate: ServingCertificate;
  /** Default 0.0.0.0. */
  host?: string;
  /** 0 picks a free port. */
  port: number;
}

// Reviews carry whole objects; pods with large annotations or pools with long IP lists stay well under this.
const MAX_BODY_BYTES = 4 * 1024 * 1024;

class BodyTooLargeError extends Error {}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        reject(new BodyTooLargeError(`the body exceeds ${MAX_BODY_BYTES} bytes`));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function send(res: ServerResponse, status: number, contentType: string, body: string): void {
  res.writeHead(status, { 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}

export class WebhookServer {
  private readonly server: Server;
  private readonly routes: Map<string, WebhookRoute>;

  constructor(private readonly options: WebhookServerOptions) {
    this.routes = new Map(options.routes.map((r) => [r.path, r]));
    if (this.routes.size !== options.routes.length) throw new Error('two webhook routes share one path');
    this.server = createServer({ ...options.certificate }, (req, res) => void this.serve(req, res));
    // The apiserver keeps connections to webhooks open; these match controller-runtime's server.
    this.server.keepAliveTimeout = 90_000;
    this.server.headersTimeout = 32_000;
  }

  async listen(): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.options.port, this.options.host ?? '0.0.0.0', () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    return this.port;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  /** New connections get this certificate; open ones keep the one they were established with. */
  setCertificate(certificate: ServingCertificate): void {
    this.server.setSecureContext({ ...certificate });
  }

  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections();
    await closed;
  }

  private async serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0] as string;
    try {
      if (req.method === 'GET' && path === '/healthz') return send(res, 200, 'text/plain', 'ok');
      if (req.method === 'GET' && path === '/metrics') {
        return send(res, 200, this.options.metrics.registry.contentType, await this.options.metrics.registry.metrics());
      }
      const route = this.routes.get(path);
      if (!route) return send(res, 404, 'text/plain', `no webhook is served at ${path}`);
      if (req.method !== 'POST') return send(res, 405, 'text/plain', `${path} accepts POST only`);
      await this.admit(route, req, res);
    } catch (err) {
      this.options.log.error('webhook request failed', { path, err: String(err) });
      if (!res.headersSent) send(res, 500, 'text/plain', String(err));
    }
  }

  private async admit(route: WebhookRoute, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = process.hrtime.bigint();
    let request: AdmissionRequest;
    try {
      request = decodeReview(await readBody(req));
    } catch (err) {
      if (err instanceof BodyTooLargeError) return send(res, 413, 'text/plain', err.message);
      if (err instanceof MalformedReviewError)
        return send(res, 400, 'text/plain', `malformed AdmissionReview for ${route.path}: ${err.message}`);
      throw err;
    }
    const { decision, failed } = await this.decide(route, request);
    const review = encodeReview(request.uid, decision, {
      mayPatch: route.type === 'mutating' && request.operation !== 'DELETE',
    });
    send(res, 200, 'application/json', JSON.stringify(review));
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    this.options.metrics.observe(
      route.path,
      request.operation,
      failed ? 'error' : decision.allowed ? 'allowed' : 'denied',
      seconds,
    );
    if (!decision.allowed) {
      this.options.log.info('admission denied', {
        webhook: route.path,
        operation: request.operation,
        kind: request.kind.kind,
        namespace: request.namespace,
        name: request.name ?? request.object?.metadata?.name,
        message: decision.message,
      });
    }
  }

  private async decide(
    route: WebhookRoute,
    request: AdmissionRequest,
  ): Promise<{ decision: AdmissionDecision; failed: boolean }> {
    // namespaceSelector on kubernetes.io/metadata.name only works from Kubernetes 1.21, when that label
    // became automatic; this check keeps the exclusion effective on older apiservers too.
    if (request.namespace && route.excludeNamespaces?.includes(request.namespace))
      return { decision: { allowed: true }, failed: false };
    try {
      const { cachedCluster, proven } = this.options;
      const cached = route.cachedReads ? cachedCluster : route.provenReads ? proven?.cluster : undefined;
      let decision: AdmissionDecision | undefined;
      if (cached) {
        // Only a refusal is confirmed with consistent reads: the pool it names may be too new for the cache.
        decision = await route.handler(request, cached);
      }
      if (!decision?.allowed) decision = await route.handler(request, this.options.cluster);
      const write =
        proven && route.provenReads && route.type === 'validating' && decision.allowed
          ? admittedWrite(request, Date.now())
          : undefined;
      // Noted before it is answered: a check that starts once the write has completed must find the note.
      if (write) await proven?.note(write);
      return { decision, failed: false };
    } catch (err) {
      this.options.log.error('admission handler threw', {
        webhook: route.path,
        uid: request.uid,
        err: err instanceof Error ? err.stack : String(err),
      });
      const message = `internal error in ${route.path}: ${err instanceof Error ? err.message : String(err)}`;
      return { decision: { allowed: false, code: 500, message }, failed: true };
    }
  }
}
