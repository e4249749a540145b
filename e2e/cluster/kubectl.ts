import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { dirname, join } from 'node:path';

export interface KubectlResult {
  code: number;
  stdout: string;
  stderr: string;
}
export type Kubectl = (args: string[], options?: { stdin?: string }) => Promise<KubectlResult>;

/**
 * A kubectl bound to one kubeconfig. It never throws for a non-zero exit: callers assert on the result.
 * Its discovery cache lives beside the kubeconfig: the shared ~/.kube/cache is keyed by host and port, and
 * a port reused by a later control plane would be served the resource types of an earlier one.
 */
export function kubectlFor(binDir: string, kubeconfig: string): Kubectl {
  const cacheDir = join(dirname(kubeconfig), 'kubectl-cache');
  const run: Kubectl = (args, options = {}) =>
    new Promise((resolve, reject) => {
      const child = spawn(join(binDir, 'kubectl'), ['--kubeconfig', kubeconfig, '--cache-dir', cacheDir, ...args], {
        stdio: ['pipe', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => {
        stdout += d.toString();
      });
      child.stderr.on('data', (d: Buffer) => {
        stderr += d.toString();
      });
      child.on('error', reject);
      child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
      child.stdin.end(options.stdin ?? '');
    });
  // Discovery read while a restarted apiserver was still loading its CRDs stays cached for minutes.
  return async (args, options) => {
    const result = await run(args, options);
    if (result.code === 0 || !/the server doesn't have a resource type/.test(result.stderr)) return result;
    rmSync(cacheDir, { recursive: true, force: true });
    return run(args, options);
  };
}

/** Runs kubectl and throws with its stderr when it fails. */
export async function kubectlOk(kubectl: Kubectl, args: string[], options?: { stdin?: string }): Promise<string> {
  const r = await kubectl(args, options);
  if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed (${r.code}): ${r.stderr.trim()}`);
  return r.stdout;
}
