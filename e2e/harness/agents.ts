// Real agent processes, one per simulated node, each with its own unix socket.
import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { DEFAULT_AGENT_SOCKET } from '../../lib/agent-api.ts';
import { freePort } from '../cluster/control-plane.ts';
import { repoRoot } from '../cluster/install.ts';
import type { DaemonGroup, DaemonProcess } from './processes.ts';

/** `runDir` is what the node sees as /var/run/spidernet: the agent's socket is spiderpool.sock in it. */
export interface RunningAgent extends DaemonProcess {
  node: string;
  runDir: string;
  socket: string;
  metricsPort: number;
}
export interface Agents extends DaemonGroup {
  agents: RunningAgent[];
  /** Ends a node's agent with the signal (SIGKILL for a crash) and starts it again on the same socket. */
  restart(node: string, signal?: NodeJS.Signals): Promise<void>;
}

export interface AgentCall {
  status: number;
  body: unknown;
}

/** Sends one request to an agent socket exactly as the IPAM plugin does. */
export function callAgent(
  socket: string,
  method: string,
  path: string,
  body?: unknown,
  timeoutMs = 60_000,
): Promise<AgentCall> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? '' : JSON.stringify(body);
    const req = request(
      {
        socketPath: socket,
        method,
        path,
        headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(payload) },
        timeout: timeoutMs,
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          text += c;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text ? JSON.parse(text) : undefined }));
      },
    );
    req.on('timeout', () => req.destroy(new Error(`agent call ${method} ${path} timed out`)));
    req.on('error', reject);
    req.end(payload);
  });
}

async function waitHealthy(agent: RunningAgent): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (agent.process.exitCode !== null)
      throw new Error(`agent of ${agent.node} exited: ${readFileSync(agent.logFile, 'utf8').slice(-2000)}`);
    const ok = await callAgent(agent.socket, 'GET', '/v1/ipam/healthy', undefined, 1000).then(
      (r) => r.status === 200,
      () => false,
    );
    if (ok) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`agent of ${agent.node} not healthy after 60 s`);
}

/** How an agent is started by default: from the sources under tsx. A benchmark passes the bundle instead. */
const AGENT_FROM_SOURCES = ['--import', 'tsx', join(repoRoot, 'agent', 'main.ts')];

export async function startAgents(
  kubeconfig: string,
  nodes: string[],
  env: Record<string, string> = {},
  nodeArgs: string[] = AGENT_FROM_SOURCES,
): Promise<Agents> {
  const dir = mkdtempSync(join(tmpdir(), 'spiderpool-agents-'));
  // The plugin trusts only sockets under the real agent's directory, so the nodes' run directories live there.
  const agentRunRoot = dirname(DEFAULT_AGENT_SOCKET);
  mkdirSync(agentRunRoot, { recursive: true });
  const runRoot = mkdtempSync(join(agentRunRoot, 'agents-'));
  const spawnAgent = (node: string, socket: string, metricsPort: number, logFile: string) => {
    const fd = openSync(logFile, 'a');
    const child = spawn(process.execPath, nodeArgs, {
      stdio: ['ignore', fd, fd],
      env: {
        ...process.env,
        KUBECONFIG: kubeconfig,
        NODE_NAME: node,
        SPIDERPOOL_AGENT_SOCKET: socket,
        SPIDERPOOL_AGENT_METRICS_PORT: String(metricsPort),
        LOG_LEVEL: 'warn',
        ...env,
      },
    });
    closeSync(fd);
    return child;
  };
  const agents: RunningAgent[] = [];
  for (const node of nodes) {
    const runDir = join(runRoot, node);
    mkdirSync(runDir);
    const socket = join(runDir, 'spiderpool.sock');
    const logFile = join(dir, `${node}.log`);
    const metricsPort = await freePort();
    agents.push({
      node,
      runDir,
      socket,
      metricsPort,
      logFile,
      process: spawnAgent(node, socket, metricsPort, logFile),
    });
  }
  const kill = () => {
    for (const a of agents) a.process.kill('SIGKILL');
    rmSync(runRoot, { recursive: true, force: true });
  };
  process.on('exit', kill);
  try {
    await Promise.all(agents.map(waitHealthy));
  } catch (err) {
    kill();
    throw err;
  }
  return {
    dir,
    agents,
    restart: async (node, signal = 'SIGTERM') => {
      const agent = agents.find((a) => a.node === node);
      if (!agent) throw new Error(`no agent for node ${node}`);
      if (agent.process.exitCode === null && agent.process.signalCode === null) {
        const exited = new Promise((r) => agent.process.once('exit', r));
        agent.process.kill(signal);
        await exited;
      }
      agent.process = spawnAgent(node, agent.socket, agent.metricsPort, agent.logFile);
      await waitHealthy(agent);
    },
    stop: async () => {
      process.off('exit', kill);
      await Promise.all(
        agents.map(
          (a) =>
            new Promise<void>((resolve) => {
              if (a.process.exitCode !== null) return resolve();
              a.process.once('exit', () => resolve());
              a.process.kill('SIGTERM');
              setTimeout(() => a.process.kill('SIGKILL'), 10_000).unref();
            }),
        ),
      );
      rmSync(dir, { recursive: true, force: true });
      rmSync(runRoot, { recursive: true, force: true });
    },
  };
}
