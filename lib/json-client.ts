// A lean JSON client for the requests on the ADD and DEL path (endpoints, pool status, pods, events). Through
// client-node each request re-reads the kubeconfig's credentials, builds an agent, a node-fetch request and
// an object serializer pass: in an allocation burst that cost the agent more CPU than the apiserver spent on
// the request. Here the credentials are read every AUTH_REFRESH_MS (a service account token file rotates far
// more slowly), every request shares one keep-alive agent and TLS context, and bodies are plain JSON.
// Failures look like client-node's: an ApiException with the Status body for a non-2xx answer, a
// RequestTimeout without an answer, a system error (with its string code) when the connection fails.
import {
  type Agent as HttpAgent,
  type IncomingMessage,
  type OutgoingHttpHeaders,
  request as httpRequest,
} from 'node:http';
import { Agent, type RequestOptions, request as httpsRequest } from 'node:https';
import { createSecureContext } from 'node:tls';
import { ApiException, type KubeConfig } from '@kubernetes/client-node';
import { RequestTimeout } from './kube.ts';

const AUTH_REFRESH_MS = 30_000;
/**
 * Connections to the apiserver per client. A burst of ADDs or DELs waits here rather than opening a TLS connection
 * per request: hundreds of connections cost both ends more CPU and memory than the requests, and only move the
 * queue into the apiserver.
 */
const MAX_SOCKETS = 8;

interface Credentials {
  at: number;
  key: string;
  agent: Agent;
  headers: OutgoingHttpHeaders;
}

export type JsonMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface JsonRequest {
  query?: Record<string, string>;
  body?: unknown;
  /** Default application/json; PATCH needs the patch type. */
  contentType?: string;
}

export class JsonClient {
  private credentials?: Credentials;
  private pending?: Promise<Credentials>;
  private readonly server: URL;

  constructor(
    private readonly kubeConfig: KubeConfig,
    private readonly timeoutMs: number,
  ) {
    const cluster = kubeConfig.getCurrentCluster();
    if (!cluster) throw new Error('the kubeconfig has no current cluster');
    this.server = new URL(cluster.server);
  }

  /** The decoded answer; throws ApiException for any non-2xx answer. */
  async request<T>(method: JsonMethod, path: string, options: JsonRequest = {}): Promise<T> {
    const credentials = await this.fresh();
    const query = options.query ? `?${new URLSearchParams(options.query).toString()}` : '';
    const body = options.body === undefined ? undefined : JSON.stringify(options.body);
    const headers: OutgoingHttpHeaders = { ...credentials.headers, Accept: 'application/json' };
    if (body !== undefined) {
      headers['Content-Type'] = options.contentType ?? 'application/json';
      headers['Content-Length'] = Buffer.byteLength(body);
    }
    const base = this.server.pathname.replace(/\/$/, '');
    const requestOptions: RequestOptions = {
      method,
      host: this.server.hostname.replace(/^\[|\]$/g, ''),
      port: this.server.port || (this.server.protocol === 'https:' ? 443 : 80),
      path: `${base}${path}${query}`,
      headers,
      agent: credentials.agent as unknown as HttpAgent,
    };
    const response = await new Promise<{ status: number; text: string; headers: IncomingMessage['headers'] }>(
      (resolve, reject) => {
        const send = this.server.protocol === 'https:' ? httpsRequest : httpRequest;
        const req = send(requestOptions, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () =>
            resolve({
              status: res.statusCode ?? 0,
              text: Buffer.concat(chunks).toString('utf8'),
              headers: res.headers,
            }),
          );
          res.on('error', reject);
        });
        req.setTimeout(this.timeoutMs, () =>
          req.destroy(new RequestTimeout(`${method} ${path} got no answer within ${this.timeoutMs} ms`)),
        );
        req.on('error', reject);
        req.end(body);
      },
    );
    if (response.status < 200 || response.status > 299) {
      const flat = Object.fromEntries(Object.entries(response.headers).map(([k, v]) => [k, String(v)]));
      throw new ApiException(response.status, `${method} ${path} failed`, response.text, flat);
    }
    return (response.text ? JSON.parse(response.text) : undefined) as T;
  }

  private fresh(): Promise<Credentials> {
    if (this.credentials && Date.now() - this.credentials.at < AUTH_REFRESH_MS)
      return Promise.resolve(this.credentials);
    this.pending ??= this.load().finally(() => (this.pending = undefined));
    return this.pending;
  }

  private async load(): Promise<Credentials> {
    const opts: RequestOptions = {};
    await this.kubeConfig.applyToHTTPSOptions(opts);
    const { ca, cert, key, pfx, passphrase, rejectUnauthorized, servername } = opts;
    const tls = { ca, cert, key, pfx, passphrase, rejectUnauthorized, servername };
    const id = JSON.stringify(Object.values(tls).map((v) => (v === undefined ? null : String(v))));
    let agent = this.credentials?.agent;
    if (!agent || this.credentials?.key !== id) {
      agent?.destroy();
      const secureContext = createSecureContext({ ca, cert, key, pfx, passphrase });
      agent = new Agent({ keepAlive: true, maxSockets: MAX_SOCKETS, secureContext, rejectUnauthorized, servername });
    }
    const headers: OutgoingHttpHeaders = { ...(opts.headers as OutgoingHttpHeaders) };
    if (opts.auth) headers.Authorization = `Basic ${Buffer.from(opts.auth).toString('base64')}`;
    this.credentials = { at: Date.now(), key: id, agent, headers };
    return this.credentials;
  }
}
