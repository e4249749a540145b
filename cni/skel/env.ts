// The CNI_* environment variables. Which ones are required per command, and how container IDs and
// interface names are validated, follow libcni's skel package so runtimes see the errors they expect.
import { invalidEnv } from './errors.ts';

export type CniCommand = 'ADD' | 'DEL' | 'CHECK' | 'VERSION';

export interface PodArgs {
  namespace: string;
  name: string;
  uid: string;
}

export interface CniEnv {
  command: Exclude<CniCommand, 'VERSION'>;
  containerId: string;
  /** Empty on DEL when the runtime has already removed the namespace. */
  netns: string;
  ifName: string;
  /** Undefined when CNI_ARGS carries no Kubernetes pod identity (not a kubelet call). */
  pod: PodArgs | undefined;
}

type Env = Record<string, string | undefined>;

// DEL may come after the network namespace is gone, so CNI_NETNS is optional there only.
const REQUIRED: Record<CniEnv['command'], string[]> = {
  ADD: ['CNI_CONTAINERID', 'CNI_NETNS', 'CNI_IFNAME', 'CNI_PATH'],
  CHECK: ['CNI_CONTAINERID', 'CNI_NETNS', 'CNI_IFNAME', 'CNI_PATH'],
  DEL: ['CNI_CONTAINERID', 'CNI_IFNAME', 'CNI_PATH'],
};

const CONTAINER_ID = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;
// Linux IFNAMSIZ is 16 including the terminating NUL.
const MAX_IFNAME = 15;

/**
 * GC and STATUS exist only in CNI spec 1.1.0, which these plugins do not advertise in VERSION, so a
 * conforming runtime never sends them; they are refused like any unknown command (code 4). Leaked
 * addresses are collected by the controller's GC, and agent health is what ADD checks first anyway.
 */
export function parseCommand(env: Env): CniCommand {
  const command = env.CNI_COMMAND;
  if (!command) throw invalidEnv('required environment variable CNI_COMMAND is missing');
  if (command === 'ADD' || command === 'DEL' || command === 'CHECK' || command === 'VERSION') return command;
  if (command === 'GC' || command === 'STATUS') {
    throw invalidEnv(
      `unsupported CNI_COMMAND "${command}": it belongs to CNI spec 1.1.0 and this plugin implements 0.3.0 to 1.0.0`,
    );
  }
  throw invalidEnv(`unknown CNI_COMMAND "${command}": expected ADD, DEL, CHECK or VERSION`);
}

export function parseEnv(env: Env, command: CniEnv['command']): CniEnv {
  const missing = REQUIRED[command].filter((name) => !env[name]);
  if (missing.length > 0)
    throw invalidEnv(`required environment variables missing for ${command}: ${missing.join(', ')}`);
  const containerId = env.CNI_CONTAINERID ?? '';
  if (!CONTAINER_ID.test(containerId)) {
    throw invalidEnv(
      `invalid CNI_CONTAINERID "${containerId}": it must start with a letter or digit and contain only letters, digits, "_", "." and "-"`,
    );
  }
  const ifName = env.CNI_IFNAME ?? '';
  checkIfName(ifName);
  const netns = env.CNI_NETNS ?? '';
  // A relative path would be resolved against whatever directory the runtime started the plugin in.
  if (netns && !netns.startsWith('/')) throw invalidEnv(`invalid CNI_NETNS "${netns}": it must be an absolute path`);
  return { command, containerId, netns, ifName, pod: podArgs(env.CNI_ARGS ?? '') };
}

function checkIfName(ifName: string): void {
  if (ifName.length > MAX_IFNAME)
    throw invalidEnv(`invalid CNI_IFNAME "${ifName}": longer than ${MAX_IFNAME} characters`);
  if (ifName === '.' || ifName === '..' || /[/:\s]/.test(ifName)) {
    throw invalidEnv(`invalid CNI_IFNAME "${ifName}": "." and "..", "/", ":" and whitespace are not allowed`);
  }
}

/** Unknown keys are ignored (runtimes add their own, e.g. IgnoreUnknown); a pair without "=" is an error. */
function podArgs(cniArgs: string): PodArgs | undefined {
  const values = new Map<string, string>();
  for (const pair of cniArgs.split(';')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    if (eq <= 0) throw invalidEnv(`invalid CNI_ARGS pair "${pair}": expected KEY=VALUE separated by ";"`);
    values.set(pair.slice(0, eq), pair.slice(eq + 1));
  }
  const namespace = values.get('K8S_POD_NAMESPACE') ?? '';
  const name = values.get('K8S_POD_NAME') ?? '';
  if (!namespace && !name) return undefined;
  if (!namespace || !name)
    throw invalidEnv(`CNI_ARGS must carry both K8S_POD_NAMESPACE and K8S_POD_NAME, got "${cniArgs}"`);
  // Some container runtimes do not pass the pod UID; the agent then looks the pod up by name.
  return { namespace, name, uid: values.get('K8S_POD_UID') ?? '' };
}

/** The pod from CNI_ARGS, for commands that cannot act without one (code 4 otherwise). */
export function requirePod(env: CniEnv): PodArgs {
  if (env.pod) return env.pod;
  throw invalidEnv(
    `CNI_ARGS lacks K8S_POD_NAMESPACE and K8S_POD_NAME: this plugin serves Kubernetes pods only (${env.command})`,
  );
}
