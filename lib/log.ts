// JSON logs on stdout for the daemons.
import winston from 'winston';

export type Logger = winston.Logger;

/** winston's levels, most severe first: a logger prints its level and those before it. */
export const LOG_LEVELS = ['error', 'warn', 'info', 'http', 'verbose', 'debug', 'silly'] as const;

export function createLogger(component: string, level = process.env.LOG_LEVEL ?? 'info'): Logger {
  return winston.createLogger({
    level,
    format: winston.format.combine(
      winston.format.timestamp(),
      winston.format.errors({ stack: true }),
      winston.format.json(),
    ),
    defaultMeta: { component },
    transports: [new winston.transports.Console()],
  });
}
