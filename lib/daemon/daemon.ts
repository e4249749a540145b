// The process shell every spiderpool daemon runs in: it reads the configuration, creates the logger at
// LOG_LEVEL, serves /metrics, /healthz and /readyz (lib/daemon/health.ts) from the start, starts the
// daemon's components, and stops them once on SIGTERM or SIGINT.
import { Registry } from 'prom-client';
import { LOG_LEVELS, createLogger, type Logger } from '../log.ts';
import { readConfig, setting, type ConfigOf, type Settings } from './config.ts';
import { serveHealth } from './health.ts';

export const LOG_LEVEL = setting.oneOf(LOG_LEVELS, { env: 'LOG_LEVEL', default: 'info' });

export interface Components {
  /** The daemon's own readiness; without it the daemon is ready once `start` has resolved. */
  ready?(): boolean;
  stop(): Promise<void>;
}

export interface DaemonContext<C> {
  config: C;
  log: Logger;
  /** Served on /metrics: the components register their series here. */
  registry: Registry;
}

export interface DaemonOptions<S extends Settings> {
  /** The `component` of every log line. */
  name: string;
  settings: S;
  /** Where /metrics, /healthz and /readyz are served. */
  health(config: ConfigOf<S>): { port: number; host: string };
  start(context: DaemonContext<ConfigOf<S>>): Promise<Components>;
}

/** Log fields of a failure: its message and, for an Error, where it was thrown. */
function errorFields(err: unknown): { err: string; stack?: string } {
  return err instanceof Error ? { err: err.message, stack: err.stack } : { err: String(err) };
}

export async function runDaemon<S extends Settings>(options: DaemonOptions<S>): Promise<void> {
  let log: Logger | undefined;
  try {
    // One read, so that a bad LOG_LEVEL and a bad daemon setting are reported together.
    const read = readConfig({ level: LOG_LEVEL, daemon: options.settings });
    // TypeScript does not resolve a nested group's ConfigOf while S is still generic.
    const config = read.daemon as ConfigOf<S>;
    log = createLogger(options.name, read.level);
    const daemonLog = log;

    // Every failure is expected to be handled where it happens; one that escapes is logged and the
    // process keeps serving rather than restarting with cold caches and a lost Lease.
    process.on('unhandledRejection', (err) => daemonLog.error('unhandled rejection', errorFields(err)));

    const registry = new Registry();
    const listen = options.health(config);
    // The components a signal stops; one that comes before start has resolved just ends the process.
    const running: { components?: Components } = {};
    const health = await serveHealth({
      registry,
      ...listen,
      ready: () => running.components !== undefined && (running.components.ready?.() ?? true),
    });
    log.info('serving metrics and health', { host: listen.host, port: health.port });

    let stopping = false;
    const shutdown = async (signal: string) => {
      if (stopping) {
        daemonLog.warn('second signal during shutdown, exiting at once', { signal });
        process.exit(1);
      }
      stopping = true;
      daemonLog.info('shutting down', { signal });
      try {
        await running.components?.stop();
        await health.close();
        daemonLog.info('stopped');
        process.exit(0);
      } catch (err) {
        daemonLog.error('unclean shutdown', errorFields(err));
        process.exit(1);
      }
    };
    process.on('SIGTERM', () => void shutdown('SIGTERM'));
    process.on('SIGINT', () => void shutdown('SIGINT'));

    running.components = await options.start({ config, log, registry });
  } catch (err) {
    (log ?? createLogger(options.name, 'info')).error(`${options.name} failed to start`, errorFields(err));
    process.exit(1);
  }
}
