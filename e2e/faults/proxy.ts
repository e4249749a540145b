// A fault-injecting TLS proxy on 127.0.0.1 between the product's processes and kube-apiserver. Components
// get a kubeconfig whose server is the proxy (with the proxy's own CA); the proxy terminates TLS and
// forwards each request to the apiserver with the request's own Authorization header, so every component
// keeps its identity. Rules pick requests by verb and resource and answer them with an error status,
// reset them before or after the apiserver committed them, delay or stall them; a blackhole switch makes
// the apiserver unreachable (connections refused, or everything silently held as in a partition).
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, createServer as createHttpsServer, request, type RequestOptions } from 'node:https';
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { createServer as createNetServer, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { parse, stringify } from 'yaml';
import { generateCA, issueServingCertificate } from '../../webhooks/certs/generate.ts';

export type Verb = 'GET' | 'LIST' | 'WATCH' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export type Fault =
  /** Answered by the proxy with this status and a Kubernetes Status body; the apiserver never sees it. */
  | { kind: 'status'; code: 429 | 500 | 503 }
  /** The connection is reset before the request is forwarded: nothing was committed. */
  | { kind: 'reset' }
  /** Forwarded and committed, then the connection is reset instead of answering (a watch: at its headers). */
  | { kind: 'drop-response' }
  /** Forwarded, and the answer held back this long. */
  | { kind: 'delay-response'; ms: number }
  /** Never forwarded, never answered: the client's own deadline is all that ends it. */
  | { kind: 'stall' };

export interface FaultRule {
  /** The key its injections are counted under in stats().injected; default the fault's kind. */
  name?: string;
  /** Any verb when absent. */
  verbs?: Verb[];
  /** `plural` or `plural/subresource` (`spiderippools/status`), matched exactly; any when absent. */
  resources?: string[];
  /** Chance that a matching request gets the fault; default 1. */
  probability?: number;
  /** At most this many injections; unlimited when absent. */
  count?: number;
  fault: Fault;
}

/** `refuse`: the apiserver is down (connections reset); `stall`: partitioned (nothing ever answers). */
export type BlackholeMode = 'refuse' | 'stall';

export interface ProxyStats {
  requests: number;
  forwarded: number;
  /** Injections by rule name. */
  injected: Record<string, number>;
  /** Connections and requests refused or held by the blackhole. */
  blackholed: number;
  /** Requests the apiserver could not take (it was restarting): the client's connection is reset. */
  upstreamFailures: number;
}

export interface FaultProxy {
  url: string;
  /** A copy of the apiserver's kubeconfig whose server is the proxy, trusting the proxy's CA. */
  kubeconfig: string;
  addRule(rule: FaultRule): { remove(): void };
  clearRules(): void;
  /** Switches the blackhole on in a mode, or off (what it held is reset, as by a peer that lost state). */
  blackhole(mode: BlackholeMode | false): void;
  stats(): ProxyStats;
  close(): Promise<void>;
}

export interface ProxyOptions {
  /** The apiserver's kubeconfig (current context): its server and CA are the upstream. */
  kubeconfig: string;
  /** Source of randomness for rule probabilities; default Math.random. */
  random?: () => number;
}

/** The verb and resource of an apiserver request, as rules match them. */
export function classify(method: string, url: string): { verb: Verb; resource: string } {
  const { pathname, searchParams } = new URL(url, 'https://apiserver');
  const segments = pathname.split('/').filter(Boolean);
  let rest = segments[0] === 'api' ? segments.slice(2) : segments[0] === 'apis' ? segments.slice(3) : undefined;
  if (!rest) return { verb: (method === 'GET' ? 'GET' : method) as Verb, resource: pathname };
  const legacyWatch = rest[0] === 'watch';
  if (legacyWatch) rest = rest.slice(1);
  if (rest[0] === 'namespaces' && rest.length > 2) rest = rest.slice(2);
  const [plural = '', name, subresource] = rest;
  const resource = subresource ? `${plural}/${subresource}` : plural;
  if (method !== 'GET') return { verb: method as Verb, resource };
  const watch = legacyWatch || ['true', '1'].includes(searchParams.get('watch') ?? '');
  return { verb: watch ? 'WATCH' : name ? 'GET' : 'LIST', resource };
}

function statusBody(code: number): string {
  const reason = { 429: 'TooManyRequests', 500: 'InternalError', 503: 'ServiceUnavailable' }[code] ?? 'Unknown';
  return JSON.stringify({
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message: `injected fault: ${reason}`,
    reason,
    details: { retryAfterSeconds: 1 },
    code,
  });
}

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'upgrade', 'host', 'transfer-encoding']);
const endToEnd = (headers: IncomingMessage['headers'], keepTransferEncoding: boolean): OutgoingHttpHeaders =>
  Object.fromEntries(
    Object.entries(headers).filter(([k]) => !HOP_BY_HOP.has(k) || (keepTransferEncoding && k === 'transfer-encoding')),
  );

/** Resets the TCP connection under a request (RST, not FIN), as a crashed or partitioned peer does. */
function reset(socket: Socket | null | undefined): void {
  const raw = (socket as (Socket & { _parent?: Socket }) | null | undefined)?._parent ?? socket;
  if (!raw || raw.destroyed) return;
  raw.resetAndDestroy();
}

interface Upstream {
  server: URL;
  ca?: Buffer;
}

function readUpstream(kubeconfigPath: string): { upstream: Upstream; config: Record<string, unknown> } {
  const config = parse(readFileSync(kubeconfigPath, 'utf8')) as {
    'current-context'?: string;
    contexts: { name: string; context: { cluster: string } }[];
    clusters: { name: string; cluster: Record<string, string> }[];
  };
  const context = config.contexts.find((c) => c.name === config['current-context']) ?? config.contexts[0];
  const cluster = config.clusters.find((c) => c.name === context?.context.cluster)?.cluster;
  if (!cluster?.server) throw new Error(`${kubeconfigPath}: no server in the current context`);
  const ca = cluster['certificate-authority-data']
    ? Buffer.from(cluster['certificate-authority-data'], 'base64')
    : cluster['certificate-authority']
      ? readFileSync(resolve(dirname(kubeconfigPath), cluster['certificate-authority']))
      : undefined;
  return { upstream: { server: new URL(cluster.server), ca }, config };
}

export async function startFaultProxy(options: ProxyOptions): Promise<FaultProxy> {
  const random = options.random ?? Math.random;
  const { upstream, config } = readUpstream(options.kubeconfig);
  const ca = await generateCA('spiderpool-fault-proxy-ca', 1);
  const serving = await issueServingCertificate(ca, ['127.0.0.1', 'localhost'], 1);
  const agent = new Agent({ keepAlive: true, ca: upstream.ca });
  const stats: ProxyStats = { requests: 0, forwarded: 0, injected: {}, blackholed: 0, upstreamFailures: 0 };
  const rules = new Set<{ rule: FaultRule; used: number }>();
  let mode: BlackholeMode | false = false;
  const connections = new Set<Socket>();
  /** Connections the blackhole or a stall holds: reset when it lifts, or at close(). */
  const held = new Set<Socket>();
  /** Requests forwarded and not yet answered, so a stalling blackhole can silence them. */
  const inFlight = new Set<{ upstream: ReturnType<typeof request>; frozen: boolean; res: ServerResponse }>();

  const pick = (verb: Verb, resource: string) => {
    for (const entry of rules) {
      const { rule } = entry;
      if (rule.verbs && !rule.verbs.includes(verb)) continue;
      if (rule.resources && !rule.resources.includes(resource)) continue;
      if (rule.count !== undefined && entry.used >= rule.count) continue;
      if (random() >= (rule.probability ?? 1)) continue;
      entry.used++;
      const name = rule.name ?? rule.fault.kind;
      stats.injected[name] = (stats.injected[name] ?? 0) + 1;
      return rule.fault;
    }
    return undefined;
  };

  const hold = (socket: Socket) => {
    socket.pause();
    held.add(socket);
  };

  const forward = (req: IncomingMessage, res: ServerResponse, verb: Verb, fault?: Fault) => {
    stats.forwarded++;
    const requestOptions: RequestOptions = {
      hostname: upstream.server.hostname,
      port: upstream.server.port,
      method: req.method,
      path: req.url,
      headers: endToEnd(req.headers, true),
      agent,
    };
    const up = request(requestOptions);
    const exchange = { upstream: up, frozen: false, res };
    inFlight.add(exchange);
    const done = () => inFlight.delete(exchange);
    res.on('close', () => {
      done();
      up.destroy();
    });
    up.on('error', () => {
      done();
      if (exchange.frozen) return;
      if (!res.headersSent) stats.upstreamFailures++;
      reset(req.socket);
    });
    up.on('response', (upRes) => {
      const answer = () => {
        if (exchange.frozen) return;
        res.writeHead(upRes.statusCode ?? 502, endToEnd(upRes.headers, false));
        upRes.pipe(res);
        upRes.on('end', done);
      };
      if (!fault) return answer();
      if (fault.kind === 'drop-response') {
        const drop = () => {
          done();
          reset(req.socket);
        };
        // A watch is committed once its headers arrive; anything else once its whole body has.
        if (verb === 'WATCH') return drop();
        upRes.on('end', drop);
        upRes.resume();
      } else if (fault.kind === 'delay-response') {
        upRes.pause();
        setTimeout(answer, fault.ms);
      } else answer();
    });
    req.pipe(up);
  };

  const tlsServer = createHttpsServer({ key: serving.key, cert: serving.cert }, (req, res) => {
    stats.requests++;
    if (mode) {
      stats.blackholed++;
      if (mode === 'refuse') reset(req.socket);
      else hold(req.socket);
      return;
    }
    const { verb, resource } = classify(req.method ?? 'GET', req.url ?? '/');
    const fault = pick(verb, resource);
    if (!fault || fault.kind === 'drop-response' || fault.kind === 'delay-response')
      return forward(req, res, verb, fault);
    if (fault.kind === 'status') {
      const body = statusBody(fault.code);
      res.writeHead(fault.code, {
        'Content-Type': 'application/json',
        'Content-Length': Buffer.byteLength(body),
        'Retry-After': '1',
      });
      res.end(body);
    } else if (fault.kind === 'reset') reset(req.socket);
    else hold(req.socket);
  });
  // The apiserver keeps idle connections open; a proxy closing them after 5 s would inject resets of its own.
  tlsServer.keepAliveTimeout = 0;
  tlsServer.on('secureConnection', (socket) => {
    connections.add(socket);
    socket.on('close', () => {
      connections.delete(socket);
      held.delete(socket);
    });
  });
  tlsServer.on('tlsClientError', () => undefined);

  const tcpServer = createNetServer((raw) => {
    raw.on('error', () => undefined);
    if (mode === 'refuse') {
      stats.blackholed++;
      return raw.resetAndDestroy();
    }
    if (mode === 'stall') {
      stats.blackholed++;
      held.add(raw);
      raw.on('close', () => held.delete(raw));
      return;
    }
    tlsServer.emit('connection', raw);
  });
  await new Promise<void>((r) => tcpServer.listen(0, '127.0.0.1', r));
  const port = (tcpServer.address() as AddressInfo).port;
  const url = `https://127.0.0.1:${port}`;

  const dir = mkdtempSync(join(tmpdir(), 'spiderpool-fault-proxy-'));
  const kubeconfig = join(dir, 'kubeconfig');
  const proxied = config as { clusters: { cluster: Record<string, string> }[] };
  for (const { cluster } of proxied.clusters) {
    cluster.server = url;
    delete cluster['certificate-authority'];
    cluster['certificate-authority-data'] = Buffer.from(ca.cert).toString('base64');
  }
  writeFileSync(kubeconfig, stringify(proxied), { mode: 0o600 });

  const resetHeld = () => {
    for (const socket of held) reset(socket);
    held.clear();
  };

  return {
    url,
    kubeconfig,
    addRule(rule) {
      const entry = { rule, used: 0 };
      rules.add(entry);
      return { remove: () => rules.delete(entry) };
    },
    clearRules: () => rules.clear(),
    blackhole(next) {
      if (next === mode) return;
      if (mode) resetHeld();
      mode = next;
      if (next === 'refuse') {
        stats.blackholed += connections.size;
        for (const socket of connections) reset(socket);
      }
      if (next === 'stall') {
        // Partitioned: answers on their way are lost and open connections go silent.
        stats.blackholed += inFlight.size;
        for (const exchange of inFlight) {
          exchange.frozen = true;
          exchange.upstream.destroy();
          hold(exchange.res.socket as Socket);
        }
        inFlight.clear();
        for (const socket of connections) hold(socket);
      }
    },
    stats: () => ({ ...stats, injected: { ...stats.injected } }),
    async close() {
      rules.clear();
      const closed = new Promise<void>((r) => tcpServer.close(() => r()));
      for (const socket of [...connections, ...held]) reset(socket);
      agent.destroy();
      await closed;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
