// A real Kubernetes node for the e2e harness: containerd, kubelet and kube-proxy built by
// e2e/cluster/build.sh --node, running inside a network namespace of their own so that the node's
// address, kube-proxy's iptables rules and all pod traffic stay off the machine's network. The host
// reaches the node over one veth pair; the control plane listens on the host end (startControlPlane's
// `address`) and the host routes the node's pod CIDR to it, so the apiserver reaches pods too.
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import {
  closeSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmdirSync,
  rmSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { SERVICE_CIDR, type ControlPlane } from '../cluster/control-plane.ts';
import { kubectlFor } from '../cluster/kubectl.ts';
import { addNetns, execCommand, ip, type ExecResult } from '../kubelet/netns.ts';
import {
  createCgroup,
  killCgroup,
  KUBELET_SYSCTLS,
  pidsHierarchy,
  readSysctls,
  removeCgroup,
  unmountUnder,
  writeSysctls,
} from './host.ts';
import { busyboxImage, nginxImage, PAUSE_IMAGE, pauseImage, writeImageArchive, type ImageSpec } from './image.ts';

const run = promisify(execFile);
const here = dirname(fileURLToPath(import.meta.url));

const DEBIAN_CNI_PLUGINS = '/usr/lib/cni';
// Paths outside the node's directory that its programs write to and that have no setting: libcni's
// result cache (containerd 1.6 passes no cache directory), kubelet 1.20's container logs and device
// plugin socket, and containerd 1.6's shim sockets. Listed parents first.
const DEVICE_PLUGINS = '/var/lib/kubelet/device-plugins';
export const FIXED_HOST_PATHS = [
  '/var/lib/cni',
  '/var/lib/cni/results',
  '/var/log/pods',
  '/var/log/containers',
  '/run/containerd',
  '/run/containerd/s',
  '/var/lib/kubelet',
  DEVICE_PLUGINS,
];

/** Runs build.sh --node (a no-op once cached) and returns the directory of every binary. */
export async function nodeBinaries(): Promise<string> {
  const { stdout } = await run('bash', [join(here, '..', 'cluster', 'build.sh'), '--node'], {
    maxBuffer: 16 * 1024 * 1024,
  });
  const dir = stdout.trim().split('\n').at(-1);
  if (!dir) throw new Error('build.sh printed no binary directory');
  return dir;
}

export interface NodeNetworkOptions {
  /** The node's name; it also names the namespace (`spiderpool-node-<name>`) and the host's veth end. */
  name: string;
  /** The /30 between the host end (first address) and the node (second); default 192.168.253.0/30. */
  link?: string;
  /** The pods' CIDR on this node: the default CNI config allocates from it and the host routes it to the node. */
  podCidr?: string;
}

export interface NodeNetwork {
  name: string;
  netns: string;
  /** The host end of the veth: the address the control plane listens on for this node. */
  hostAddress: string;
  /** The node's InternalIP, inside its namespace. */
  nodeAddress: string;
  podCidr: string;
  /** The host end of the veth pair. */
  hostInterface: string;
  /** Deletes the veth pair (and the host's route through it) and the namespace. */
  remove(): Promise<void>;
}

const ifname = (prefix: string, name: string) => `${prefix}${name}`.slice(0, 15);

// The veth goes first: the kernel dismantles a deleted namespace, and the interfaces in it, only later.
function deleteNetworkSync(netns: string, hostEnd: string): void {
  if (existsSync(`/sys/class/net/${hostEnd}`)) execFileSync('ip', ['link', 'delete', hostEnd]);
  if (existsSync(`/var/run/netns/${netns}`)) execFileSync('ip', ['netns', 'delete', netns]);
}

export async function createNodeNetwork(options: NodeNetworkOptions): Promise<NodeNetwork> {
  const { name, link = '192.168.253.0/30', podCidr = '10.250.0.0/24' } = options;
  const [base = '', len] = link.split('/');
  if (len !== '30') throw new Error(`link ${link} must be a /30`);
  const octets = base.split('.').map(Number);
  const at = (n: number) => [...octets.slice(0, 3), (octets[3] ?? 0) + n].join('.');
  const [hostAddress, nodeAddress] = [at(1), at(2)];
  const netns = `spiderpool-node-${name}`;
  const hostEnd = ifname('spn-', name);
  const removeSync = () => deleteNetworkSync(netns, hostEnd);
  const remove = async () => {
    process.off('exit', removeSync);
    removeSync();
  };
  process.on('exit', removeSync);
  try {
    await addNetns(netns);
    await ip(['link', 'add', hostEnd, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', netns]);
    await ip(['addr', 'add', `${hostAddress}/30`, 'dev', hostEnd]);
    await ip(['link', 'set', hostEnd, 'up']);
    await ip(['-n', netns, 'addr', 'add', `${nodeAddress}/30`, 'dev', 'eth0']);
    await ip(['-n', netns, 'link', 'set', 'eth0', 'up']);
    await ip(['route', 'add', podCidr, 'via', nodeAddress, 'dev', hostEnd]);
    // A process on the node's own network (a hostNetwork pod) reaches ClusterIPs only if the kernel has a
    // route for them before kube-proxy's OUTPUT rules rewrite the destination; nothing else leaves.
    await ip(['-n', netns, 'route', 'add', SERVICE_CIDR, 'via', hostAddress, 'dev', 'eth0']);
  } catch (err) {
    await remove();
    throw err;
  }
  return { name, netns, hostAddress, nodeAddress, podCidr, hostInterface: hostEnd, remove };
}

export interface RealNodeOptions {
  /**
   * Write the node's default CNI config, Debian's bridge plugin with host-local IPAM over the pod CIDR
   * (default true). Without it the node stays NotReady until a config appears in cniConfDir.
   */
  defaultCni?: boolean;
  /**
   * The cluster network's conflist, written to cniConfDir in place of the default one: a node whose
   * network is installed by a DaemonSet has its config before the plugins it names arrive.
   */
  cniConflist?: string;
  log?: (message: string) => void;
}

export type NodeComponent = 'containerd' | 'kubelet' | 'kube-proxy';

export interface RealNode {
  name: string;
  netns: string;
  address: string;
  podCidr: string;
  /** The temporary directory holding every file of the node. */
  dir: string;
  /** Where containerd looks for CNI configs and plugins (Debian's plugins are copied into cniBinDir). */
  cniConfDir: string;
  cniBinDir: string;
  containerdSocket: string;
  /** The cgroup (in every hierarchy) holding kubepods and, in the pids hierarchy, the node's daemons. */
  cgroup: string;
  /** Runs `ctr` against the node's containerd in the k8s.io namespace (the one kubelet uses). */
  ctr(args: string[]): Promise<ExecResult>;
  /** Builds an image archive and imports it, so that pods on this node find it without pulling. */
  importImage(spec: ImageSpec): Promise<void>;
  pids(): Partial<Record<NodeComponent, number>>;
  stop(): Promise<void>;
}

interface Daemon {
  name: NodeComponent;
  proc: ChildProcess;
  exit?: string;
}

interface ContainerdPaths {
  root: string;
  state: string;
  runc: string;
  socket: string;
  cniBin: string;
  cniConf: string;
}

function containerdConfig(d: ContainerdPaths): string {
  return `version = 2
root = "${d.root}"
state = "${d.state}"
# The plugin that would write under /opt, and snapshotters this node does not use.
disabled_plugins = ["io.containerd.internal.v1.opt", "io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs"]

[grpc]
  address = "${d.socket}"

[ttrpc]
  address = "${d.socket}.ttrpc"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "${PAUSE_IMAGE}"
  # This machine's capability bounding set lacks CAP_SYS_RESOURCE: without it runc fails every sandbox
  # on the oom_score_adj kubelet asks for.
  restrict_oom_score_adj = true
  # Pods' network namespaces under the node's directory, not among the machine's in /var/run/netns.
  netns_mounts_under_state_dir = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        Root = "${d.runc}"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "${d.cniBin}"
    conf_dir = "${d.cniConf}"
`;
}

function bridgeConflist(name: string, podCidr: string, dataDir: string): string {
  return JSON.stringify(
    {
      cniVersion: '0.4.0',
      name: `realnode-${name}`,
      plugins: [
        {
          type: 'bridge',
          bridge: 'cni0',
          isGateway: true,
          hairpinMode: true,
          ipam: { type: 'host-local', ranges: [[{ subnet: podCidr }]], routes: [{ dst: '0.0.0.0/0' }], dataDir },
        },
      ],
    },
    null,
    2,
  );
}

/** Starts containerd, kubelet and kube-proxy for `network`, registered with `cp`; resolves once the Node is Ready. */
export async function startRealNode(
  cp: ControlPlane,
  network: NodeNetwork,
  options: RealNodeOptions = {},
): Promise<RealNode> {
  const log = options.log ?? (() => undefined);
  const { name, netns, nodeAddress, podCidr } = network;
  const binDir = await nodeBinaries();
  const dir = mkdtempSync(join(tmpdir(), `spiderpool-node-${name}-`));
  const paths = {
    root: join(dir, 'containerd', 'root'),
    state: join(dir, 'containerd', 'state'),
    runc: join(dir, 'containerd', 'runc'),
    socket: join(dir, 'containerd', 'containerd.sock'),
    cniBin: join(dir, 'cni', 'bin'),
    cniConf: join(dir, 'cni', 'net.d'),
    ipam: join(dir, 'cni', 'networks'),
    kubelet: join(dir, 'kubelet'),
    logs: join(dir, 'logs'),
    images: join(dir, 'images'),
  };
  for (const p of [paths.root, paths.state, paths.cniBin, paths.cniConf, paths.kubelet, paths.logs, paths.images]) {
    mkdirSync(p, { recursive: true });
  }
  const cgroup = `spiderpool-node-${name}`;
  const existed = new Set(FIXED_HOST_PATHS.filter((p) => existsSync(p)));
  const podLogDirsBefore = new Set(existsSync('/var/log/pods') ? readdirSync('/var/log/pods') : []);
  const sysctls = readSysctls(KUBELET_SYSCTLS);
  const daemons: Daemon[] = [];
  let cleaned = false;

  // Synchronous, so that it also runs from the 'exit' handler; every step runs even when one fails.
  const cleanup = () => {
    if (cleaned) return;
    cleaned = true;
    process.off('exit', cleanup);
    const errors: unknown[] = [];
    const step = (f: () => void) => {
      try {
        f();
      } catch (err) {
        errors.push(err);
      }
    };
    let unmounted = false;
    step(() => killCgroup(cgroup));
    step(() => writeSysctls(sysctls));
    step(() => {
      unmountUnder(dir);
      unmounted = true;
    });
    step(removeLeftovers);
    step(() => removeCgroup(cgroup));
    // Deleting a directory with something still mounted below it would delete inside that mount.
    if (unmounted) step(() => rmSync(dir, { recursive: true, force: true }));
    if (errors.length > 0)
      throw new AggregateError(errors, `node ${name}: clean-up incomplete: ${errors.map(String).join('; ')}`);
  };
  // The shims, CNI results and logs of whatever still ran when the node was killed.
  const removeLeftovers = () => {
    const tasks = join(paths.state, 'io.containerd.runtime.v2.task', 'k8s.io');
    const ids = existsSync(tasks) ? readdirSync(tasks) : [];
    for (const id of ids) {
      const address = join(tasks, id, 'address');
      const socket = existsSync(address)
        ? readFileSync(address, 'utf8')
            .trim()
            .replace(/^unix:\/\//, '')
        : '';
      if (socket.startsWith('/run/containerd/s/')) rmSync(socket, { force: true });
    }
    if (existsSync('/var/lib/cni/results')) {
      for (const f of readdirSync('/var/lib/cni/results'))
        if (ids.some((id) => f.includes(`-${id}-`))) rmSync(join('/var/lib/cni/results', f));
    }
    // Kubelet removes a deleted pod's directory a minute before its log directory (its log GC), so a pod deleted
    // just before the node stopped is known only by its log directory, which appeared while this node ran (one
    // real node runs at a time: they share these host paths).
    const podLogDirs = existsSync('/var/log/pods')
      ? readdirSync('/var/log/pods')
          .filter((d) => !podLogDirsBefore.has(d))
          .map((d) => join('/var/log/pods', d))
      : [];
    if (existsSync('/var/log/containers')) {
      for (const l of readdirSync('/var/log/containers')) {
        const target = readlinkSync(join('/var/log/containers', l));
        if (podLogDirs.some((d) => target.startsWith(`${d}/`))) unlinkSync(join('/var/log/containers', l));
      }
    }
    for (const d of podLogDirs) rmSync(d, { recursive: true, force: true });
    if (!existed.has(DEVICE_PLUGINS))
      for (const f of ['kubelet.sock', 'DEPRECATION']) rmSync(join(DEVICE_PLUGINS, f), { force: true });
    for (const p of [...FIXED_HOST_PATHS].reverse()) {
      if (!existed.has(p) && existsSync(p) && readdirSync(p).length === 0) rmdirSync(p);
    }
  };
  process.on('exit', cleanup);

  const startDaemon = (component: NodeComponent, bin: string, args: string[]) => {
    const fd = openSync(join(paths.logs, `${component}.log`), 'a');
    // Joins the node's cgroup before it runs, so that it and everything it starts can be found and ended.
    const procs = join(pidsHierarchy(), cgroup, 'daemons', 'cgroup.procs');
    const proc = spawn(
      'sh',
      ['-c', 'echo $$ >"$0" && exec "$@"', procs, 'nsenter', `--net=/var/run/netns/${netns}`, '--', bin, ...args],
      { stdio: ['ignore', fd, fd] },
    );
    closeSync(fd);
    const daemon: Daemon = { name: component, proc };
    proc.on('exit', (code, signal) => {
      daemon.exit = `code ${code} signal ${signal}`;
    });
    daemons.push(daemon);
  };
  const died = () => {
    const d = daemons.find((x) => x.exit !== undefined);
    if (!d) return undefined;
    const tail = readFileSync(join(paths.logs, `${d.name}.log`), 'utf8')
      .split('\n')
      .slice(-20)
      .join('\n');
    return `${d.name} exited (${d.exit}):\n${tail}`;
  };
  const waitFor = async <T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const dead = died();
      if (dead) throw new Error(`${what}: ${dead}`);
      const v = await probe().catch(() => undefined);
      if (v !== undefined) return v;
      if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  };
  const ctr = (args: string[]) => execCommand('ctr', ['--address', paths.socket, '--namespace', 'k8s.io', ...args]);
  const importImage = async (spec: ImageSpec) => {
    const file = join(paths.images, `${spec.name.replace(/[^a-zA-Z0-9.-]/g, '_')}.tar`);
    await writeImageArchive(spec, file);
    const r = await ctr(['images', 'import', file]);
    rmSync(file);
    if (r.code !== 0) throw new Error(`ctr images import ${spec.name}: ${r.stderr.trim()}`);
  };

  const stop = async () => {
    if (cleaned) return;
    // kubelet first, so that it does not restart what is being stopped; containerd last.
    for (const component of ['kubelet', 'kube-proxy', 'containerd'] as const) {
      for (const d of daemons.filter((x) => x.name === component && x.exit === undefined)) {
        const exited = new Promise<void>((r) => d.proc.once('exit', () => r()));
        d.proc.kill('SIGTERM');
        const timer = setTimeout(() => d.proc.kill('SIGKILL'), 5_000);
        await exited;
        clearTimeout(timer);
      }
    }
    cleanup();
    log(`node ${name} stopped`);
  };

  try {
    createCgroup(cgroup, ['daemons']);
    for (const plugin of readdirSync(DEBIAN_CNI_PLUGINS)) {
      copyFileSync(join(DEBIAN_CNI_PLUGINS, plugin), join(paths.cniBin, plugin));
    }
    if (options.cniConflist !== undefined)
      writeFileSync(join(paths.cniConf, '10-cluster-network.conflist'), options.cniConflist);
    else if (options.defaultCni ?? true)
      writeFileSync(join(paths.cniConf, '10-realnode.conflist'), bridgeConflist(name, podCidr, paths.ipam));
    const config = join(dir, 'containerd', 'config.toml');
    writeFileSync(config, containerdConfig(paths));

    startDaemon('containerd', '/usr/bin/containerd', ['--config', config, '--log-level', 'info']);
    await waitFor('containerd', 30_000, async () => ((await ctr(['version'])).code === 0 ? true : undefined));
    for (const spec of [pauseImage(binDir), await busyboxImage(), await nginxImage()]) await importImage(spec);
    log(`node ${name}: containerd ready, images imported`);

    startDaemon('kubelet', join(binDir, 'kubelet'), [
      '--kubeconfig',
      cp.kubeconfig,
      '--hostname-override',
      name,
      '--node-ip',
      nodeAddress,
      '--root-dir',
      paths.kubelet,
      '--cert-dir',
      join(paths.kubelet, 'pki'),
      '--volume-plugin-dir',
      join(paths.kubelet, 'volume-plugins'),
      '--container-runtime',
      'remote',
      '--container-runtime-endpoint',
      `unix://${paths.socket}`,
      '--containerd',
      paths.socket,
      '--pod-infra-container-image',
      PAUSE_IMAGE,
      '--cgroup-driver',
      'cgroupfs',
      '--cgroup-root',
      `/${cgroup}`,
      '--fail-swap-on=false',
      '--read-only-port',
      '0',
      // A full disk elsewhere on this machine must neither evict the pods nor let image GC delete the
      // imported images, which no registry can give back.
      '--eviction-hard',
      'memory.available<1Mi,nodefs.available<1%,imagefs.available<1%',
      '--image-gc-high-threshold',
      '100',
      '--image-gc-low-threshold',
      '99',
      // The status posted at registration is NotReady (no pod lifecycle event seen yet); the next one says
      // Ready, 10 s later by default. Only changes are posted, so a shorter period costs the apiserver little.
      '--node-status-update-frequency',
      '2s',
      '--v',
      '2',
    ]);
    startDaemon('kube-proxy', join(binDir, 'kube-proxy'), [
      '--kubeconfig',
      cp.kubeconfig,
      '--hostname-override',
      name,
      '--bind-address',
      nodeAddress,
      '--proxy-mode',
      'iptables',
      '--cluster-cidr',
      podCidr,
      // 0 leaves the machine-wide conntrack table size and timeouts as they are.
      '--conntrack-max-per-core',
      '0',
      '--conntrack-tcp-timeout-established',
      '0',
      '--conntrack-tcp-timeout-close-wait',
      '0',
      '--v',
      '2',
    ]);
    const kubectl = kubectlFor(cp.binDir, cp.kubeconfig);
    await waitFor(`node ${name} Ready`, 120_000, async () => {
      const r = await kubectl(['get', 'node', name, '-o', 'jsonpath={.status.conditions[?(@.type=="Ready")].status}']);
      return r.stdout === 'True' ? true : undefined;
    });
    log(`node ${name} Ready`);
  } catch (err) {
    await stop();
    throw err;
  }

  return {
    name,
    netns,
    address: nodeAddress,
    podCidr,
    dir,
    cgroup,
    cniConfDir: paths.cniConf,
    cniBinDir: paths.cniBin,
    containerdSocket: paths.socket,
    ctr,
    importImage,
    pids: () =>
      Object.fromEntries(
        daemons
          .filter((d) => d.exit === undefined && d.proc.pid !== undefined)
          .map((d) => [d.name, d.proc.pid as number]),
      ),
    stop,
  };
}
