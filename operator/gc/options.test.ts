import assert from 'node:assert/strict';
import { readConfig } from '../../lib/daemon/config.ts';
import { DEFAULT_GC_OPTIONS, GC_SETTINGS, type GcOptions } from './options.ts';

const gcOptions = (env: NodeJS.ProcessEnv): GcOptions => readConfig(GC_SETTINGS, env);

describe('GC options from the environment', () => {
  it('defaults to Spiderpool defaults', () => {
    assert.deepEqual(gcOptions({}), {
      enabled: true,
      intervalMs: 600_000,
      graceMarginMs: 0,
      dryRun: false,
      enableStatefulSet: true,
      enableKubevirtStaticIP: true,
    });
    assert.deepEqual(gcOptions({}), DEFAULT_GC_OPTIONS);
  });
  it('reads seconds (with or without an "s") and switches', () => {
    const o = gcOptions({
      SPIDERPOOL_GC_IP_ENABLED: 'false',
      SPIDERPOOL_GC_DEFAULT_INTERVAL_DURATION: '1.5',
      SPIDERPOOL_GC_ADDITIONAL_GRACE_DELAY: '10s',
      SPIDERPOOL_GC_DRY_RUN: 'TRUE',
      SPIDERPOOL_ENABLE_STATEFULSET: 'false',
      SPIDERPOOL_ENABLE_KUBEVIRT_STATIC_IP: 'false',
    });
    assert.deepEqual(o, {
      enabled: false,
      intervalMs: 1500,
      graceMarginMs: 10_000,
      dryRun: true,
      enableStatefulSet: false,
      enableKubevirtStaticIP: false,
    });
  });
  it('names the variable and the value it refuses', () => {
    assert.throws(
      () => gcOptions({ SPIDERPOOL_GC_DRY_RUN: 'yes' }),
      /SPIDERPOOL_GC_DRY_RUN: "yes" is not true or false/,
    );
    assert.throws(
      () => gcOptions({ SPIDERPOOL_GC_DEFAULT_INTERVAL_DURATION: '0' }),
      /SPIDERPOOL_GC_DEFAULT_INTERVAL_DURATION: "0" is not a number of seconds >= 0.1/,
    );
    assert.throws(
      () => gcOptions({ SPIDERPOOL_GC_ADDITIONAL_GRACE_DELAY: '-1' }),
      /SPIDERPOOL_GC_ADDITIONAL_GRACE_DELAY: "-1"/,
    );
  });
});
