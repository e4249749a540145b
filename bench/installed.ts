import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { repoRoot } from '../e2e/cluster/install.ts';
import type { Daemon } from '../scripts/build.ts';

/** Where the install runs each daemon: its manifest under deploy/product/ and its container there. */
const CONTAINERS: Record<Daemon, { manifest: string; container: string }> = {
  agent: { manifest: 'agent.yaml', container: 'agent' },
  controller: { manifest: 'controller.yaml', container: 'operator' },
  webhooks: { manifest: 'controller.yaml', container: 'webhooks' },
};

interface Workload {
  spec?: { template?: { spec?: { containers?: { name: string; command?: string[] }[] } } };
}

/**
 * The node flags the install starts a daemon's bundle with (`command: [node, ...flags, bundle]`), so that a
 * benchmark measures the daemon as installed.
 */
export function installedNodeFlags(daemon: Daemon): string[] {
  const { manifest, container } = CONTAINERS[daemon];
  const text = readFileSync(join(repoRoot, 'deploy', 'product', manifest), 'utf8');
  for (const doc of parseAllDocuments(text)) {
    const workload = doc.toJS() as Workload | null;
    const found = workload?.spec?.template?.spec?.containers?.find((c) => c.name === container);
    if (found?.command?.[0] === 'node') return found.command.slice(1, -1);
  }
  throw new Error(`deploy/product/${manifest} has no container ${container} started with node`);
}
