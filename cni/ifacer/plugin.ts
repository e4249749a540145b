// One ifacer invocation (docs/cni-plugins.md#ifacer). ADD makes the host interfaces exist and passes the chain's
// result on; DEL and CHECK change nothing, since an interface may serve other pods and other NADs.
import { CNI_ERROR } from '../../lib/agent-api.ts';
import { parseCommand, parseEnv } from '../skel/env.ts';
import { CniError } from '../skel/errors.ts';
import { failure, success, versionAnswer, type PluginOutput } from '../skel/invocation.ts';
import { decodeStdin, parseVersion, versionForErrors } from '../skel/netconf.ts';
import { parseIfacerConfig, type IfacerConfig } from './config.ts';
import { IpError, realHost, type Host } from './host.ts';
import { plan } from './plan.ts';

/** Two pods of a NAD may start at once and race to create the same interface: the loser plans again. */
const ROUNDS = 3;
const RACE = /File exists|already a member|Device or resource busy/;

export async function run(
  env: Record<string, string | undefined>,
  stdin: string,
  host: Host = realHost,
): Promise<PluginOutput> {
  try {
    const command = parseCommand(env);
    if (command === 'VERSION') return success(versionAnswer(stdin));
    parseEnv(env, command);
    const raw = decodeStdin(stdin);
    const cniVersion = parseVersion(raw.cniVersion);
    const conf = parseIfacerConfig(raw);
    if (command !== 'ADD') return { stdout: '', exitCode: 0 };
    await ensure(conf, host);
    return success(raw.prevResult ?? { cniVersion, interfaces: [], ips: [] });
  } catch (err) {
    return failure(versionForErrors(stdin), err);
  }
}

export async function ensure(conf: IfacerConfig, host: Host): Promise<void> {
  for (let round = 1; ; round++) {
    try {
      for (const args of plan(conf, await host.links())) await host.ip(args);
      return;
    } catch (err) {
      if (err instanceof IpError && RACE.test(err.stderr) && round < ROUNDS) continue;
      if (err instanceof IpError)
        throw new CniError(
          CNI_ERROR.invalidEnvironment,
          `ifacer: ${err.message}${/Unknown device type|not supported/i.test(err.stderr) ? ' (the host kernel lacks the vlan or bonding driver)' : ''}`,
        );
      throw err;
    }
  }
}
