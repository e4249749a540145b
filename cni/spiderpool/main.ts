// Entry point of the `spiderpool` IPAM plugin binary (bundled by cni/build.ts). It must import only
// node built-ins, cni/skel/ and lib/agent-api.ts: it runs once per pod interface, so startup time is
// pod latency.
import { runPluginProcess } from '../skel/invocation.ts';
import { run } from './plugin.ts';

runPluginProcess(run);
