// What the harness's product processes have in common.
import type { ChildProcess } from 'node:child_process';

/** One daemon of the product, its output in a log file. */
export interface DaemonProcess {
  process: ChildProcess;
  logFile: string;
}

/** Daemons started together, their logs in `dir`; `stop` ends them all. */
export interface DaemonGroup {
  dir: string;
  stop(): Promise<void>;
}
