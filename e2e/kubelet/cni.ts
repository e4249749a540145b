// Executes CNI network configuration lists the way libcni does (CNI spec 1.0, "Executing a network
// configuration list"): each plugin gets the list's name and cniVersion injected into its config, ADD
// chains every plugin's result into the next one's prevResult, DEL runs the plugins in reverse order
// with the result ADD produced. Plugins run inside a chosen network namespace (the simulated node's).
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { execInNetns, execCommand, type ExecResult } from './netns.ts';

export interface PluginConfig {
  type: string;
  [key: string]: unknown;
}

export interface NetworkConfigList {
  name: string;
  cniVersion: string;
  plugins: PluginConfig[];
}

export interface CniInterface {
  name: string;
  mac?: string;
  sandbox?: string;
}
export interface CniIPConfig {
  address: string;
  gateway?: string;
  interface?: number;
}

/** A CNI result of version 0.3.0 or later; 0.1/0.2 results carry ip4/ip6 instead of ips. */
export interface CniResult {
  cniVersion?: string;
  interfaces?: CniInterface[];
  ips?: CniIPConfig[];
  ip4?: { ip: string; gateway?: string };
  ip6?: { ip: string; gateway?: string };
  routes?: unknown[];
  dns?: Record<string, unknown>;
}

export interface RuntimeConf {
  containerId: string;
  /** Path of the pod's network namespace. */
  netnsPath: string;
  ifname: string;
  /** Becomes CNI_ARGS as `k=v;k=v`. */
  args: [string, string][];
  /** Offered to plugins as runtimeConfig, one key per capability the plugin declares (ips, mac, …). */
  capabilityArgs?: Record<string, unknown>;
}

export interface CniExecutor {
  /** Directories searched for plugin binaries, also passed to plugins as CNI_PATH. */
  binDirs: string[];
  /** Namespace to run plugins in; the current one when absent. */
  netns?: string;
  /**
   * Host directories the node sees at other paths, as a separate machine has its own (for example its
   * own /var/run/spidernet holding its agent's socket). Plugins then run in a private mount namespace.
   */
  mounts?: { source: string; target: string }[];
  timeoutMs?: number;
}

export class CniError extends Error {
  constructor(
    message: string,
    readonly code?: number,
  ) {
    super(message);
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Accepts either a configuration list ({name, cniVersion, plugins}) or a single plugin configuration,
 * which libcni turns into a one-plugin list named after it.
 */
export function toConfList(config: unknown, source: string): NetworkConfigList {
  const parsed = typeof config === 'string' ? parseJson(config, source) : config;
  if (!isRecord(parsed)) throw new CniError(`${source}: the CNI configuration is not a JSON object`);
  const name = parsed.name;
  const cniVersion = parsed.cniVersion ?? '0.1.0';
  if (typeof name !== 'string' || !name) throw new CniError(`${source}: the CNI configuration has no name`);
  if (typeof cniVersion !== 'string') throw new CniError(`${source}: cniVersion is not a string`);
  const plugins = 'plugins' in parsed ? parsed.plugins : [parsed];
  if (!Array.isArray(plugins) || plugins.length === 0)
    throw new CniError(`${source}: "plugins" must be a non-empty list`);
  for (const p of plugins) {
    if (!isRecord(p) || typeof p.type !== 'string' || !p.type)
      throw new CniError(`${source}: every plugin needs a "type"`);
  }
  return { name, cniVersion, plugins: plugins as PluginConfig[] };
}

function parseJson(text: string, source: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new CniError(`${source}: the CNI configuration is not valid JSON: ${(err as Error).message}`);
  }
}

function findPlugin(type: string, binDirs: string[]): string {
  for (const dir of binDirs) {
    const path = join(dir, type);
    if (existsSync(path)) return path;
  }
  throw new CniError(`failed to find plugin "${type}" in path [${binDirs.join(' ')}]`);
}

function pluginStdin(
  list: NetworkConfigList,
  plugin: PluginConfig,
  rt: RuntimeConf,
  prevResult: CniResult | undefined,
): string {
  const config: Record<string, unknown> = { ...plugin, name: list.name, cniVersion: list.cniVersion };
  const capabilities = isRecord(plugin.capabilities) ? plugin.capabilities : {};
  const runtimeConfig: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(rt.capabilityArgs ?? {}))
    if (capabilities[key] === true) runtimeConfig[key] = value;
  if (Object.keys(runtimeConfig).length > 0) config.runtimeConfig = runtimeConfig;
  if (prevResult) config.prevResult = prevResult;
  return JSON.stringify(config);
}

async function invoke(
  executor: CniExecutor,
  command: 'ADD' | 'DEL',
  list: NetworkConfigList,
  plugin: PluginConfig,
  rt: RuntimeConf,
  prevResult: CniResult | undefined,
): Promise<CniResult | undefined> {
  const path = findPlugin(plugin.type, executor.binDirs);
  const env = {
    PATH: process.env.PATH,
    CNI_COMMAND: command,
    CNI_CONTAINERID: rt.containerId,
    CNI_NETNS: rt.netnsPath,
    CNI_IFNAME: rt.ifname,
    CNI_PATH: executor.binDirs.join(':'),
    CNI_ARGS: rt.args.map(([k, v]) => `${k}=${v}`).join(';'),
  };
  const options = { env, stdin: pluginStdin(list, plugin, rt, prevResult), timeoutMs: executor.timeoutMs ?? 60_000 };
  const r: ExecResult = await runPlugin(executor, path, options);
  const failed = (message: string, code?: number) =>
    new CniError(
      `plugin type="${plugin.type}" name="${list.name}" failed (${command.toLowerCase()}): ${message}`,
      code,
    );
  if (r.code !== 0) {
    // Plugins report errors as a JSON object {code, msg, details} on stdout.
    let error: unknown;
    try {
      error = JSON.parse(r.stdout);
    } catch {
      error = undefined;
    }
    if (isRecord(error) && typeof error.msg === 'string') {
      throw failed(
        error.details ? `${error.msg}; ${String(error.details)}` : error.msg,
        typeof error.code === 'number' ? error.code : undefined,
      );
    }
    throw failed(`netplugin failed with exit ${r.code}: ${(r.stderr || r.stdout).trim()}`);
  }
  if (command === 'DEL' || !r.stdout.trim()) return undefined;
  const result = parseJson(r.stdout, `result of plugin ${plugin.type}`);
  if (!isRecord(result)) throw failed('the plugin printed a result that is not a JSON object');
  return result as CniResult;
}

/** ADD for every plugin in order; returns the last plugin's result. */
export async function addNetworkList(
  executor: CniExecutor,
  list: NetworkConfigList,
  rt: RuntimeConf,
): Promise<CniResult> {
  let result: CniResult | undefined;
  for (const plugin of list.plugins) result = (await invoke(executor, 'ADD', list, plugin, rt, result)) ?? result;
  return result ?? {};
}

/** DEL for every plugin in reverse order, each given the result of the ADD (when there was one). */
export async function delNetworkList(
  executor: CniExecutor,
  list: NetworkConfigList,
  rt: RuntimeConf,
  addResult: CniResult | undefined,
): Promise<void> {
  // Before 0.4.0 the spec did not define prevResult for DEL, and libcni withholds it.
  const [major = 0, minor = 0] = list.cniVersion.split('.').map(Number);
  const prev = major > 0 || minor >= 4 ? addResult : undefined;
  for (const plugin of [...list.plugins].reverse()) await invoke(executor, 'DEL', list, plugin, rt, prev);
}

/** The addresses (CIDR notation) a result assigns to the interface `ifname` in the sandbox. */
export function resultAddresses(result: CniResult, ifname: string): string[] {
  if (result.ips) {
    const interfaces = result.interfaces ?? [];
    return result.ips
      .filter((c) => {
        if (c.interface === undefined) return true;
        const iface = interfaces[c.interface];
        return iface !== undefined && iface.name === ifname && !!iface.sandbox;
      })
      .map((c) => c.address);
  }
  return [result.ip4?.ip, result.ip6?.ip].filter((a): a is string => !!a);
}

export function resultMac(result: CniResult, ifname: string): string | undefined {
  return result.interfaces?.find((i) => i.name === ifname && i.sandbox)?.mac;
}

function runPlugin(
  executor: CniExecutor,
  path: string,
  options: { env?: NodeJS.ProcessEnv; stdin?: string; timeoutMs?: number },
): Promise<ExecResult> {
  const argv = executor.netns ? ['ip', 'netns', 'exec', executor.netns, path] : [path];
  if (!executor.mounts?.length)
    return executor.netns ? execInNetns(executor.netns, [path], options) : execCommand(path, [], options);
  const binds = executor.mounts.map((m) => `mount --bind '${m.source}' '${m.target}'`).join(' && ');
  return execCommand(
    'unshare',
    ['--mount', '--propagation', 'private', 'sh', '-c', `${binds} && exec "$@"`, 'sh', ...argv],
    options,
  );
}
