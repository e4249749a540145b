// Entry point of the `ifacer` CNI plugin binary (bundled by cni/build.ts). It runs first in the chains of NADs
// with a VLAN or a bond, before the main plugin looks for its master.
import { runPluginProcess } from '../skel/invocation.ts';
import { run } from './plugin.ts';

runPluginProcess((env, stdin) => run(env, stdin));
