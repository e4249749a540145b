// HTTP over the agent's unix socket. Transport failures become CNI errors here; what an HTTP error
// answer means depends on the command, so those are returned to the caller.
import { statSync } from 'node:fs';
import { AGENT_PATHS, CNI_CODE_FOR_REASON, CNI_ERROR, type AgentError } from '../../lib/agent-api.ts';
import { CniError } from './errors.ts';

const HEALTH_TIMEOUT_MS = 5_000;
const RETRY_INTERVAL_MS = 250;

export type AgentAnswer =
  | { ok: true; status: number; body: unknown }
  | { ok: false; status: number; error: AgentError | undefined; raw: string };

export interface AgentCall {
  method: 'GET' | 'POST' | 'DELETE';
  path: string;
  body?: unknown;
  timeoutMs: number;
}

// Errors that mean nobody is listening on the socket (agent not started, crashed, or wrong path).
const UNREACHABLE = new Set(['ENOENT', 'ECONNREFUSED', 'EACCES', 'ENOTSOCK']);

/** No agent to talk to: nothing listens on the socket, or nothing answered in time. */
export class AgentAbsentError extends CniError {}

export class AgentClient {
  constructor(readonly socketPath: string) {}

  call({ method, path, body, timeoutMs }: AgentCall): Promise<AgentAnswer> {
    try {
      checkSocketOwner(this.socketPath);
    } catch (err) {
      return Promise.reject(err);
    }
    // Loaded on first use: node:http costs about 4 ms of start, which a VERSION or a refused config never needs.
    // (A single executable's main script has no import(); getBuiltinModule is its lazy require.)
    const { request } = process.getBuiltinModule('node:http');
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const what = `${method} ${path}`;
    return new Promise((resolve, reject) => {
      const req = request({
        socketPath: this.socketPath,
        path,
        method,
        // One request per process: no keep-alive socket should hold the process open after the answer.
        agent: false,
        headers: {
          connection: 'close',
          accept: 'application/json',
          ...(payload === undefined
            ? {}
            : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) }),
        },
      });
      const fail = (err: Error): void => {
        clearTimeout(timer);
        reject(this.transportError(err, what));
      };
      // An overall deadline, not the socket idle timeout, so a slowly trickling answer cannot hang the
      // runtime. Rejecting first makes the errors that destroy() causes afterwards no-ops.
      const timer = setTimeout(() => {
        fail(
          new AgentAbsentError(
            CNI_ERROR.tryAgainLater,
            `spiderpool-agent at ${this.socketPath} did not answer ${what} within ${timeoutMs / 1000} s`,
            'timeout',
          ),
        );
        req.destroy();
      }, timeoutMs);
      req.on('error', fail);
      req.on('response', (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', fail);
        res.on('end', () => {
          clearTimeout(timer);
          const raw = Buffer.concat(chunks).toString('utf8');
          const status = res.statusCode ?? 0;
          resolve(
            status >= 200 && status < 300
              ? { ok: true, status, body: parseJson(raw) }
              : { ok: false, status, error: agentError(raw), raw },
          );
        });
      });
      req.end(payload);
    });
  }

  healthy(timeoutMs: number): Promise<AgentAnswer> {
    return this.call({ method: 'GET', path: AGENT_PATHS.healthy, timeoutMs });
  }

  private transportError(err: Error, what: string): CniError {
    if (err instanceof CniError) return err;
    const code = (err as NodeJS.ErrnoException).code ?? '';
    if (UNREACHABLE.has(code)) {
      return new AgentAbsentError(
        CNI_ERROR.agentUnreachable,
        `spiderpool-agent is unreachable on unix socket ${this.socketPath}: ${err.message}`,
        code,
      );
    }
    // A reset or a half-written answer usually means the agent restarted mid-request: retrying helps.
    return new CniError(
      CNI_ERROR.tryAgainLater,
      `${what} to spiderpool-agent at ${this.socketPath} failed: ${err.message}`,
      code,
    );
  }
}

/**
 * Whoever can create the socket file can impersonate the agent and learn every pod's identity, so the
 * plugin talks only to a socket that root owns and only root can connect to or replace. A missing file
 * is left to connect(), which reports the agent as absent.
 */
function checkSocketOwner(socketPath: string): void {
  let stat;
  try {
    stat = statSync(socketPath);
  } catch {
    return;
  }
  const untrusted = (why: string) =>
    new CniError(CNI_ERROR.agentSocketUntrusted, `refusing to connect to the agent socket ${socketPath}: ${why}`);
  if (!stat.isSocket()) throw untrusted('it is not a socket');
  if (stat.uid !== 0) throw untrusted(`it is owned by uid ${stat.uid}, not root`);
  const mode = stat.mode & 0o777;
  if (mode & 0o022) throw untrusted(`its mode 0${mode.toString(8).padStart(3, '0')} lets group or others write to it`);
}

function parseJson(raw: string): unknown {
  if (raw === '') return undefined;
  try {
    return JSON.parse(raw);
  } catch {
    return undefined;
  }
}

function agentError(raw: string): AgentError | undefined {
  const body = parseJson(raw) as Partial<AgentError> | undefined;
  if (typeof body !== 'object' || body === null) return undefined;
  if (typeof body.reason !== 'string' || !Object.hasOwn(CNI_CODE_FOR_REASON, body.reason)) return undefined;
  return { reason: body.reason, message: typeof body.message === 'string' ? body.message : '' };
}

/**
 * The CNI error for an agent error answer: the code its reason maps to, the agent's message after
 * `context` (which names the pod and interface), and the HTTP status and request in `details`.
 */
export function answerError(answer: Extract<AgentAnswer, { ok: false }>, context: string, what: string): CniError {
  const { error, status, raw } = answer;
  if (!error) {
    const snippet = raw.length > 200 ? `${raw.slice(0, 200)}…` : raw;
    return new CniError(
      CNI_ERROR.agentInternal,
      `${context}: spiderpool-agent answered ${what} with HTTP ${status} and no error reason`,
      snippet,
    );
  }
  return new CniError(
    CNI_CODE_FOR_REASON[error.reason],
    `${context}: ${error.reason}: ${error.message}`,
    `HTTP ${status} from ${what}`,
  );
}

/** The agent answered 2xx with a body that does not have the documented shape. */
export function malformed(what: string, problem: string): CniError {
  return new CniError(CNI_ERROR.agentInternal, `spiderpool-agent answered ${what} with a malformed body: ${problem}`);
}

/**
 * Health-checks until the agent answers healthy (undefined) or `waitMs` is over (the last absence). An
 * agent that answers with an error is thrown at once: only its absence is waited out.
 */
export async function awaitAgent(client: AgentClient, waitMs: number): Promise<AgentAbsentError | undefined> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    try {
      await ensureHealthy(client, Math.min(HEALTH_TIMEOUT_MS, Math.max(deadline - Date.now(), RETRY_INTERVAL_MS)));
      return undefined;
    } catch (err) {
      if (!(err instanceof AgentAbsentError)) throw err;
      // One that let a whole health check time out is there but stuck: asking again only doubles the wait.
      if (deadline - Date.now() < RETRY_INTERVAL_MS || err.details === 'timeout') return err;
    }
    await new Promise((resolve) => setTimeout(resolve, RETRY_INTERVAL_MS));
  }
}

/**
 * GET /v1/ipam/healthy before any other call, like Spiderpool: a clear "agent not ready" error is
 * better than a half-served request. Any failure is an error so that kubelet retries the command.
 */
export async function ensureHealthy(client: AgentClient, timeoutMs = HEALTH_TIMEOUT_MS): Promise<void> {
  const answer = await client.healthy(timeoutMs);
  if (answer.ok) return;
  const what = `GET ${AGENT_PATHS.healthy}`;
  const context = `unhealthy spiderpool-agent backend at ${client.socketPath}`;
  if (answer.error) throw answerError(answer, context, what);
  throw new CniError(CNI_ERROR.tryAgainLater, `${context}: HTTP ${answer.status}`, answer.raw.slice(0, 200));
}
