// Test stand-in for spiderpool-agent: an HTTP server on a unix socket in a temp dir that records each
// request and answers from per-route handlers. Healthy by default; unhandled routes answer 501.
// The temp dir is under the agent socket's directory, the only place the plugins accept a socket from,
// and the socket is root's with mode 0600 like the real agent's (the tests run as root).
import { chmodSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { AGENT_PATHS } from '../../../lib/agent-api.ts';
import { socketTempDir } from './dirs.ts';

export interface AgentRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  body: unknown;
}
/** `hang` never answers, to exercise the plugin's deadlines; `reset` drops the connection. */
export type Reply = { status: number; body?: unknown; raw?: string } | 'hang' | 'reset';
export type Handler = (req: AgentRequest) => Reply;

export class FakeAgent {
  readonly requests: AgentRequest[] = [];
  private handlers = new Map<string, Handler>();

  private constructor(
    private readonly server: Server,
    private readonly dir: string,
    readonly socketPath: string,
  ) {
    this.reset();
  }

  /** Listens on `agent.sock` in `dir`, which stop() removes. */
  static async start(dir = socketTempDir()): Promise<FakeAgent> {
    const socketPath = join(dir, 'agent.sock');
    const server = createServer();
    const agent = new FakeAgent(server, dir, socketPath);
    server.on('request', (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const url = new URL(req.url ?? '/', 'http://agent');
        const text = Buffer.concat(chunks).toString('utf8');
        const request: AgentRequest = {
          method: req.method ?? '',
          path: url.pathname,
          query: Object.fromEntries(url.searchParams),
          body: text ? JSON.parse(text) : undefined,
        };
        agent.requests.push(request);
        const handler = agent.handlers.get(`${request.method} ${request.path}`);
        const reply: Reply = handler ? handler(request) : { status: 501, raw: 'no handler' };
        if (reply === 'hang') return;
        if (reply === 'reset') {
          req.socket.destroy();
          return;
        }
        res.writeHead(reply.status, { 'content-type': 'application/json' });
        res.end(reply.raw ?? (reply.body === undefined ? '' : JSON.stringify(reply.body)));
      });
    });
    await new Promise<void>((resolve) => server.listen(socketPath, resolve));
    chmodSync(socketPath, 0o600);
    return agent;
  }

  /** `key` is "METHOD /path" without the query string. */
  on(key: string, handler: Handler | Reply): this {
    this.handlers.set(key, typeof handler === 'function' ? handler : () => handler);
    return this;
  }

  reset(): void {
    this.requests.length = 0;
    this.handlers.clear();
    this.on(`GET ${AGENT_PATHS.healthy}`, { status: 200 });
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
    rmSync(this.dir, { recursive: true, force: true });
  }
}
