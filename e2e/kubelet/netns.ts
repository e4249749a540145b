// Thin wrappers around iproute2 for named network namespaces (the files under /var/run/netns).
import { execFile } from 'node:child_process';

export const NETNS_DIR = '/var/run/netns';

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command to completion; never throws for a non-zero exit, so callers decide what a failure means. */
export function execCommand(
  file: string,
  args: string[],
  options: { env?: NodeJS.ProcessEnv; stdin?: string; timeoutMs?: number } = {},
): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    const timeout = options.timeoutMs ?? 60_000;
    const child = execFile(
      file,
      args,
      { env: options.env, timeout, maxBuffer: 16 * 1024 * 1024 },
      (err, stdout, stderr) => {
        const code = (err as { code?: unknown } | null)?.code;
        // A string code means the command could not run at all (ENOENT, output too large).
        if (typeof code === 'string') return reject(err);
        if (typeof code === 'number' || !err)
          return resolve({ code: typeof code === 'number' ? code : 0, stdout, stderr });
        resolve({
          code: -1,
          stdout,
          stderr: `${stderr}${err.killed ? `killed after ${timeout} ms` : `terminated by ${err.signal}`}`,
        });
      },
    );
    // A command may exit without reading its input; the resulting EPIPE is not a failure of the command.
    child.stdin?.on('error', () => undefined);
    child.stdin?.end(options.stdin);
  });
}

/** Runs `ip …` and throws with iproute2's message when it fails. */
export async function ip(args: string[]): Promise<string> {
  const r = await execCommand('ip', args);
  if (r.code !== 0) throw new Error(`ip ${args.join(' ')}: ${r.stderr.trim() || `exit ${r.code}`}`);
  return r.stdout;
}

export async function listNetns(): Promise<string[]> {
  const out = await ip(['netns', 'list']);
  // Lines look like "name" or "name (id: 3)".
  return out
    .split('\n')
    .map((l) => l.split(' ')[0] ?? '')
    .filter(Boolean);
}

/** Creates a namespace with its loopback up; an existing namespace of that name is reused. */
export async function addNetns(name: string): Promise<void> {
  if (!(await listNetns()).includes(name)) await ip(['netns', 'add', name]);
  await ip(['-n', name, 'link', 'set', 'lo', 'up']);
}

/** Deletes a namespace, and with it every interface still inside it; a missing namespace is fine. */
export async function deleteNetns(name: string): Promise<void> {
  if ((await listNetns()).includes(name)) await ip(['netns', 'delete', name]);
}

/** Runs argv inside a namespace. */
export function execInNetns(
  name: string,
  argv: string[],
  options: { env?: NodeJS.ProcessEnv; stdin?: string; timeoutMs?: number } = {},
): Promise<ExecResult> {
  return execCommand('ip', ['netns', 'exec', name, ...argv], options);
}
