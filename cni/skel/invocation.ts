// What every plugin binary of this project shares around one invocation: the output shape, the VERSION
// answer, and the process wrapper that reads stdin, prints the result and sets the exit code.
import { fstatSync, readSync } from 'node:fs';
import { CNI_ERROR } from '../../lib/agent-api.ts';
import { CniError, errorOutput } from './errors.ts';
import { decodeStdin, LATEST_VERSION, SUPPORTED_VERSIONS } from './netconf.ts';

export interface PluginOutput {
  stdout: string;
  exitCode: 0 | 1;
}

export type Invocation = (env: Record<string, string | undefined>, stdin: string) => Promise<PluginOutput>;

export const success = (value: unknown): PluginOutput => ({ stdout: JSON.stringify(value), exitCode: 0 });

export const failure = (cniVersion: string, err: unknown): PluginOutput => ({
  stdout: JSON.stringify(errorOutput(cniVersion, err)),
  exitCode: 1,
});

/**
 * VERSION is how the caller negotiates, so it never fails: stdin may be empty or carry any version,
 * which is echoed back (1.0.0 when there is none to echo).
 */
export function versionAnswer(stdin: string): { cniVersion: string; supportedVersions: readonly string[] } {
  let cniVersion: string = LATEST_VERSION;
  try {
    const requested = decodeStdin(stdin).cniVersion;
    if (typeof requested === 'string' && requested !== '') cniVersion = requested;
  } catch {
    // nothing usable to echo
  }
  return { cniVersion, supportedVersions: SUPPORTED_VERSIONS };
}

/**
 * A network config with its prevResult is a few KiB; the cap keeps a runaway or hostile writer from
 * holding the plugin, and the memory of the node, for as long as it writes.
 */
const MAX_STDIN_BYTES = 1024 * 1024;

const tooLarge = () => new Error(`it is larger than the ${MAX_STDIN_BYTES / 1024} KiB limit`);

/**
 * Read with plain blocking reads: a runtime hands the plugin a blocking pipe, and process.stdin would load the
 * net and tty modules, a few milliseconds of every plugin start. A non-blocking descriptor (EAGAIN) falls back to
 * the stream.
 */
async function readStdin(): Promise<string> {
  // A terminal would block forever; runtimes always pipe the config in.
  if (fstatSync(0).isCharacterDevice()) return '';
  const chunks: Buffer[] = [];
  let size = 0;
  for (;;) {
    const chunk = Buffer.allocUnsafe(64 * 1024);
    let n: number;
    try {
      n = readSync(0, chunk, 0, chunk.length, null);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') throw err;
      return readStdinStream(chunks, size);
    }
    if (n === 0) return Buffer.concat(chunks).toString('utf8');
    size += n;
    if (size > MAX_STDIN_BYTES) throw tooLarge();
    chunks.push(chunk.subarray(0, n));
  }
}

async function readStdinStream(chunks: Buffer[], size: number): Promise<string> {
  for await (const chunk of process.stdin) {
    size += (chunk as Buffer).length;
    // Leaving the loop stops reading; the writer gets EPIPE.
    if (size > MAX_STDIN_BYTES) throw tooLarge();
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Runs one invocation as the process: the result is the only thing printed. */
export function runPluginProcess(run: Invocation): void {
  const output = readStdin().then(
    (stdin) => run(process.env, stdin),
    (err: unknown) =>
      failure(
        LATEST_VERSION,
        new CniError(
          CNI_ERROR.ioFailure,
          `failed to read the network configuration from stdin: ${(err as Error).message}`,
        ),
      ),
  );
  void output.then(({ stdout, exitCode }) => {
    if (stdout) process.stdout.write(`${stdout}\n`);
    process.exitCode = exitCode;
  });
}
