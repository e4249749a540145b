// JSON logs on stdout for the daemons.
import winston from 'winston';

export type Logger = winston.Logger;

export function createLogger(component: string, level = process.env.LOG_LEVEL ?? 'info'): Logger {
  return winston.createLogger({
    level,
    format: winston.format.combine(winston.format.timestamp(), winston.format.errors({ stack: true }), winston.format.json()),
    defaultMeta: { component },
    transports: [new winston.transports.Console()],
  });
}
