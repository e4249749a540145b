// The daemons' configuration. Each daemon declares its settings once; `readConfig` reads them from the
// environment and, when SPIDERPOOL_CONFIG_PATH names one, from a YAML file shaped like the `conf.yml` of
// Spiderpool's `spiderpool-conf` ConfigMap (camelCase keys). A non-empty environment variable overrides
// the file, the file overrides the default. An empty variable counts as unset, as manifests often write
// `value: ''` for "not configured".
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { parse as parseYaml } from 'yaml';
import { INSTALL_NAMESPACE } from '../../api/v2beta1/constants.ts';

const CONFIG_PATH_ENV = 'SPIDERPOOL_CONFIG_PATH';

export interface Setting<T> {
  /** The environment variable. */
  readonly env: string;
  /** The key in the ConfigMap's conf.yml, for settings Spiderpool keeps there too. */
  readonly key?: string;
  /** What a valid value looks like, completing "<value> is not ...". */
  readonly expects: string;
  /** The value of a non-empty raw string, or undefined when it is invalid. */
  readonly parse: (raw: string) => T | undefined;
  /** Used when neither the environment nor the file sets it; `required` settings have none. */
  readonly default?: T;
  readonly required: boolean;
}

/** A daemon's declarations; a nested group (the GC's settings) reads as a nested object. */
export interface Settings {
  readonly [name: string]: Setting<unknown> | Settings;
}
export type ConfigOf<S extends Settings> = {
  -readonly [K in keyof S]: S[K] extends Setting<infer T> ? T : S[K] extends Settings ? ConfigOf<S[K]> : never;
};

const isSetting = (entry: Setting<unknown> | Settings): entry is Setting<unknown> => typeof entry.parse === 'function';

/** Every invalid or missing setting of one read, each problem naming its variable (or file key) and value. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration: ${problems.join('; ')}`);
    this.name = 'ConfigError';
  }
}

interface Declaration<T> {
  env: string;
  key?: string;
  default?: T;
}

function declare<T>(d: Declaration<T>, expects: string, parse: (raw: string) => T | undefined): Setting<T> {
  return { env: d.env, key: d.key, expects, parse, default: d.default, required: d.default === undefined };
}

/** The setting kinds a daemon declares its configuration with. */
export const setting = {
  string(d: Declaration<string>): Setting<string> {
    return declare(d, 'a string', (raw) => raw);
  },

  /** Exactly true or false, in any letter case. */
  boolean(d: Declaration<boolean>): Setting<boolean> {
    return declare(d, 'true or false', (raw) =>
      /^(true|false)$/i.test(raw) ? raw.toLowerCase() === 'true' : undefined,
    );
  },

  integer(d: Declaration<number> & { min?: number; max?: number }): Setting<number> {
    const { min = Number.MIN_SAFE_INTEGER, max = Number.MAX_SAFE_INTEGER } = d;
    const range = d.max !== undefined ? ` in ${min}-${max}` : d.min !== undefined ? ` >= ${min}` : '';
    return declare(d, `an integer${range}`, (raw) => {
      const value = Number(raw);
      return /^-?\d+$/.test(raw) && value >= min && value <= max ? value : undefined;
    });
  },

  /** A TCP port; 0 lets the system pick a free one. */
  port(d: Declaration<number>): Setting<number> {
    return { ...setting.integer({ ...d, min: 0, max: 65535 }), expects: 'a port number (0-65535)' };
  },

  /**
   * A duration the variable gives in seconds, as Spiderpool's do ("1.5" or "1.5s"), and the default too;
   * the value read is in milliseconds.
   */
  seconds(d: Declaration<number> & { min?: number }): Setting<number> {
    const min = d.min ?? 0;
    const defaultMs = d.default === undefined ? undefined : d.default * 1000;
    return declare({ ...d, default: defaultMs }, `a number of seconds >= ${min}`, (raw) => {
      const value = Number(raw.replace(/s$/, ''));
      return /^\d+(\.\d+)?s?$/.test(raw) && value >= min ? value * 1000 : undefined;
    });
  },

  /**
   * An IPv4 or IPv6 address a server binds to (`0.0.0.0` or `::` for every address). Checked here, so a
   * typo stops the daemon with the variable's name instead of failing later in listen().
   */
  listenAddress(d: Declaration<string>): Setting<string> {
    return declare(d, 'an IPv4 or IPv6 address', (raw) => (isIP(raw) ? raw : undefined));
  },

  oneOf<const V extends string>(values: readonly V[], d: Declaration<V>): Setting<V> {
    return declare(d, `one of ${values.join(', ')}`, (raw) => values.find((v) => v === raw));
  },

  /** The same setting, undefined when unset instead of required. */
  optional<T>(inner: Setting<T>): Setting<T | undefined> {
    return { ...inner, default: undefined, required: false };
  },
};

/**
 * How every daemon reaches the cluster: the kubeconfig (the in-cluster service account when unset) and the
 * namespace the product is installed in. Spread into a daemon's settings.
 */
export const CLUSTER_SETTINGS = {
  kubeconfig: setting.optional(setting.string({ env: 'KUBECONFIG' })),
  namespace: setting.string({ env: 'SPIDERPOOL_NAMESPACE', default: INSTALL_NAMESPACE }),
};

/**
 * Every key a conf.yml may hold: those of Spiderpool's `spiderpool-conf`, so that its documents apply
 * unchanged, plus `clusterNetwork` (Multus' default network, which Spiderpool passes by environment). The
 * daemons share one file and each declares only the keys it uses; deploy/README.md says which keys act. Any
 * other key stops the daemon: a misspelt `enableStatefulset: false` must not leave the setting on.
 */
export const CONF_YML_KEYS: readonly string[] = [
  'ipamUnixSocketPath',
  'enableIPv4',
  'enableIPv6',
  'enableStatefulSet',
  'enableKubevirtStaticIP',
  'enableCleanOutdatedEndpoint',
  'enableSpiderSubnet',
  'enableAutoPoolForApplication',
  'enableIPConflictDetection',
  'enableGatewayDetection',
  'enableValidatingResourcesDeletedWebhook',
  'clusterDefaultIPv4IPPool',
  'clusterDefaultIPv6IPPool',
  'clusterDefaultIPv4Subnet',
  'clusterDefaultIPv6Subnet',
  'clusterSubnetDefaultFlexibleIPNumber',
  'tuneSysctlConfig',
  'podResourceInject',
  'iaasNetworkProvider',
  'agent',
  'clusterNetwork',
];

/** Letters to change, add or drop to turn one key into the other. */
function editDistance(a: string, b: string): number {
  let row = [...Array(b.length + 1).keys()];
  for (let i = 1; i <= a.length; i++) {
    const next = [i];
    for (let j = 1; j <= b.length; j++) {
      const change = (row[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      next.push(Math.min((row[j] ?? 0) + 1, (next[j - 1] ?? 0) + 1, change));
    }
    row = next;
  }
  return row[b.length] ?? 0;
}

function unknownKeys(file: Record<string, unknown>, path: string, declared: Set<string>): string[] {
  const known = [...new Set([...CONF_YML_KEYS, ...declared])];
  return Object.keys(file)
    .filter((key) => !known.includes(key))
    .map((key) => {
      const near = known.find((k) => k.toLowerCase() === key.toLowerCase() || editDistance(k, key) <= 2);
      return `${path}: unknown key ${JSON.stringify(key)}${near ? ` (did you mean ${near}?)` : ''}`;
    });
}

function declaredKeys(group: Settings): string[] {
  return Object.values(group).flatMap((entry) =>
    isSetting(entry) ? (entry.key === undefined ? [] : [entry.key]) : declaredKeys(entry),
  );
}

/** The top-level mapping of a conf.yml; a missing file is an error, since the path was configured. */
function readConfigFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError([
      `${CONFIG_PATH_ENV}: ${JSON.stringify(path)} cannot be read (${(err as NodeJS.ErrnoException).code ?? String(err)})`,
    ]);
  }
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw new ConfigError([`${path}: not YAML: ${(err as Error).message}`]);
  }
  if (doc === null || doc === undefined) return {};
  if (typeof doc !== 'object' || Array.isArray(doc)) throw new ConfigError([`${path}: not a YAML mapping of settings`]);
  return doc as Record<string, unknown>;
}

/** Reads every declared setting, reporting all problems at once. */
export function readConfig<S extends Settings>(settings: S, env: NodeJS.ProcessEnv = process.env): ConfigOf<S> {
  const path = env[CONFIG_PATH_ENV] || undefined;
  const file = path === undefined ? {} : readConfigFile(path);
  const problems = path === undefined ? [] : unknownKeys(file, path, new Set(declaredKeys(settings)));
  const read = (group: Settings): Record<string, unknown> =>
    Object.fromEntries(
      Object.entries(group).map(([name, entry]) => [
        name,
        isSetting(entry) ? readOne(entry, env, path, file, problems) : read(entry),
      ]),
    );
  const config = read(settings);
  if (problems.length > 0) throw new ConfigError(problems);
  return config as ConfigOf<S>;
}

function readOne<T>(
  setting: Setting<T>,
  env: NodeJS.ProcessEnv,
  path: string | undefined,
  file: Record<string, unknown>,
  problems: string[],
): T | undefined {
  const fromEnv = env[setting.env];
  const fromFile = setting.key === undefined ? undefined : file[setting.key];
  let raw: string;
  let source: string;
  if (fromEnv !== undefined && fromEnv !== '') {
    raw = fromEnv;
    source = setting.env;
  } else if (fromFile !== undefined && fromFile !== null && fromFile !== '') {
    source = `${path}: ${setting.key}`;
    if (typeof fromFile === 'object') {
      problems.push(`${source}: ${JSON.stringify(fromFile)} is not ${setting.expects}`);
      return undefined;
    }
    // YAML has already typed `true` and `5000`; they are checked like the same text in a variable.
    raw = String(fromFile);
  } else {
    if (setting.required) problems.push(`${setting.env} is required`);
    return setting.default;
  }
  const value = setting.parse(raw);
  if (value === undefined) problems.push(`${source}: ${JSON.stringify(raw)} is not ${setting.expects}`);
  return value;
}
