// Entry point of the `spiderpool` IPAM plugin binary (bundled by cni/build.sh). It must import only
// node built-ins and lib/agent-api.ts: it runs once per pod interface, so startup time is pod latency.
import { isatty } from 'node:tty';
import { CNI_ERROR } from '../../lib/agent-api.ts';
import { CniError, errorOutput } from './errors.ts';
import { LATEST_VERSION } from './netconf.ts';
import { run, type PluginOutput } from './plugin.ts';

async function readStdin(): Promise<string> {
  // A terminal would block forever; runtimes always pipe the config in.
  if (isatty(0)) return '';
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

async function main(): Promise<PluginOutput> {
  let stdin: string;
  try {
    stdin = await readStdin();
  } catch (err) {
    const cause = new CniError(CNI_ERROR.ioFailure, `failed to read the network configuration from stdin: ${(err as Error).message}`);
    return { stdout: JSON.stringify(errorOutput(LATEST_VERSION, cause)), exitCode: 1 };
  }
  return run(process.env, stdin);
}

void main().then(({ stdout, exitCode }) => {
  if (stdout) process.stdout.write(`${stdout}\n`);
  process.exitCode = exitCode;
});
