// Startup cost of the plugin: p50 wall time of 50 sequential `CNI_COMMAND=VERSION` runs of the single
// executable and of `node dist/cni/spiderpool.cjs`, with bare `node -e 0` as the floor.
// Usage: npx tsx cni/bench-exec.ts [runs]
import { spawnSync } from 'node:child_process';
import { buildPlugin } from './build.ts';

const runs = Number(process.argv[2] ?? 50);
const { executable, bundle } = await buildPlugin();
const stdin = '{"cniVersion":"1.0.0"}';

function p50(file: string, args: string[]): number {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const started = process.hrtime.bigint();
    const r = spawnSync(file, args, { env: { CNI_COMMAND: 'VERSION' }, input: stdin });
    times.push(Number(process.hrtime.bigint() - started) / 1e6);
    if (r.status !== 0) throw new Error(`${file} ${args.join(' ')} exited ${r.status}: ${r.stdout}${r.stderr}`);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)] ?? NaN;
}

const rows: [string, number][] = [
  ['node -e 0 (floor)', p50(process.execPath, ['-e', '0'])],
  ['single executable (dist/cni/spiderpool)', p50(executable, [])],
  ['node dist/cni/spiderpool.cjs', p50(process.execPath, [bundle])],
];
for (const [what, ms] of rows) process.stdout.write(`${what.padEnd(42)} p50 ${ms.toFixed(1)} ms over ${runs} runs\n`);
