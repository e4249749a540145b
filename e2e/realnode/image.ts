// Container images without an engine or a registry: a docker-archive tar (the format `docker save`
// writes and `ctr image import` reads) assembled from host directories and files, and the images a
// real node needs, built from Debian's busybox-static and the host's own binaries. scripts/image.ts packs
// the product's image with the same layers.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** A host file and the absolute path it gets in the image. */
export interface ImageFile {
  from: string;
  to: string;
}

/** One layer's entries; paths in the image are absolute. */
export interface Layer {
  /** Host directories copied with their contents (`to: '/'` makes a directory the image root). */
  trees?: ImageFile[];
  /** Copied following symlinks, with their permissions. */
  files?: ImageFile[];
  /** Symlink path → target. */
  links?: Record<string, string>;
  /** File path → content. */
  texts?: Record<string, string>;
  /** Directory path → mode. */
  dirs?: Record<string, number>;
}

export interface ImageSpec {
  /** The name pods use, e.g. `nginx:latest`; containerd stores it normalized (`docker.io/library/nginx:latest`). */
  name: string;
  layers: Layer[];
  entrypoint?: string[];
  cmd?: string[];
  env?: string[];
  workingDir?: string;
  /** `uid:gid` the processes run as; root when unset. */
  user?: string;
}

const PATH_ENV = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const BUSYBOX = '/bin/busybox';

/** The kubelet 1.20 default for --pod-infra-container-image, so containerd and kubelet agree without flags. */
export const PAUSE_IMAGE = 'k8s.gcr.io/pause:3.2';

/** Same entries and bytes for the same input, so equal layers of different images share one blob. */
async function tarDir(root: string, file: string): Promise<void> {
  await run('tar', [
    '--sort=name',
    '--mtime=@0',
    '--owner=0',
    '--group=0',
    '--numeric-owner',
    '-C',
    root,
    '-cf',
    file,
    ...readdirSync(root).sort(),
  ]);
}

async function stage(layer: Layer, root: string): Promise<void> {
  const at = (p: string) => join(root, p);
  for (const { from, to } of layer.trees ?? []) {
    mkdirSync(at(to), { recursive: true });
    await run('cp', ['-a', `${from}/.`, at(to)]);
  }
  for (const [path, mode] of Object.entries(layer.dirs ?? {})) {
    mkdirSync(at(path), { recursive: true });
    chmodSync(at(path), mode);
  }
  for (const { from, to } of layer.files ?? []) {
    mkdirSync(dirname(at(to)), { recursive: true });
    copyFileSync(from, at(to));
    chmodSync(at(to), statSync(from).mode & 0o7777);
  }
  for (const [path, target] of Object.entries(layer.links ?? {})) {
    mkdirSync(dirname(at(path)), { recursive: true });
    symlinkSync(target, at(path));
  }
  for (const [path, text] of Object.entries(layer.texts ?? {})) {
    mkdirSync(dirname(at(path)), { recursive: true });
    writeFileSync(at(path), text);
  }
}

/** Writes the image as a docker-archive tar to `file`. */
export async function writeImageArchive(spec: ImageSpec, file: string): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), 'spiderpool-image-'));
  try {
    const layers: string[] = [];
    const diffIds: string[] = [];
    for (const [i, layer] of spec.layers.entries()) {
      const root = join(work, `root${i}`);
      mkdirSync(root);
      await stage(layer, root);
      const tar = join(work, `layer${i}.tar`);
      await tarDir(root, tar);
      const hex = createHash('sha256').update(readFileSync(tar)).digest('hex');
      mkdirSync(join(work, hex), { recursive: true });
      await run('mv', [tar, join(work, hex, 'layer.tar')]);
      layers.push(`${hex}/layer.tar`);
      diffIds.push(`sha256:${hex}`);
    }
    const config = JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      config: {
        Env: spec.env ?? [PATH_ENV],
        Entrypoint: spec.entrypoint ?? null,
        Cmd: spec.cmd ?? null,
        WorkingDir: spec.workingDir ?? '',
        User: spec.user ?? '',
      },
      rootfs: { type: 'layers', diff_ids: diffIds },
    });
    const configName = `${createHash('sha256').update(config).digest('hex')}.json`;
    writeFileSync(join(work, configName), config);
    writeFileSync(
      join(work, 'manifest.json'),
      JSON.stringify([{ Config: configName, RepoTags: [spec.name], Layers: layers }]),
    );
    await run('tar', ['-C', work, '-cf', file, 'manifest.json', configName, ...new Set(layers)]);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** Debian's busybox-static with every applet linked, and the few files programs expect. */
export async function busyboxLayer(): Promise<Layer> {
  const { stdout } = await run(BUSYBOX, ['--list']);
  const applets = stdout.split('\n').filter((a) => a && a !== 'busybox');
  return {
    files: [{ from: BUSYBOX, to: '/bin/busybox' }],
    links: Object.fromEntries(applets.map((a) => [`/bin/${a}`, 'busybox'])),
    texts: {
      '/etc/passwd': 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n',
      '/etc/group': 'root:x:0:\nnogroup:x:65534:\n',
    },
    dirs: { '/tmp': 0o1777, '/root': 0o700 },
  };
}

/** The sandbox image containerd starts for every pod: the static pause binary built by build.sh. */
export function pauseImage(binDir: string): ImageSpec {
  return {
    name: PAUSE_IMAGE,
    layers: [{ files: [{ from: join(binDir, 'pause'), to: '/pause' }] }],
    entrypoint: ['/pause'],
  };
}

/** `busybox`, as pods name it; its command is `sh`, like Docker Hub's. */
export async function busyboxImage(): Promise<ImageSpec> {
  return { name: 'busybox:latest', layers: [await busyboxLayer()], cmd: ['sh'] };
}

/**
 * `nginx`, as the quick-start Deployments name it: busybox httpd serving HTTP on port 80. The page is
 * the pod's hostname (its name), so a client can tell which pod answered.
 */
export async function nginxImage(): Promise<ImageSpec> {
  return {
    name: 'nginx:latest',
    layers: [await busyboxLayer(), { dirs: { '/usr/share/nginx/html': 0o755 } }],
    cmd: ['sh', '-c', 'hostname >/usr/share/nginx/html/index.html && exec httpd -f -p 80 -h /usr/share/nginx/html'],
  };
}

/** The host's `node` binary and every library `ldd` lists for it, at their host paths. */
export async function nodeRuntimeLayer(): Promise<Layer> {
  const { stdout } = await run('ldd', [process.execPath]);
  // Lines are "libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x…)", "/lib64/ld-linux-x86-64.so.2 (0x…)"
  // or the kernel's "linux-vdso.so.1 (0x…)", which has no file.
  const libs = stdout
    .split('\n')
    .map((l) => /(?:=>\s*)?(\/\S+)\s+\(0x/.exec(l)?.[1])
    .filter((p): p is string => p !== undefined);
  return {
    files: [{ from: process.execPath, to: '/usr/local/bin/node' }, ...libs.map((lib) => ({ from: lib, to: lib }))],
  };
}
