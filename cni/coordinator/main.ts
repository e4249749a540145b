// Entry point of the `coordinator` CNI plugin binary (bundled by cni/build.ts). It runs once per pod
// interface after the main plugin, so it imports only node built-ins, cni/skel/ and small local modules.
import { runPluginProcess } from '../skel/invocation.ts';
import { run } from './plugin.ts';

runPluginProcess(run);
