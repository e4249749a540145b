// GC settings, from the controller's configuration as Spiderpool names them (docs/garbage-collection.md#settings).
import { setting, type Setting } from '../../lib/daemon/config.ts';

export interface GcOptions {
  /** SPIDERPOOL_GC_IP_ENABLED (true): the master switch. */
  enabled: boolean;
  /** SPIDERPOOL_GC_DEFAULT_INTERVAL_DURATION (600 s): period of the full scan. */
  intervalMs: number;
  /** SPIDERPOOL_GC_ADDITIONAL_GRACE_DELAY (0 s): added to a terminating pod's grace period. */
  graceMarginMs: number;
  /** SPIDERPOOL_GC_DRY_RUN (false): decide and report, never write. */
  dryRun: boolean;
  /** SPIDERPOOL_ENABLE_STATEFULSET (true): StatefulSet pods keep their addresses across re-creation. */
  enableStatefulSet: boolean;
  /** SPIDERPOOL_ENABLE_KUBEVIRT_STATIC_IP (true): a KubeVirt VM keeps its addresses across its pods. */
  enableKubevirtStaticIP: boolean;
}

export const DEFAULT_GC_OPTIONS: Readonly<GcOptions> = {
  enabled: true,
  intervalMs: 600_000,
  graceMarginMs: 0,
  dryRun: false,
  enableStatefulSet: true,
  enableKubevirtStaticIP: true,
};

/** The declarations the controller reads GcOptions with (lib/daemon/config.ts). */
export const GC_SETTINGS = {
  enabled: setting.boolean({ env: 'SPIDERPOOL_GC_IP_ENABLED', default: DEFAULT_GC_OPTIONS.enabled }),
  intervalMs: setting.seconds({
    env: 'SPIDERPOOL_GC_DEFAULT_INTERVAL_DURATION',
    default: DEFAULT_GC_OPTIONS.intervalMs / 1000,
    min: 0.1,
  }),
  graceMarginMs: setting.seconds({
    env: 'SPIDERPOOL_GC_ADDITIONAL_GRACE_DELAY',
    default: DEFAULT_GC_OPTIONS.graceMarginMs / 1000,
  }),
  dryRun: setting.boolean({ env: 'SPIDERPOOL_GC_DRY_RUN', default: DEFAULT_GC_OPTIONS.dryRun }),
  enableStatefulSet: setting.boolean({
    env: 'SPIDERPOOL_ENABLE_STATEFULSET',
    key: 'enableStatefulSet',
    default: DEFAULT_GC_OPTIONS.enableStatefulSet,
  }),
  enableKubevirtStaticIP: setting.boolean({
    env: 'SPIDERPOOL_ENABLE_KUBEVIRT_STATIC_IP',
    key: 'enableKubevirtStaticIP',
    default: DEFAULT_GC_OPTIONS.enableKubevirtStaticIP,
  }),
} satisfies { [K in keyof GcOptions]: Setting<GcOptions[K]> };
