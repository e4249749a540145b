// Optional plugin log: JSON lines appended to the file the plugin's config names, if it names one.
// stdout belongs to the CNI result and stderr is not read by libcni, so there is no other sink.
import { appendFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { LOG_LEVELS, type LogLevel } from './netconf.ts';

export type LogFields = Record<string, unknown>;

export interface Logger {
  with(fields: LogFields): Logger;
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
}

const silent: Logger = { with: () => silent, debug() {}, info() {}, warn() {}, error() {} };

export function fileLogger(path: string | undefined, minLevel: LogLevel, base: LogFields = {}): Logger {
  if (!path) return silent;
  const threshold = LOG_LEVELS.indexOf(minLevel);
  let dirReady = false;
  const write = (level: LogLevel, msg: string, fields?: LogFields): void => {
    if (LOG_LEVELS.indexOf(level) < threshold) return;
    const line = JSON.stringify({
      ts: new Date().toISOString(),
      level: level.toLowerCase(),
      msg,
      pid: process.pid,
      ...base,
      ...fields,
    });
    // A log that cannot be written must never change the outcome the runtime sees.
    try {
      if (!dirReady) mkdirSync(dirname(path), { recursive: true });
      dirReady = true;
      appendFileSync(path, `${line}\n`);
    } catch {
      // ignored on purpose, see above
    }
  };
  return {
    with: (fields) => fileLogger(path, minLevel, { ...base, ...fields }),
    debug: (msg, fields) => write('DEBUG', msg, fields),
    info: (msg, fields) => write('INFO', msg, fields),
    warn: (msg, fields) => write('WARN', msg, fields),
    error: (msg, fields) => write('ERROR', msg, fields),
  };
}
