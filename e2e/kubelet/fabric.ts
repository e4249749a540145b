// The simulated L2 network the nodes are cabled to. One namespace holds a Linux bridge per NIC name
// (so every node's eth0 shares one segment, every ens192 another); each node is a namespace whose NICs
// are veth ends named like real NICs. CNI plugins run inside a node's namespace, so `master: ens192`
// resolves to that node's ens192 and pod traffic between nodes crosses the bridge.
//
// Interfaces are created directly inside their target namespaces, so nothing appears in the host
// namespace, and every namespace name starts with the instance prefix so that two fabrics (a test and
// the sandbox) never meet.
import { randomBytes } from 'node:crypto';
import { addNetns, deleteNetns, execInNetns, ip, listNetns } from './netns.ts';

export interface FabricOptions {
  /** Prefix of every namespace name; default `spt-<random hex>`. */
  prefix?: string;
  /** NIC names every node gets, each its own L2 segment; default eth0, eth1, ens192. */
  nics?: string[];
  /**
   * IPv4 CIDR the nodes' own addresses come from, assigned in the order nodes are added and put on the
   * first NIC; default 192.168.250.0/24. Pods never share it, so it only identifies the node (hostIP).
   */
  nodeCidr?: string;
  /** Host number of the first node in nodeCidr (default 1), so that nodes can have a document's addresses. */
  firstNodeHost?: number;
  /**
   * Addresses (CIDR) the fabric itself holds on a NIC's segment, with forwarding between segments: the
   * router a cloud VPC or a data centre puts at the subnets' gateways.
   */
  router?: Record<string, string[]>;
}

export interface FabricNode {
  name: string;
  /** Name of the node's network namespace. */
  netns: string;
  /** The node's own address, without prefix length. */
  address: string;
}

export interface Fabric {
  prefix: string;
  nics: readonly string[];
  /** Name of the namespace holding the bridges. */
  netns: string;
  /** Cables a node to the fabric; adding a node twice returns the existing one. */
  addNode(name: string): Promise<FabricNode>;
  node(name: string): FabricNode | undefined;
  /** Removes every namespace (and so every interface) this fabric created. */
  teardown(): Promise<void>;
}

const IFNAMSIZ = 15;

function hostAddress(cidr: string, host: number): { address: string; prefixLength: number } {
  const [base = '', len = ''] = cidr.split('/');
  const octets = base.split('.').map(Number);
  const prefixLength = Number(len);
  if (octets.length !== 4 || octets.some((o) => !(o >= 0 && o <= 255)) || !(prefixLength >= 8 && prefixLength <= 30)) {
    throw new Error(`nodeCidr ${cidr} is not an IPv4 CIDR between /8 and /30`);
  }
  const size = 2 ** (32 - prefixLength);
  if (host >= size - 1) throw new Error(`nodeCidr ${cidr} has no room for node number ${host}`);
  const value = octets.reduce((acc, o) => acc * 256 + o, 0);
  const n = value - (value % size) + host;
  return { address: [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join('.'), prefixLength };
}

export async function createFabric(options: FabricOptions = {}): Promise<Fabric> {
  const prefix = options.prefix ?? `spt-${randomBytes(3).toString('hex')}`;
  const nics = options.nics ?? ['eth0', 'eth1', 'ens192'];
  const nodeCidr = options.nodeCidr ?? '192.168.250.0/24';
  const firstNodeHost = options.firstNodeHost ?? 1;
  // Fabric-side veth names are "v<node number>-<nic>" and must fit the kernel's interface name limit.
  for (const nic of nics) {
    if (nic.length > IFNAMSIZ - 5 || !/^[A-Za-z0-9_.]+$/.test(nic))
      throw new Error(`NIC name ${nic} must be at most ${IFNAMSIZ - 5} plain characters`);
  }
  const netns = `${prefix}-fabric`;
  const nodes = new Map<string, Promise<FabricNode>>();
  let nextNumber = 1;

  await addNetns(netns);
  try {
    for (const nic of nics) {
      await ip(['-n', netns, 'link', 'add', `br-${nic}`, 'type', 'bridge']);
      await ip(['-n', netns, 'link', 'set', `br-${nic}`, 'up']);
      for (const address of options.router?.[nic] ?? [])
        await ip(['-n', netns, 'addr', 'add', address, 'dev', `br-${nic}`]);
    }
    if (options.router) await execInNetns(netns, ['sysctl', '-qw', 'net.ipv4.ip_forward=1']);
  } catch (err) {
    await deleteNetns(netns);
    throw err;
  }

  const cable = async (name: string, number: number): Promise<FabricNode> => {
    // The fabric's own namespace and the pods' namespaces share the prefix; a node may not shadow them.
    if (name === 'fabric' || name.startsWith('pod-')) throw new Error(`node name ${name} is reserved by the fabric`);
    const nodeNetns = `${prefix}-${name}`;
    const { address, prefixLength } = hostAddress(nodeCidr, firstNodeHost + number - 1);
    await addNetns(nodeNetns);
    try {
      for (const nic of nics) {
        const peer = `v${number}-${nic}`;
        await ip([
          'link',
          'add',
          'name',
          nic,
          'netns',
          nodeNetns,
          'type',
          'veth',
          'peer',
          'name',
          peer,
          'netns',
          netns,
        ]);
        await ip(['-n', netns, 'link', 'set', peer, 'master', `br-${nic}`, 'up']);
        await ip(['-n', nodeNetns, 'link', 'set', nic, 'up']);
      }
      const first = nics[0];
      if (first) await ip(['-n', nodeNetns, 'addr', 'add', `${address}/${prefixLength}`, 'dev', first]);
    } catch (err) {
      // Deleting the node namespace also removes the fabric-side ends of its veth pairs.
      await deleteNetns(nodeNetns);
      throw err;
    }
    return { name, netns: nodeNetns, address };
  };

  const settled = new Map<string, FabricNode>();
  return {
    prefix,
    nics,
    netns,
    addNode(name) {
      let node = nodes.get(name);
      if (!node) {
        node = cable(name, nextNumber++);
        nodes.set(name, node);
        node.then(
          (n) => settled.set(name, n),
          () => nodes.delete(name),
        );
      }
      return node;
    },
    node: (name) => settled.get(name),
    async teardown() {
      for (const [name, node] of nodes) {
        const done = await node.catch(() => undefined);
        if (done) await deleteNetns(done.netns);
        nodes.delete(name);
        settled.delete(name);
      }
      await deleteNetns(netns);
    },
  };
}

/** Namespaces left by fabrics with this prefix, for checking that a teardown left nothing behind. */
export async function netnsWithPrefix(prefix: string): Promise<string[]> {
  return (await listNetns()).filter((n) => n.startsWith(`${prefix}-`));
}
