// Test helpers that build the real plugin executable once and run it like a container runtime does:
// a clean environment with the CNI_* variables, the network config on stdin, the verdict on stdout.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { buildPlugin } from '../build.ts';
import { FakeAgent } from '../skel/testing/fake-agent.ts';

/** Builds (or finds up to date) the executable; call from a `before` hook with a generous timeout. */
export async function pluginExecutable(): Promise<string> {
  return (await buildPlugin()).executable;
}

export interface PluginRun {
  status: number | null;
  stdout: string;
  stderr: string;
}

export function execPlugin(executable: string, env: Record<string, string>, stdin: string): Promise<PluginRun> {
  return new Promise((resolve, reject) => {
    // No inherited environment: the plugin must not depend on anything but what runtimes pass.
    const child = spawn(executable, [], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, stdout, stderr }));
    // A plugin may stop reading stdin (over its size cap) and exit; the EPIPE is not a test failure.
    child.stdin.on('error', () => undefined);
    child.stdin.end(stdin);
  });
}

/** stdout must hold exactly one JSON document and one newline, stderr nothing. */
function soleJson(run: PluginRun): Record<string, unknown> {
  assert.equal(run.stderr, '', 'stderr must stay empty');
  assert.match(run.stdout, /^\{.*\}\n$/s, `stdout must be one JSON document: ${run.stdout}`);
  return JSON.parse(run.stdout) as Record<string, unknown>;
}

export function expectSuccess(run: PluginRun): Record<string, unknown> {
  assert.equal(run.status, 0, `expected success, got ${run.status}: ${run.stdout}`);
  return soleJson(run);
}

export function expectSilentSuccess(run: PluginRun): void {
  assert.equal(run.status, 0, `expected success, got ${run.status}: ${run.stdout}`);
  assert.equal(run.stdout, '');
  assert.equal(run.stderr, '');
}

/** Exit 1 and the CNI error object with `code`; every pattern must match `msg`. */
export function expectError(
  run: PluginRun,
  code: number,
  ...msg: (string | RegExp)[]
): { cniVersion: string; msg: string; details: string } {
  assert.equal(run.status, 1, `expected exit 1, got ${run.status}: ${run.stdout}`);
  const out = soleJson(run);
  assert.deepEqual(Object.keys(out).sort(), ['cniVersion', 'code', 'details', 'msg']);
  assert.equal(out.code, code, `code: ${run.stdout}`);
  assert.equal(typeof out.details, 'string');
  for (const m of msg) {
    if (typeof m === 'string')
      assert.ok((out.msg as string).includes(m), `msg ${JSON.stringify(out.msg)} lacks ${JSON.stringify(m)}`);
    else assert.match(out.msg as string, m);
  }
  return out as { cniVersion: string; msg: string; details: string };
}

const POD_ARGS =
  'IgnoreUnknown=1;K8S_POD_NAMESPACE=ns1;K8S_POD_NAME=web-0;K8S_POD_INFRA_CONTAINER_ID=c0ffee;K8S_POD_UID=uid-1';

export function cniEnv(command: string, overrides: Record<string, string | undefined> = {}): Record<string, string> {
  const env: Record<string, string | undefined> = {
    CNI_COMMAND: command,
    CNI_CONTAINERID: 'c0ffee',
    CNI_NETNS: '/var/run/netns/cni-1234',
    CNI_IFNAME: 'eth0',
    CNI_ARGS: POD_ARGS,
    CNI_PATH: '/opt/cni/bin',
    ...overrides,
  };
  // An override of undefined removes the variable.
  return Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => e[1] !== undefined));
}

export function netConf(
  socketPath: string,
  {
    cniVersion = '1.0.0',
    ipam = {},
    ...rest
  }: { cniVersion?: string; ipam?: Record<string, unknown>; [k: string]: unknown } = {},
): string {
  return JSON.stringify({
    cniVersion,
    name: 'macvlan-ens192',
    type: 'macvlan',
    master: 'ens192',
    ipam: { type: 'spiderpool', ipam_unix_socket_path: socketPath, ...ipam },
    ...rest,
  });
}

/**
 * The hooks every plugin test file needs: the plugin built once, one stand-in agent for the file, and
 * that agent reset before each test. `ready` receives both once they exist.
 */
export function withPluginAndAgent(ready: (bin: string, agent: FakeAgent) => void): void {
  let agent: FakeAgent | undefined;
  before(async function () {
    this.timeout(180_000);
    const bin = await pluginExecutable();
    agent = await FakeAgent.start();
    ready(bin, agent);
  });
  after(() => agent?.stop());
  beforeEach(() => agent?.reset());
}
