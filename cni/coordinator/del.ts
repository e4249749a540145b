// DEL (docs/coordinator.md#del): removes what ADD put on the host. Pod-side state dies with the pod's netns.
import { existsSync } from 'node:fs';
import type { Logger } from '../skel/log.ts';
import { hostVethName } from './add.ts';
import { familyOf, type EffectiveConfig } from './config.ts';
import { hostLength, Netns } from './iproute.ts';

export interface DelRequest {
  containerId: string;
  netns: string;
  ifName: string;
}

const GONE = /Cannot find device|does not exist|No such process|Cannot open network namespace|No such file/;

export async function cmdDel(req: DelRequest, conf: EffectiveConfig, log: Logger): Promise<void> {
  if (conf.mode === 'disable') return;
  if (!req.netns || !existsSync(req.netns)) {
    log.info('pod netns already gone: nothing to remove', { netns: req.netns });
    return;
  }
  const host = new Netns(undefined);
  const pod = new Netns(req.netns);
  // The host routes of this interface's addresses first: they name the veth the next step deletes.
  const addrs = await pod.addresses(req.ifName).catch(() => []);
  // Only the routes via this pod's veth: a newer pod may hold the same address by now, with its route
  // via its own veth, and a late DEL of this pod must leave that one alone.
  const veth = hostVethName(req.containerId);
  for (const a of addrs) {
    const family = familyOf(a.local);
    const dst = `${a.local}/${hostLength(family)}`;
    await host.ipTolerant([`-${family}`, 'route', 'del', dst, 'dev', veth, 'table', String(conf.hostRuleTable)], GONE);
  }
  await host.ipTolerant(['link', 'del', veth], GONE);
}
