// One plugin invocation: environment and stdin in, the text for stdout and the exit code out. main.ts
// owns the process (reading stdin, writing stdout, setting the exit code); everything else is here.
import { parseCommand, parseEnv } from '../skel/env.ts';
import { errorOutput } from '../skel/errors.ts';
import { failure, success, versionAnswer, type PluginOutput } from '../skel/invocation.ts';
import { fileLogger } from '../skel/log.ts';
import { decodeStdin, versionForErrors } from '../skel/netconf.ts';
import { cmdAdd } from './add.ts';
import { cmdCheck } from './check.ts';
import { cmdDel } from './del.ts';
import { parseNetConf } from './netconf.ts';

export async function run(env: Record<string, string | undefined>, stdin: string): Promise<PluginOutput> {
  try {
    const command = parseCommand(env);
    if (command === 'VERSION') return success(versionAnswer(stdin));
    const cniEnv = parseEnv(env, command);
    const conf = parseNetConf(decodeStdin(stdin));
    const log = fileLogger(conf.ipam.logFilePath, conf.ipam.logLevel, {
      command,
      containerID: cniEnv.containerId,
      ifName: cniEnv.ifName,
      pod: cniEnv.pod ? `${cniEnv.pod.namespace}/${cniEnv.pod.name}` : undefined,
    });
    log.debug('request', { netns: cniEnv.netns, cniVersion: conf.cniVersion, socket: conf.ipam.socketPath });
    try {
      // DEL and CHECK print nothing on success.
      if (command === 'ADD') return success(await cmdAdd(cniEnv, conf, log));
      if (command === 'DEL') await cmdDel(cniEnv, conf, log);
      else await cmdCheck(cniEnv, conf, log);
      return { stdout: '', exitCode: 0 };
    } catch (err) {
      log.error('failed', { error: errorOutput(conf.cniVersion, err) });
      throw err;
    }
  } catch (err) {
    return failure(versionForErrors(stdin), err);
  }
}
