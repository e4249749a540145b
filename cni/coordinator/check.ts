// CHECK: the pod side ADD depends on is still there: the interface, and veth0 when the pod is underlay.
import { existsSync } from 'node:fs';
import { CNI_ERROR } from '../../lib/agent-api.ts';
import { CniError } from '../skel/errors.ts';
import type { EffectiveConfig } from './config.ts';
import { Netns } from './iproute.ts';
import { POD_VETH } from './mode.ts';

export async function cmdCheck(req: { netns: string; ifName: string }, conf: EffectiveConfig): Promise<void> {
  if (conf.mode === 'disable') return;
  if (!existsSync(req.netns)) throw new CniError(CNI_ERROR.unknownContainer, `pod netns ${req.netns} does not exist`);
  const links = await new Netns(req.netns).links();
  if (!links.some((l) => l.ifname === req.ifName))
    throw new CniError(CNI_ERROR.unknownContainer, `interface ${req.ifName} is missing in pod netns ${req.netns}`);
  const underlay = conf.mode === 'underlay' || (conf.mode === 'auto' && req.ifName === conf.podDefaultCniNic);
  if (underlay && !links.some((l) => l.ifname === POD_VETH))
    throw new CniError(CNI_ERROR.unknownContainer, `underlay pod lacks ${POD_VETH} in netns ${req.netns}`);
}
