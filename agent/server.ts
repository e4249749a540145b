// The agent's HTTP API on a unix socket (what the IPAM plugin calls). Its metrics and health are the
// daemon shell's (lib/daemon/health.ts).
import { chmodSync, mkdirSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { dirname } from 'node:path';
import { ApiException } from '@kubernetes/client-node';
import {
  AGENT_PATHS,
  HTTP_STATUS,
  type AgentError,
  type IpamAddArgs,
  type IpamDelArgs,
  type IpConflictReport,
} from '../lib/agent-api.ts';
import { apiMessage } from '../lib/kube.ts';
import type { Logger } from '../lib/log.ts';
import type { CoordinatorConfigSource } from './coordinator-config.ts';
import { AgentFailure } from './errors.ts';
import { checkPodName, type Ipam } from './ipam.ts';
import type { AgentMetrics } from './metrics.ts';

const MAX_BODY = 1024 * 1024;

/** Answered with 413, after which the connection is closed: the rest of the body is never read. */
class BodyTooLarge extends AgentFailure {
  constructor() {
    super('WrongInput', `request body larger than ${MAX_BODY} bytes`);
  }
}

function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    if (Number(req.headers['content-length']) > MAX_BODY) return reject(new BodyTooLarge());
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_BODY) return void chunks.push(chunk);
      req.off('data', onData);
      req.pause();
      chunks.length = 0;
      reject(new BodyTooLarge());
    };
    req.on('data', onData);
    req.on('end', () => {
      if (size > MAX_BODY) return;
      try {
        const parsed = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}');
        if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('not an object');
        resolve(parsed as Record<string, unknown>);
      } catch {
        reject(new AgentFailure('WrongInput', 'request body is not a JSON object'));
      }
    });
    req.on('error', reject);
  });
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

/** Maps any failure to `{ reason, message }`: the plugin turns the reason into a CNI error code. */
function asAgentError(err: unknown): AgentError {
  if (err instanceof AgentFailure) return { reason: err.reason, message: err.message };
  const code = err instanceof ApiException ? err.code : undefined;
  if (code === 409) return { reason: 'RetriesExhausted', message: `conflicting write, retry: ${apiMessage(err)}` };
  if (code === undefined || code >= 500 || code === 429)
    return { reason: 'Unavailable', message: `apiserver unavailable: ${apiMessage(err)}` };
  return { reason: 'Internal', message: apiMessage(err) };
}

export interface AgentServer {
  socketPath: string;
  close(): Promise<void>;
}

export async function serveAgent(options: {
  socketPath: string;
  ipam: Ipam;
  metrics: AgentMetrics;
  log: Logger;
  coordinator?: CoordinatorConfigSource;
}): Promise<AgentServer> {
  const { ipam, metrics, log } = options;

  const serve = (req: IncomingMessage, res: ServerResponse): void => {
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://agent');
    } catch {
      return send(res, 400, { reason: 'WrongInput', message: 'malformed request target' } satisfies AgentError);
    }
    const handle = async (): Promise<void> => {
      if (url.pathname === AGENT_PATHS.healthy && req.method === 'GET') return send(res, 200, {});
      if (url.pathname === AGENT_PATHS.ip && req.method === 'POST') {
        const args = (await readJson(req)) as unknown as IpamAddArgs;
        return send(res, 200, await metrics.time('allocate', () => ipam.allocate(args)));
      }
      if (url.pathname === AGENT_PATHS.ip && req.method === 'DELETE') {
        const args = (await readJson(req)) as unknown as IpamDelArgs;
        await metrics.time('release', () => ipam.release(args));
        return send(res, 200, {});
      }
      if (url.pathname === AGENT_PATHS.conflict && req.method === 'POST') {
        await ipam.setAside((await readJson(req)) as unknown as IpConflictReport);
        return send(res, 200, {});
      }
      if (url.pathname === AGENT_PATHS.workloadEndpoint && req.method === 'GET') {
        const namespace = url.searchParams.get('podNamespace');
        const name = url.searchParams.get('podName');
        if (!namespace || !name)
          throw new AgentFailure('WrongInput', 'query parameters podNamespace and podName are required');
        checkPodName(namespace, name);
        const endpoint = await ipam.workloadEndpoint(namespace, name);
        if (!endpoint)
          return send(res, 404, {
            reason: 'PodNotFound',
            message: `no SpiderEndpoint for pod ${namespace}/${name}`,
          } satisfies AgentError);
        return send(res, 200, endpoint);
      }
      if (url.pathname === AGENT_PATHS.coordinatorConfig && req.method === 'GET' && options.coordinator) {
        // The query string or, as Spiderpool's plugin sends it, a JSON body.
        const body = url.search ? {} : await readJson(req);
        const namespace = url.searchParams.get('podNamespace') ?? body.podNamespace;
        const name = url.searchParams.get('podName') ?? body.podName;
        if (typeof namespace !== 'string' || !namespace || typeof name !== 'string' || !name) {
          throw new AgentFailure('WrongInput', 'podNamespace and podName are required (query parameters or JSON body)');
        }
        checkPodName(namespace, name);
        return send(res, 200, await options.coordinator.config(namespace, name));
      }
      return send(res, 404, {
        reason: 'WrongInput',
        message: `no route ${req.method} ${url.pathname}`,
      } satisfies AgentError);
    };
    handle().catch((err: unknown) => {
      const error = asAgentError(err);
      const status = HTTP_STATUS[error.reason];
      if (status >= 500) log.error('request failed', { path: url.pathname, method: req.method, ...error });
      else log.info('request refused', { path: url.pathname, method: req.method, ...error });
      if (!(err instanceof BodyTooLarge)) return send(res, status, error);
      res.shouldKeepAlive = false;
      send(res, 413, error);
      res.once('finish', () => req.socket.destroy());
    });
  };
  const api = createServer(serve);
  // A client that asks before sending its body (Expect: 100-continue) learns of an oversized one before sending it.
  api.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => {
    if (!(Number(req.headers['content-length']) > MAX_BODY)) res.writeContinue();
    serve(req, res);
  });
  // What Node's HTTP parser refuses (not HTTP at all, oversized headers) gets the same JSON refusal.
  api.on('clientError', (err: NodeJS.ErrnoException, socket) => {
    if (!socket.writable) return socket.destroy();
    const status = err.code === 'HPE_HEADER_OVERFLOW' ? 431 : 400;
    const body = JSON.stringify({
      reason: 'WrongInput',
      message: `malformed HTTP request (${err.code ?? err.message})`,
    });
    socket.end(
      `HTTP/1.1 ${status} ${status === 431 ? 'Request Header Fields Too Large' : 'Bad Request'}\r\n` +
        `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  });
  // Many plugins call at once during a burst of pod starts; keep the socket's accept queue deep.
  api.maxConnections = 4096;

  mkdirSync(dirname(options.socketPath), { recursive: true });
  rmSync(options.socketPath, { force: true });
  await new Promise<void>((resolve, reject) => {
    api.once('error', reject);
    api.listen({ path: options.socketPath, backlog: 4096 }, () => resolve());
  });
  // Only root (the user kubelet runs CNI plugins as) may talk to the agent.
  chmodSync(options.socketPath, 0o600);

  return {
    socketPath: options.socketPath,
    close: async () => {
      const closed = new Promise((r) => api.close(r));
      api.closeAllConnections();
      await closed;
      rmSync(options.socketPath, { force: true });
    },
  };
}
