// Both plugin executables fed malformed, huge and hostile stdin and environment, as a compromised or
// buggy runtime, or a tenant's NAD, could: each run must end quickly with the documented error code,
// print only the CNI error object, and touch nothing (no agent call; the coordinator's netns unchanged).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { buildPlugins } from '../cni/build.ts';
import { SUPPORTED_VERSIONS } from '../cni/skel/netconf.ts';
import { FakeAgent } from '../cni/skel/testing/fake-agent.ts';
import { cniEnv, execPlugin, expectError, type PluginRun } from '../cni/spiderpool/exec-plugin.ts';
import { addNetns, deleteNetns, execInNetns } from './kubelet/netns.ts';

const MiB = 1024 * 1024;
const RUNS = 15;
// Generous for a loaded machine: a plugin that reads all of a huge stdin or waits for the agent takes longer.
const QUICK_MS = 3_000;
const NODE = `hostile-${randomBytes(3).toString('hex')}`;

type Plugin = 'spiderpool' | 'coordinator';
const PLUGINS: Plugin[] = ['spiderpool', 'coordinator'];

/** JSON nested `depth` levels deep, built without recursion. */
const nested = (depth: number): string => `${'['.repeat(depth)}${']'.repeat(depth)}`;

describe('plugins against hostile input', function () {
  this.timeout(180_000);
  let bins: Record<Plugin, string>;
  let agent: FakeAgent;
  let snapshot: () => Promise<string>;

  before(async () => {
    const built = await buildPlugins();
    bins = { spiderpool: built.spiderpool.executable, coordinator: built.coordinator.executable };
    agent = await FakeAgent.start();
    // The coordinator runs in a netns of its own, whose state must be the same after every run.
    await addNetns(NODE);
    snapshot = async () => {
      const parts = await Promise.all(
        [['-d', 'link'], ['addr'], ['route', 'show', 'table', 'all'], ['rule'], ['neigh']].map(
          async (args) => (await execInNetns(NODE, ['ip', ...args])).stdout,
        ),
      );
      return parts.join('\n');
    };
  });
  after(async () => {
    await deleteNetns(NODE);
    await agent?.stop();
  });
  let netnsBefore: string;
  beforeEach(async () => {
    netnsBefore = await snapshot();
  });
  afterEach(async () => assert.equal(await snapshot(), netnsBefore, 'the coordinator changed its netns'));

  const valid = (plugin: Plugin): Record<string, unknown> =>
    plugin === 'spiderpool'
      ? {
          cniVersion: '1.0.0',
          name: 'n',
          type: 'macvlan',
          ipam: { type: 'spiderpool', ipam_unix_socket_path: agent.socketPath },
        }
      : {
          cniVersion: '1.0.0',
          name: 'n',
          type: 'coordinator',
          ipam_unix_socket_path: agent.socketPath,
          prevResult: { cniVersion: '1.0.0', ips: [{ address: '10.6.0.9/16' }] },
        };

  const exec = async (plugin: Plugin, env: Record<string, string>, stdin: string): Promise<PluginRun> => {
    const start = Date.now();
    let run: PluginRun;
    if (plugin === 'spiderpool') run = await execPlugin(bins.spiderpool, env, stdin);
    else {
      const r = await execInNetns(NODE, [bins.coordinator], { env, stdin });
      run = { status: r.code, stdout: r.stdout, stderr: r.stderr };
    }
    const ms = Date.now() - start;
    assert.ok(ms < QUICK_MS, `${plugin} took ${ms} ms`);
    return run;
  };

  /** The documented error, nothing else on stdout or stderr, and no agent call. */
  const refused = async (plugin: Plugin, env: Record<string, string>, stdin: string, codes: number[]) => {
    agent.reset();
    const run = await exec(plugin, env, stdin);
    const code = (JSON.parse(run.stdout || '{}') as { code?: number }).code ?? -1;
    assert.ok(codes.includes(code), `${plugin}: code ${code} not in ${codes.join(',')}: ${run.stdout.slice(0, 300)}`);
    expectError(run, code);
    assert.deepEqual(agent.requests, [], `${plugin} called the agent`);
  };

  for (const plugin of PLUGINS) {
    describe(plugin, () => {
      it('10 MiB on stdin: code 5, without reading it all', async () => {
        const huge = JSON.stringify({ ...valid(plugin), pad: 'x'.repeat(10 * MiB) });
        for (const command of ['ADD', 'DEL', 'CHECK', 'VERSION']) await refused(plugin, cniEnv(command), huge, [5]);
      });

      it('deeply nested JSON within the cap: a config error, not a crash', async () => {
        const deep = nested(200_000);
        const stdins = [
          deep,
          `{"cniVersion":${deep}}`,
          JSON.stringify(valid(plugin)).replace(/}$/, `,"ipam":{"log_level":${deep}},"logOptions":${deep}}`),
        ];
        for (const stdin of stdins) await refused(plugin, cniEnv('ADD'), stdin, [1, 6, 7]);
      });

      it('arbitrary bytes and JSON on stdin (fast-check)', async () => {
        const junk = fc.oneof(
          fc.string({ unit: 'binary', maxLength: 300 }),
          fc.json({ maxDepth: 4 }).filter((s) => !s.includes('"cniVersion"')),
          fc
            .jsonValue({ maxDepth: 3 })
            .filter((v) => !SUPPORTED_VERSIONS.includes(v as never))
            .map((v) => JSON.stringify({ ...valid(plugin), cniVersion: v })),
        );
        await fc.assert(
          fc.asyncProperty(junk, async (stdin) => refused(plugin, cniEnv('ADD'), stdin, [1, 5, 6, 7])),
          { numRuns: RUNS },
        );
      });

      it('every key of a valid config given a value of the wrong type or a hostile path (fast-check)', async () => {
        const keys =
          plugin === 'spiderpool'
            ? [
                'ipam.ipam_unix_socket_path',
                'ipam.log_file_path',
                'ipam.log_level',
                'ipam.clean_gateway',
                'ipam.match_master_subnet',
                'ipam.default_ipv4_ippool',
              ]
            : [
                'ipam_unix_socket_path',
                'logOptions.logFile',
                'mode',
                'hostRuleTable',
                'podRPFilter',
                'vethMTU',
                'overlayPodCIDR',
                'policyRoutes',
                'vethLinkAddress',
              ];
        const wrong = fc.oneof(
          fc.constantFrom(
            '/etc/passwd',
            '../../../../etc/shadow',
            '/var/run/spidernet/../../etc/x',
            '/var/log/spidernet/../../../root/.ssh/authorized_keys',
            'relative/path',
            '\u0000',
            3.5,
            { __proto__: { polluted: true } },
            [[[[[]]]]],
          ),
          fc.string({ maxLength: 50 }).map((s) => `../${s}`),
          fc.object({ maxDepth: 2 }),
        );
        await fc.assert(
          fc.asyncProperty(fc.constantFrom(...keys), wrong, async (key, value) => {
            const conf = valid(plugin);
            const [outer, inner] = key.split('.') as [string, string | undefined];
            if (inner) conf[outer] = { ...((conf[outer] as object | undefined) ?? {}), [inner]: value };
            else conf[outer] = value;
            await refused(plugin, cniEnv('ADD'), JSON.stringify(conf), [7]);
          }),
          { numRuns: RUNS },
        );
      });

      it('hostile environment variables (fast-check)', async () => {
        const noNul = (s: string) => !s.includes('\u0000');
        const env = fc.oneof(
          fc
            .string({ minLength: 1 })
            .filter((s) => noNul(s) && !s.startsWith('/'))
            .map((v) => ({ CNI_NETNS: v })),
          fc
            .string({ minLength: 16, maxLength: 5000 })
            .filter(noNul)
            .map((v) => ({ CNI_IFNAME: v })),
          fc.constantFrom('..', '.', 'eth0/x', 'a b', 'x:y').map((v) => ({ CNI_IFNAME: v })),
          fc
            .string({ minLength: 1 })
            .filter((s) => noNul(s) && !/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(s))
            .map((v) => ({
              CNI_CONTAINERID: v,
            })),
          fc
            .string({ minLength: 1 })
            .filter((s) => noNul(s) && !['ADD', 'DEL', 'CHECK', 'VERSION'].includes(s))
            .map((v) => ({ CNI_COMMAND: v })),
          fc
            .string({ minLength: 1 })
            .filter((s) => noNul(s) && !s.includes('='))
            .map((v) => ({ CNI_ARGS: v })),
        );
        await fc.assert(
          fc.asyncProperty(env, fc.constantFrom('ADD', 'DEL', 'CHECK'), async (overrides, command) => {
            await refused(plugin, cniEnv(command, overrides), JSON.stringify(valid(plugin)), [4]);
          }),
          { numRuns: RUNS },
        );
      });
    });
  }
});
