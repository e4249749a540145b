// What the quick-start tests do between a document's commands: wait for its pods, run the commands it
// runs inside a pod, and compare addresses with the ranges it shows.
import { readFileSync } from 'node:fs';
import { type Kubectl, kubectlOk } from '../cluster/kubectl.ts';
import { eventually } from '../harness/wait.ts';
import { parseCIDR, parseIP, parseRange } from '../../lib/ip/index.ts';
import { fixturePath, type QuickstartCluster } from './start.ts';

export interface RunningPod {
  name: string;
  node: string;
  podIP: string;
  hostIP: string;
}

/** A document's `cat <<EOF | kubectl <verb> -f -` with the fixture that holds its YAML. */
export const applyFixture = (kubectl: Kubectl, verb: 'apply' | 'create', file: string) =>
  kubectlOk(kubectl, [verb, '-f', '-'], { stdin: readFileSync(fixturePath(file), 'utf8') });

/** Waits until exactly `count` pods match the selector and all run. */
export async function runningPods(kubectl: Kubectl, selector: string, count: number): Promise<RunningPod[]> {
  return eventually(`${count} running pods with ${selector}`, 120_000, async () => {
    const out = JSON.parse(await kubectlOk(kubectl, ['get', 'pods', '-l', selector, '-o', 'json'])) as {
      items: {
        metadata: { name: string };
        spec: { nodeName?: string };
        status: { phase?: string; podIP?: string; hostIP?: string };
      }[];
    };
    const running = out.items.filter((p) => p.status.phase === 'Running' && p.status.podIP);
    if (out.items.length !== count || running.length !== count) return undefined;
    return running.map((p) => ({
      name: p.metadata.name,
      node: p.spec.nodeName ?? '',
      podIP: p.status.podIP ?? '',
      hostIP: p.status.hostIP ?? '',
    }));
  });
}

/** `kubectl exec POD -- argv`: the simulated pods have only their network namespace to run in. */
export async function inPod(cluster: QuickstartCluster, pod: string, argv: string[]): Promise<string> {
  const r = await cluster.nodes.kubelet.exec('default', pod, argv);
  if (r.code !== 0) throw new Error(`${argv.join(' ')} in pod ${pod} failed (${r.code}): ${r.stderr.trim()}`);
  return r.stdout;
}

/** Whether `ping -c 2` from the pod (from `source`, when given) gets both answers. */
export async function pings(cluster: QuickstartCluster, pod: string, target: string, source?: string) {
  const r = await cluster.nodes.kubelet.exec('default', pod, [
    'ping',
    '-c',
    '2',
    '-W',
    '2',
    ...(source ? ['-I', source] : []),
    target,
  ]);
  return r.code === 0 && / 0% packet loss/.test(r.stdout);
}

/** Whether an address (with or without a prefix length) is in a CIDR or in a Spiderpool range `a-b`. */
export function within(address: string, where: string): boolean {
  const ip = parseIP(address.split('/')[0] ?? address).value;
  const { start, end } = where.includes('/') ? parseCIDR(where) : parseRange(where);
  return ip >= start && ip <= end;
}
