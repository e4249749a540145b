// The host directories a network config may name files in. A NAD is written by namespace tenants, so
// its socket and log paths must not reach the rest of the host: a log path could append to any file, a
// socket path could hand the pod's identity to a listener of the tenant's choosing.
import { lstatSync, realpathSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { DEFAULT_AGENT_SOCKET } from '../../lib/agent-api.ts';
import { invalidConfig } from './errors.ts';

/** The agent's socket directory (the agent pod's hostPath mount). */
export const SOCKET_DIR = dirname(DEFAULT_AGENT_SOCKET);
/** Where upstream Spiderpool's plugins log (spiderpool.log, coordinator.log). */
export const LOG_DIR = '/var/log/spidernet';

/**
 * `path` with `..` resolved when it names a file strictly inside `dir` once symlinks are resolved too,
 * else code 7 naming `field`. The file, and directories leading to it, need not exist yet. The checked
 * path is returned, not the symlink-free one, so that messages show what the config says.
 */
export function confinedPath(path: string, field: string, dir: string): string {
  const refuse = (why: string) => invalidConfig(`${field} must name a file under ${dir}/, got "${path}": ${why}`);
  if (!path.startsWith('/')) throw refuse('not an absolute path');
  const normal = resolve(path);
  const real = resolveExisting(normal);
  if (real === undefined) throw refuse('it cannot be resolved (a dangling symlink or an unreadable directory)');
  const base = resolveExisting(dir) ?? dir;
  if (!real.startsWith(`${base}/`)) throw refuse(`it resolves to ${real}`);
  return normal;
}

/** Symlinks resolved as far as the path exists; undefined when a part exists but does not resolve. */
function resolveExisting(path: string): string | undefined {
  const missing: string[] = [];
  let head = path;
  for (;;) {
    try {
      return join(realpathSync(head), ...missing);
    } catch (err) {
      // Only a part that does not exist at all may be created later: a dangling symlink would be followed.
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || exists(head)) return undefined;
    }
    missing.unshift(basename(head));
    head = dirname(head);
  }
}

function exists(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch {
    return false;
  }
}
