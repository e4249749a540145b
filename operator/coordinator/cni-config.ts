// `podCIDRType: auto` asks which CNI is the cluster's default: the first CNI configuration file in the
// host's CNI directory (kubelet's own choice), read through a read-only mount of that directory.
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';

export type PodCIDRType = 'cluster' | 'calico' | 'cilium' | 'none';

/** What the CNI directory says: the default network's name, nothing, or why it cannot be read. */
export type DefaultCni = { file: string; name: string } | { absent: string } | { error: string };

/** The file kubelet would use: *.conf and *.conflist in name order, Multus' own configuration excluded. */
export function defaultCniFile(names: readonly string[]): string | undefined {
  return names.filter((n) => /\.(conf|conflist)$/.test(n) && !n.includes('00-multus')).sort()[0];
}

export function typeOfCni(networkName: string): PodCIDRType {
  if (networkName === 'calico' || networkName === 'k8s-pod-network') return 'calico';
  if (networkName === 'cilium') return 'cilium';
  if (networkName === 'flannel') return 'cluster';
  return 'none';
}

export async function readDefaultCni(dir: string): Promise<DefaultCni> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return { absent: `no CNI configuration directory ${dir}` };
    return { error: `cannot read the CNI configuration directory ${dir}: ${(err as Error).message}` };
  }
  const file = defaultCniFile(names);
  if (!file) return { absent: `no CNI configuration in ${dir}` };
  const path = join(dir, file);
  let config: unknown;
  try {
    config = JSON.parse(await readFile(path, 'utf8'));
  } catch (err) {
    return { error: `cannot read the default CNI configuration ${path}: ${(err as Error).message}` };
  }
  const name = (config as { name?: unknown } | null)?.name;
  if (typeof name !== 'string' || name === '') return { error: `the default CNI configuration ${path} has no "name"` };
  return { file: path, name };
}
