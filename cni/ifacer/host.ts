// iproute2 in the host netns the plugin runs in; ifacer's only way of touching the host.
import { execFile } from 'node:child_process';
import type { HostLink } from './plan.ts';

const PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export class IpError extends Error {
  constructor(
    message: string,
    readonly stderr: string,
  ) {
    super(message);
  }
}

export interface Host {
  links(): Promise<HostLink[]>;
  ip(args: string[]): Promise<void>;
}

function exec(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('ip', args, { env: { PATH: process.env.PATH || PATH }, timeout: 10_000 }, (err, stdout, stderr) => {
      if (err) reject(new IpError(`ip ${args.join(' ')}: ${stderr.trim() || err.message}`, stderr));
      else resolve(stdout);
    });
  });
}

export const realHost: Host = {
  async links() {
    const out = await exec(['-d', '-j', 'link', 'show']);
    return out.trim() ? (JSON.parse(out) as HostLink[]) : [];
  },
  async ip(args) {
    await exec(args);
  },
};
