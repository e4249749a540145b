// The plain-HTTP endpoint every daemon serves for Prometheus and the kubelet's probes:
//   /metrics   the daemon's registry
//   /healthz   200 while the process serves at all (liveness)
//   /readyz    200 once the daemon says it is ready, else 503 (readiness)
// Spiderpool's probe paths /v1/runtime/startup, /liveness and /readiness answer like /healthz, /healthz
// and /readyz, so probes written for Spiderpool's manifests keep working.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';

export interface HealthServerOptions {
  registry: Registry;
  port: number;
  host: string;
  ready: () => boolean;
}

export interface HealthServer {
  /** The bound port (the chosen one when 0 was asked for). */
  readonly port: number;
  close(): Promise<void>;
}

const LIVENESS = new Set(['/healthz', '/v1/runtime/startup', '/v1/runtime/liveness']);
const READINESS = new Set(['/readyz', '/v1/runtime/readiness']);

export function serveHealth(options: HealthServerOptions): Promise<HealthServer> {
  const { registry, ready } = options;
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0] as string;
    const text = (status: number, body: string) => res.writeHead(status, { 'Content-Type': 'text/plain' }).end(body);
    if (path === '/metrics') {
      registry.metrics().then(
        (body) => {
          res.writeHead(200, { 'Content-Type': registry.contentType }).end(body);
        },
        (err: unknown) => text(500, String(err)),
      );
    } else if (LIVENESS.has(path)) {
      text(200, 'ok');
    } else if (READINESS.has(path)) {
      if (ready()) text(200, 'ok');
      else text(503, 'not ready');
    } else {
      text(404, 'not found');
    }
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve({
        port: (server.address() as AddressInfo).port,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            server.closeAllConnections();
          }),
      });
    });
  });
}
