// GC settings, from the controller environment as Spiderpool names them (spec §6.7, §9.3).
export interface GcOptions {
  /** SPIDERPOOL_GC_IP_ENABLED (true): the master switch. */
  enabled: boolean;
  /** SPIDERPOOL_GC_DEFAULT_INTERVAL_DURATION (600 s): period of the full scan. */
  intervalMs: number;
  /** SPIDERPOOL_GC_ADDITIONAL_GRACE_DELAY (0 s): added to a terminating pod's grace period. */
  graceMarginMs: number;
  /** SPIDERPOOL_GC_DRY_RUN (false): decide and report, never write. */
  dryRun: boolean;
  /** SPIDERPOOL_ENABLE_STATEFULSET (true): StatefulSet pods keep their addresses across re-creation. */
  enableStatefulSet: boolean;
}

function flag(env: NodeJS.ProcessEnv, name: string, fallback: boolean): boolean {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (/^(true|false)$/i.test(raw)) return raw.toLowerCase() === 'true';
  throw new Error(`${name}: "${raw}" is not true or false`);
}

function seconds(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback * 1000;
  const value = Number(raw.replace(/s$/, ''));
  if (!Number.isFinite(value) || value < min) throw new Error(`${name}: "${raw}" is not a number of seconds >= ${min}`);
  return value * 1000;
}

export function gcOptionsFromEnv(env: NodeJS.ProcessEnv = process.env): GcOptions {
  return {
    enabled: flag(env, 'SPIDERPOOL_GC_IP_ENABLED', true),
    intervalMs: seconds(env, 'SPIDERPOOL_GC_DEFAULT_INTERVAL_DURATION', 600, 0.1),
    graceMarginMs: seconds(env, 'SPIDERPOOL_GC_ADDITIONAL_GRACE_DELAY', 0, 0),
    dryRun: flag(env, 'SPIDERPOOL_GC_DRY_RUN', false),
    enableStatefulSet: flag(env, 'SPIDERPOOL_ENABLE_STATEFULSET', true),
  };
}
