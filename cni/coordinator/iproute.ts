// iproute2 and sysctl, in the netns the plugin runs in (the host) or in the pod's, entered by path
// with nsenter: `ip -n` only knows names under /var/run/netns, CNI_NETNS may be any path.
import { execFile } from 'node:child_process';
import type { Family } from '../../lib/ip/index.ts';

// Runtimes may pass a bare environment; iproute2 lives in the sbin directories.
const PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

class CommandError extends Error {
  constructor(
    message: string,
    readonly stderr: string,
  ) {
    super(message);
  }
}

function exec(file: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { env: { PATH: process.env.PATH || PATH }, timeout: 10_000 }, (err, stdout, stderr) => {
      if (err) reject(new CommandError(`${file} ${args.join(' ')}: ${stderr.trim() || err.message}`, stderr));
      else resolve(stdout);
    });
  });
}

export interface Link {
  ifname: string;
  ifindex: number;
  flags: string[];
  address?: string;
  link_index?: number;
  link_netnsid?: number;
  linkinfo?: { info_kind?: string };
}
export interface Addr {
  family: 'inet' | 'inet6';
  local: string;
  prefixlen: number;
  scope: string;
}
export interface Route {
  dst: string;
  gateway?: string;
  dev?: string;
  protocol?: string;
  scope?: string;
  prefsrc?: string;
  metric?: number;
  nexthops?: { gateway?: string; dev?: string; weight?: number }[];
  flags?: string[];
}

/** One network namespace: `path` undefined is the one this process runs in. */
export class Netns {
  constructor(readonly path: string | undefined) {}

  ip(args: string[]): Promise<string> {
    return this.path ? exec('nsenter', [`--net=${this.path}`, 'ip', ...args]) : exec('ip', args);
  }

  /** Like ip(), but an answer matching `benign` (e.g. "No such process" when deleting) is success. */
  async ipTolerant(args: string[], benign: RegExp): Promise<void> {
    try {
      await this.ip(args);
    } catch (err) {
      if (!(err instanceof CommandError && benign.test(err.stderr))) throw err;
    }
  }

  async json<T>(args: string[]): Promise<T[]> {
    const out = await this.ip(['-j', ...args]);
    return out.trim() ? (JSON.parse(out) as T[]) : [];
  }

  links(): Promise<Link[]> {
    return this.json<Link>(['-d', 'link', 'show']);
  }

  async link(name: string): Promise<Link | undefined> {
    return (await this.links()).find((l) => l.ifname === name);
  }

  /** Global (non link-local) addresses of one interface, or of all when `dev` is omitted. */
  async addresses(dev?: string): Promise<(Addr & { dev: string })[]> {
    const rows = await this.json<{ ifname: string; addr_info?: Addr[] }>([
      'addr',
      'show',
      ...(dev ? ['dev', dev] : []),
    ]);
    return rows.flatMap((r) =>
      (r.addr_info ?? []).filter((a) => a.scope === 'global').map((a) => ({ ...a, dev: r.ifname })),
    );
  }

  routes(family: Family, table: string | number = 'main'): Promise<Route[]> {
    return this.json<Route>([`-${family}`, 'route', 'show', 'table', String(table)]);
  }

  sysctl(key: string, value: string): Promise<string> {
    return this.path
      ? exec('nsenter', [`--net=${this.path}`, 'sysctl', '-q', '-w', `${key}=${value}`])
      : exec('sysctl', ['-q', '-w', `${key}=${value}`]);
  }

  iptables(family: Family, args: string[]): Promise<string> {
    const bin = family === 4 ? 'iptables' : 'ip6tables';
    return this.path ? exec('nsenter', [`--net=${this.path}`, bin, ...args]) : exec(bin, args);
  }
}

export const hostLength = (family: Family): number => (family === 4 ? 32 : 128);
