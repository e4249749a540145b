// Runs the raw-packet tools the install puts next to the plugins (cni/README.md#probe-tools) inside a pod's
// network namespace. Node cannot open packet sockets, so ARP and NDP probes are Debian's arping and ndisc6,
// started through their own dynamic loader and libraries: the host needs only nsenter, which the plugins
// already use.
import { execFile } from 'node:child_process';
import { dirname, join } from 'node:path';

export const TOOLS_DIR_NAME = 'spiderpool-tools';
export const LOADER = 'ld.so';
export type Tool = 'arping' | 'ndisc6';

const PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** Next to the running plugin executable: the install copies both into the CNI bin directory. */
export const toolsDir = (): string => join(dirname(process.execPath), TOOLS_DIR_NAME);

export interface ToolRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** A tool's exit status is its answer (no reply is not an error), so every exit is returned, not thrown. */
export function runTool(netns: string, tool: Tool, args: string[], timeoutMs = 5_000): Promise<ToolRun> {
  const dir = toolsDir();
  const argv = [
    `--net=${netns}`,
    join(dir, 'lib', LOADER),
    '--library-path',
    join(dir, 'lib'),
    join(dir, tool),
    ...args,
  ];
  return new Promise((resolve, reject) => {
    execFile(
      'nsenter',
      argv,
      { env: { PATH: process.env.PATH || PATH }, timeout: timeoutMs },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
        if (err && code === -1)
          reject(new Error(`${tool} ${args.join(' ')} in ${netns}: ${stderr.trim() || err.message}`));
        else resolve({ code, stdout, stderr });
      },
    );
  });
}
