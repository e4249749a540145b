// Temp dirs for test sockets and logs, inside the only directories the plugins accept them from.
import { mkdirSync, mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { LOG_DIR, SOCKET_DIR } from '../paths.ts';

function tempDirIn(base: string): string {
  mkdirSync(base, { recursive: true });
  return mkdtempSync(join(base, 'test-'));
}

/** A fresh dir where the plugins accept an agent socket; the caller removes it. */
export const socketTempDir = (): string => tempDirIn(SOCKET_DIR);

/** A fresh dir where the plugins accept a log file; the caller removes it. */
export const logTempDir = (): string => tempDirIn(LOG_DIR);
