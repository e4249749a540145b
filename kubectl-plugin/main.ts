// `kubectl spiderpool`: kubectl finds the executable `kubectl-spiderpool` on PATH and runs it with the words after
// `kubectl spiderpool`. One subcommand per file; this file parses the command line, connects and prints.
// Exit codes: 0 done, 1 the command found a problem (check, or why for a pod that gets no address), 2 the command
// could not run (bad arguments, an object that does not exist, the apiserver refusing a read).
import { parseArgs } from 'node:util';
import { check } from './check.ts';
import { PluginCluster } from './cluster.ts';
import { PluginError } from './errors.ts';
import { free } from './free.ts';
import { gcDryRun } from './gc.ts';
import { parseFormat, render, type Report } from './output.ts';
import { who } from './who.ts';
import { why } from './why.ts';

const USAGE = `Usage: kubectl spiderpool <command> [flags]

Commands:
  why <pod>        every candidate pool of the pod's interface and why each can or cannot serve it
  free [pool]      free addresses, the largest free range, fragmentation and when each pool runs out
  who <ip>         the pools covering an address, who holds it, and who held it before
  check            audit pool records against pods and SpiderEndpoints; exit code 1 on any problem
  gc --dry-run     what the garbage collector would free now, and why

Flags:
  -n, --namespace <ns>             namespace of the pod (why); default: the context's namespace
  -o, --output json|yaml           print the whole result instead of tables
      --kubeconfig <path>          default: $KUBECONFIG, else ~/.kube/config
      --context <name>             a context of the kubeconfig
      --spiderpool-namespace <ns>  where the product is installed (spiderpool-conf is read there); default spiderpool
      --interface <nic>            why: the interface to explain (CNI_IFNAME); default eth0
      --node <name>                why: the node to explain a pod that is not scheduled yet for
      --default-ipv4-ippool <pool> why: default_ipv4_ippool of the pod's CNI configuration (repeatable)
      --default-ipv6-ippool <pool> why: default_ipv6_ippool of the pod's CNI configuration (repeatable)
      --grace-delay <seconds>      gc: the controller's SPIDERPOOL_GC_ADDITIONAL_GRACE_DELAY; default 0
`;

const OPTIONS = {
  namespace: { type: 'string', short: 'n' },
  output: { type: 'string', short: 'o' },
  kubeconfig: { type: 'string' },
  context: { type: 'string' },
  'spiderpool-namespace': { type: 'string' },
  interface: { type: 'string' },
  node: { type: 'string' },
  'default-ipv4-ippool': { type: 'string', multiple: true },
  'default-ipv6-ippool': { type: 'string', multiple: true },
  'grace-delay': { type: 'string' },
  'dry-run': { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

type Values = ReturnType<typeof parse>['values'];

function parse(argv: string[]) {
  try {
    return parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (err) {
    throw new PluginError(`${err instanceof Error ? err.message : String(err)}\n\n${USAGE}`);
  }
}

function operands(command: string, rest: string[], min: number, max: number, what: string): string[] {
  if (rest.length < min || rest.length > max)
    throw new PluginError(`${command} takes ${what}, got ${rest.length === 0 ? 'none' : rest.join(' ')}`);
  return rest;
}

function graceDelayMs(raw: string): number {
  const seconds = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(seconds) || seconds < 0)
    throw new PluginError(`--grace-delay ${JSON.stringify(raw)} is not a number of seconds >= 0`);
  return seconds * 1000;
}

async function run(command: string, rest: string[], values: Values): Promise<Report> {
  const cluster = () =>
    PluginCluster.connect({
      ...(values.kubeconfig === undefined ? {} : { kubeconfig: values.kubeconfig }),
      ...(values.context === undefined ? {} : { context: values.context }),
      ...(values.namespace === undefined ? {} : { namespace: values.namespace }),
      ...(values['spiderpool-namespace'] === undefined ? {} : { installNamespace: values['spiderpool-namespace'] }),
    });
  switch (command) {
    case 'why': {
      const [pod] = operands('why', rest, 1, 1, 'one pod name');
      return why(cluster(), pod as string, {
        ifName: values.interface ?? 'eth0',
        defaultIPv4: values['default-ipv4-ippool'] ?? [],
        defaultIPv6: values['default-ipv6-ippool'] ?? [],
        ...(values.node === undefined ? {} : { node: values.node }),
      });
    }
    case 'free':
      return free(cluster(), operands('free', rest, 0, 1, 'at most one pool name')[0]);
    case 'who':
      return who(cluster(), operands('who', rest, 1, 1, 'one IP address')[0] as string);
    case 'check':
      operands('check', rest, 0, 0, 'no arguments');
      return check(cluster());
    case 'gc':
      operands('gc', rest, 0, 0, 'no arguments');
      return gcDryRun(cluster(), values['dry-run'] ?? false, graceDelayMs(values['grace-delay'] ?? '0'));
    default:
      throw new PluginError(`unknown command ${JSON.stringify(command)}\n\n${USAGE}`);
  }
}

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv);
  const [command, ...rest] = positionals;
  if (values.help || command === undefined || command === 'help') {
    process.stdout.write(USAGE);
    return 0;
  }
  const format = parseFormat(values.output);
  const report = await run(command, rest, values);
  process.stdout.write(render(report, format));
  return report.ok ? 0 : 1;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    const message =
      err instanceof PluginError ? err.message : err instanceof Error ? (err.stack ?? err.message) : String(err);
    process.stderr.write(`error: ${message}\n`);
    process.exitCode = 2;
  },
);
