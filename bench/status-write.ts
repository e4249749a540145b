// npm run bench:status-write -- --writes 30
// What one pool status write costs as the pool's records grow: for 100, 1000 and 5000 allocation records (5000
// is the agents' per-pool record limit), the size of the object written and the p50 / p99 of a PUT of its status
// (a record changed each time, as an allocation does), one at a time with the agents' keep-alive client. The
// record limit keeps the object far below etcd's default request limit (--max-request-bytes, 1.5 MiB), which the
// last line prints next to the largest size. Last line: one JSON object.
import type { SpiderIPPool } from '../api/v2beta1/types.ts';
import { GROUP, VERSION } from '../api/v2beta1/constants.ts';
import { KINDS } from '../api/v2beta1/kinds.ts';
import { formatIP } from '../lib/ip/index.ts';
import { benchOptions, percentile, say, withControlPlane } from './common.ts';

const { writes: WRITES } = benchOptions({ writes: 30 });
const SIZES = [100, 1000, 5000];
const ETCD_DEFAULT_MAX_REQUEST_BYTES = 1.5 * 1024 * 1024;
const pools = { group: GROUP, version: VERSION, plural: KINDS.SpiderIPPool.plural };
const ms = (n: number) => Math.round(n * 100) / 100;

await withControlPlane(async ({ custom }) => {
  const result: Record<string, { bytes: number; p50Ms: number; p99Ms: number }> = {};
  for (const size of SIZES) {
    const name = `records-${size}`;
    let pool = (await custom.createClusterCustomObject({
      ...pools,
      body: {
        apiVersion: KINDS.SpiderIPPool.apiVersion,
        kind: KINDS.SpiderIPPool.kind,
        metadata: { name },
        spec: { ipVersion: 4, subnet: '10.64.0.0/16', ips: ['10.64.0.1-10.64.255.254'] },
      },
    })) as SpiderIPPool;
    // Round r renames the first record's pod, so every write changes the object, as an allocation does.
    const records = (round: number) => {
      const out: Record<string, { pod: string; podUid: string; nic: string }> = {};
      for (let k = 0; k < size; k++) {
        const podUid = `00000000-0000-4000-8000-${String(k).padStart(12, '0')}`;
        out[formatIP(0x0a400001n + BigInt(k), 4)] = {
          pod: `bench/pod-${k}${k ? '' : `-${round}`}`,
          podUid,
          nic: 'eth0',
        };
      }
      return out;
    };
    const times: number[] = [];
    let bytes = 0;
    for (let round = 0; round < WRITES; round++) {
      const body = { ...pool, status: { allocatedIPs: JSON.stringify(records(round)), allocatedIPCount: size } };
      bytes = Buffer.byteLength(JSON.stringify(body));
      const t = performance.now();
      pool = (await custom.replaceClusterCustomObjectStatus({ ...pools, name, body })) as SpiderIPPool;
      times.push(performance.now() - t);
    }
    times.sort((a, b) => a - b);
    result[String(size)] = { bytes, p50Ms: ms(percentile(times, 50)), p99Ms: ms(percentile(times, 99)) };
    say(
      `${size} records: ${bytes} bytes per write, p50 ${result[String(size)]!.p50Ms} ms, p99 ${result[String(size)]!.p99Ms} ms`,
    );
  }
  process.stdout.write(
    `${JSON.stringify({ writes: WRITES, byRecords: result, etcdDefaultMaxRequestBytes: ETCD_DEFAULT_MAX_REQUEST_BYTES })}\n`,
  );
});
