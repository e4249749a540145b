// One plugin invocation: environment and stdin in, the text for stdout and the exit code out.
import { isIP } from 'node:net';
import {
  AGENT_PATHS,
  CNI_ERROR,
  DEFAULT_AGENT_SOCKET,
  type CoordinatorConfig,
  type IpConflictReport,
} from '../../lib/agent-api.ts';
import { AgentClient, answerError, malformed } from '../skel/agent-client.ts';
import { parseCommand, parseEnv, type CniEnv } from '../skel/env.ts';
import { CniError, errorOutput, invalidConfig } from '../skel/errors.ts';
import { failure, success, versionAnswer, type PluginOutput } from '../skel/invocation.ts';
import { fileLogger, type Logger } from '../skel/log.ts';
import { decodeStdin, LOG_LEVELS, parseVersion, versionForErrors, type LogLevel } from '../skel/netconf.ts';
import { cmdAdd, type Detection } from './add.ts';
import { cmdCheck } from './check.ts';
import { familyOf, mergeConfig, parseNadCoordinator, type EffectiveConfig, type NadCoordinator } from './config.ts';
import { cmdDel } from './del.ts';

const CONFIG_TIMEOUT_MS = 10_000;

export async function run(env: Record<string, string | undefined>, stdin: string): Promise<PluginOutput> {
  try {
    const command = parseCommand(env);
    if (command === 'VERSION') return success(versionAnswer(stdin));
    const cniEnv = parseEnv(env, command);
    const raw = decodeStdin(stdin);
    const cniVersion = parseVersion(raw.cniVersion);
    const nad = parseNadCoordinator(raw);
    // Invalid NAD values are refused before the agent is asked anything. A value the NAD sets always wins,
    // so the merge with no cluster values fails exactly when one of them is invalid.
    mergeConfig(nad, undefined);
    const log = fileLogger(nad.logFile, logLevel(nad.logLevel), {
      plugin: 'coordinator',
      command,
      containerID: cniEnv.containerId,
      ifName: cniEnv.ifName,
      pod: cniEnv.pod ? `${cniEnv.pod.namespace}/${cniEnv.pod.name}` : undefined,
    });
    const socket = nad.socketPath ?? DEFAULT_AGENT_SOCKET;
    try {
      if (command === 'ADD') {
        if (raw.prevResult === undefined || raw.prevResult === null) {
          throw invalidConfig('coordinator must run chained after a main plugin: the network config has no prevResult');
        }
        const conf = mergeConfig(nad, await clusterConfig(socket, cniEnv, log, 'strict'));
        log.debug('config', { conf });
        await cmdAdd(cniEnv, conf, log, detection(raw.prevResult, cniEnv, socket));
        // A meta plugin hands the main plugin's result on untouched.
        return success(raw.prevResult);
      }
      if (command === 'DEL') {
        await cmdDel(cniEnv, await delConfig(nad, socket, cniEnv, log), log);
      } else {
        if (cniVersion === '0.3.0' || cniVersion === '0.3.1')
          throw new CniError(CNI_ERROR.incompatibleVersion, `CHECK needs cniVersion 0.4.0 or later, got ${cniVersion}`);
        await cmdCheck(cniEnv, mergeConfig(nad, await clusterConfig(socket, cniEnv, log, 'strict')));
      }
      return { stdout: '', exitCode: 0 };
    } catch (err) {
      log.error('failed', { error: errorOutput(cniVersion, err) });
      throw err;
    }
  } catch (err) {
    return failure(versionForErrors(stdin), err);
  }
}

/**
 * DEL must not fail because the SpiderCoordinator is unavailable (Spiderpool's does, which leaks the
 * host veth and blocks pod deletion): the NAD's values and the defaults are enough to find what ADD made.
 */
async function delConfig(nad: NadCoordinator, socket: string, env: CniEnv, log: Logger): Promise<EffectiveConfig> {
  try {
    return mergeConfig(nad, await clusterConfig(socket, env, log, 'lenient'));
  } catch (err) {
    log.warn('cluster coordinator config unusable, deleting with the NAD values and defaults', {
      error: (err as Error).message,
    });
    return mergeConfig(nad, undefined);
  }
}

/**
 * The SpiderCoordinator's values from the agent. A cluster without one is not an error: the NAD values
 * and the CRD defaults apply, so pods still start. `lenient` also turns agent failures into "none".
 */
async function clusterConfig(
  socket: string,
  env: CniEnv,
  log: Logger,
  how: 'strict' | 'lenient',
): Promise<CoordinatorConfig | undefined> {
  if (!env.pod) return undefined;
  const query = new URLSearchParams({ podNamespace: env.pod.namespace, podName: env.pod.name });
  const path = `${AGENT_PATHS.coordinatorConfig}?${query.toString()}`;
  const what = `GET ${AGENT_PATHS.coordinatorConfig}`;
  try {
    const answer = await new AgentClient(socket).call({ method: 'GET', path, timeoutMs: CONFIG_TIMEOUT_MS });
    if (answer.ok) return checkConfig(answer.body, what);
    if (answer.error?.reason === 'CoordinatorNotFound') {
      log.info('the cluster has no SpiderCoordinator: using the NAD values and defaults');
      return undefined;
    }
    throw answerError(answer, `coordinator config for pod ${env.pod.namespace}/${env.pod.name}`, what);
  } catch (err) {
    if (how === 'strict') throw err;
    log.warn('coordinator config unavailable', { error: (err as Error).message });
    return undefined;
  }
}

/** The gateways prevResult gives the interface, and the agent call that sets a conflicting address aside. */
function detection(prevResult: unknown, env: CniEnv, socket: string): Detection {
  const prev = (typeof prevResult === 'object' && prevResult !== null ? prevResult : {}) as {
    interfaces?: { name?: unknown }[];
    ips?: { gateway?: unknown; interface?: unknown }[];
  };
  const index = (prev.interfaces ?? []).findIndex((i) => i?.name === env.ifName);
  const gateways = (prev.ips ?? [])
    .filter((ip) => ip.interface === undefined || ip.interface === index)
    .map((ip) => ip.gateway)
    .filter((gw): gw is string => typeof gw === 'string' && isIP(gw) !== 0);
  return {
    gateways: [...new Set(gateways)].map((ip) => ({ ip, family: familyOf(ip) })),
    async setAside(ip, mac) {
      if (!env.pod) return;
      const report: IpConflictReport = {
        podNamespace: env.pod.namespace,
        podName: env.pod.name,
        podUID: env.pod.uid,
        ip,
        mac,
      };
      const answer = await new AgentClient(socket).call({
        method: 'POST',
        path: AGENT_PATHS.conflict,
        body: report,
        timeoutMs: CONFIG_TIMEOUT_MS,
      });
      if (!answer.ok)
        throw answerError(
          answer,
          `setting ${ip} aside for pod ${report.podNamespace}/${report.podName}`,
          `POST ${AGENT_PATHS.conflict}`,
        );
    },
  };
}

function checkConfig(body: unknown, what: string): CoordinatorConfig {
  const v = (body ?? {}) as Partial<Record<keyof CoordinatorConfig, unknown>>;
  if (typeof v.mode !== 'string') throw malformed(what, '"mode" is not a string');
  for (const key of ['overlayPodCIDR', 'serviceCIDR', 'hijackCIDR', 'policyRoutes'] as const) {
    if (!Array.isArray(v[key])) throw malformed(what, `"${key}" is not a list`);
  }
  for (const key of ['vethMTU', 'hostRuleTable', 'podRPFilter', 'txQueueLen'] as const) {
    if (typeof v[key] !== 'number') throw malformed(what, `"${key}" is not a number`);
  }
  return body as CoordinatorConfig;
}

function logLevel(level: string | undefined): LogLevel {
  const upper = (level ?? 'debug').toUpperCase();
  return (LOG_LEVELS as readonly string[]).includes(upper) ? (upper as LogLevel) : 'INFO';
}
