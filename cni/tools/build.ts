// The raw-packet tools the coordinator runs in pod namespaces (cni/README.md#probe-tools): Debian's arping and
// ndisc6 with every library they link and the dynamic loader, so they run on any x86-64 Linux host whatever
// its own libraries. Built into dist/cni/spiderpool-tools/ (next to the plugin executables, where the plugins
// look for them) and packed into dist/cni/spiderpool-tools.tar, which the install unpacks beside the plugins.
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LOADER, TOOLS_DIR_NAME, type Tool } from '../skel/tools.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '../..');
const outDir = join(root, 'dist/cni');

const SOURCES: Record<Tool, string> = { arping: '/usr/sbin/arping', ndisc6: '/usr/bin/ndisc6' };

/** The shared objects `binary` loads, the dynamic loader included, from ldd. */
function closure(binary: string): string[] {
  const out = execFileSync('ldd', [binary], { encoding: 'utf8' });
  return [...out.matchAll(/(?:=>\s*)?(\/\S+)\s+\(0x/g)].map((m) => m[1] as string);
}

export interface ToolsBuild {
  dir: string;
  tar: string;
}

/** Copies the tools and their libraries, staged beside and renamed into place; the tar is rewritten each time. */
export function buildProbeTools(): ToolsBuild {
  const dir = join(outDir, TOOLS_DIR_NAME);
  const tar = `${dir}.tar`;
  for (const source of Object.values(SOURCES)) {
    if (!existsSync(source))
      throw new Error(`${source} is missing: install Debian's arping and ndisc6 (scripts/neighbours.sh)`);
  }
  mkdirSync(outDir, { recursive: true });
  const staged = join(outDir, `.${TOOLS_DIR_NAME}.${process.pid}`);
  rmSync(staged, { recursive: true, force: true });
  mkdirSync(join(staged, 'lib'), { recursive: true });
  for (const [tool, source] of Object.entries(SOURCES)) {
    copyFileSync(source, join(staged, tool));
    chmodSync(join(staged, tool), 0o755);
    for (const lib of closure(source)) {
      // The loader goes under one name whatever the architecture calls it, so the plugins need not know it.
      const name = /^ld-linux/.test(basename(lib)) ? LOADER : basename(lib);
      copyFileSync(lib, join(staged, 'lib', name));
    }
  }
  chmodSync(join(staged, 'lib', LOADER), 0o755);
  writeFileSync(join(staged, 'SOURCES'), `${Object.values(SOURCES).join('\n')}\n`);
  rmSync(dir, { recursive: true, force: true });
  renameSync(staged, dir);
  execFileSync('tar', ['-cf', `${tar}.new`, '-C', outDir, TOOLS_DIR_NAME]);
  renameSync(`${tar}.new`, tar);
  return { dir, tar };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { dir, tar } = buildProbeTools();
  process.stdout.write(`${dir}\n${tar}\n`);
}
