// The host state a real node touches outside its own directory and network namespace: cgroups,
// mounts, kernel sysctls and a few fixed paths. Everything here is synchronous so that the same
// clean-up also runs from a process 'exit' handler.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** Mount points (decoded) from /proc/self/mountinfo, in mount order. */
export function mountPoints(): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) =>
      (line.split(' ')[4] ?? '').replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8))),
    );
}

export function mountsUnder(dir: string): string[] {
  return mountPoints().filter((m) => m.startsWith(`${dir}/`));
}

/** Unmounts everything under dir, latest first (a mount can sit on another); throws if any remain. */
export function unmountUnder(dir: string): void {
  for (let round = 0; round < 5 && mountsUnder(dir).length > 0; round++) {
    for (const m of mountsUnder(dir).reverse()) {
      try {
        execFileSync('umount', [m], { stdio: 'ignore' });
      } catch {
        // Busy: detach it now, the kernel frees it when the last user is gone.
        try {
          execFileSync('umount', ['-l', m], { stdio: 'ignore' });
        } catch {
          /* gone meanwhile, or under one just removed */
        }
      }
    }
  }
  const left = mountsUnder(dir);
  if (left.length > 0) throw new Error(`mounts left under ${dir}: ${left.join(', ')}`);
}

/** The mount point of every cgroup hierarchy: v1 ones (cpu, memory, pids, name=systemd, …) and a hybrid unified one. */
function hierarchies(): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter((line) => / - cgroup2? /.test(line))
    .map((line) => line.split(' ')[4] ?? '');
}

/**
 * Creates cgroup `name` (and, in the pids hierarchy, `name/sub` for each sub) in every hierarchy. A new
 * cpuset cgroup has no CPUs or memory nodes until given its parent's.
 */
export function createCgroup(name: string, subs: string[]): void {
  for (const h of hierarchies()) {
    mkdirSync(join(h, name), { recursive: true });
    for (const f of ['cpuset.cpus', 'cpuset.mems']) {
      if (existsSync(join(h, f))) writeFileSync(join(h, name, f), readFileSync(join(h, f)));
    }
  }
  for (const sub of subs) mkdirSync(join(pidsHierarchy(), name, sub), { recursive: true });
}

export function pidsHierarchy(): string {
  const h = hierarchies().find((p) => p.endsWith('/pids'));
  if (!h) throw new Error('no pids cgroup hierarchy is mounted');
  return h;
}

function subtree(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const children = readdirSync(dir)
    .map((e) => join(dir, e))
    .filter((p) => statSync(p).isDirectory());
  return [dir, ...children.flatMap(subtree)];
}

export function pidsInCgroup(name: string): number[] {
  return subtree(join(pidsHierarchy(), name)).flatMap((d) =>
    readFileSync(join(d, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number),
  );
}

/** SIGKILLs every process in cgroup `name` and below until none is left. */
export function killCgroup(name: string, timeoutMs = 20_000): void {
  const deadline = Date.now() + timeoutMs;
  for (let pids = pidsInCgroup(name); pids.length > 0; pids = pidsInCgroup(name)) {
    if (Date.now() > deadline) throw new Error(`processes left in cgroup ${name}: ${pids.join(' ')}`);
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
    sleepSync(50);
  }
}

/** Removes cgroup `name` and everything below it from every hierarchy, deepest first. */
export function removeCgroup(name: string): void {
  for (const h of hierarchies()) {
    for (const d of subtree(join(h, name)).reverse()) rmdirSync(d);
  }
}

export function cgroupExists(name: string): boolean {
  return hierarchies().some((h) => existsSync(join(h, name)));
}

/** The machine-wide sysctls kubelet sets at start (container_manager_linux.go, setupKernelTunables). */
export const KUBELET_SYSCTLS = [
  'kernel/panic',
  'kernel/panic_on_oops',
  'vm/overcommit_memory',
  'vm/panic_on_oom',
  'kernel/keys/root_maxkeys',
  'kernel/keys/root_maxbytes',
];

export function readSysctls(names: string[]): Record<string, string> {
  return Object.fromEntries(names.map((n) => [n, readFileSync(join('/proc/sys', n), 'utf8').trim()]));
}

export function writeSysctls(values: Record<string, string>): void {
  for (const [n, v] of Object.entries(values)) {
    if (readFileSync(join('/proc/sys', n), 'utf8').trim() !== v) writeFileSync(join('/proc/sys', n), v);
  }
}
