import { spawn } from 'node:child_process';
import { join } from 'node:path';

export interface KubectlResult { code: number; stdout: string; stderr: string }
export type Kubectl = (args: string[], options?: { stdin?: string }) => Promise<KubectlResult>;

/** A kubectl bound to one kubeconfig. It never throws for a non-zero exit: callers assert on the result. */
export function kubectlFor(binDir: string, kubeconfig: string): Kubectl {
  return (args, options = {}) => new Promise((resolve, reject) => {
    const child = spawn(join(binDir, 'kubectl'), ['--kubeconfig', kubeconfig, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
    child.stdin.end(options.stdin ?? '');
  });
}

/** Runs kubectl and throws with its stderr when it fails. */
export async function kubectlOk(kubectl: Kubectl, args: string[], options?: { stdin?: string }): Promise<string> {
  const r = await kubectl(args, options);
  if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed (${r.code}): ${r.stderr.trim()}`);
  return r.stdout;
}
