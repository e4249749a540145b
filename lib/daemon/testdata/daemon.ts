// A daemon with nothing but the shell, for daemon.test.ts: its start and stop take as long as told, and it
// can fail to start or let a rejection escape.
import { Gauge } from 'prom-client';
import { setting } from '../config.ts';
import { runDaemon } from '../daemon.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

await runDaemon({
  name: 'test-daemon',
  settings: {
    port: setting.port({ env: 'TEST_PORT' }),
    startMs: setting.integer({ env: 'TEST_START_MS', default: 0, min: 0 }),
    stopMs: setting.integer({ env: 'TEST_STOP_MS', default: 0, min: 0 }),
    fail: setting.boolean({ env: 'TEST_FAIL', default: false }),
    reject: setting.boolean({ env: 'TEST_REJECT', default: false }),
  },
  health: (config) => ({ port: config.port, host: '127.0.0.1' }),
  async start({ config, log, registry }) {
    await sleep(config.startMs);
    if (config.fail) throw new Error('no apiserver');
    if (config.reject) void Promise.reject(new Error('escaped'));
    new Gauge({ name: 'test_started', help: 'test', registers: [registry] }).set(1);
    log.info('components started');
    return {
      async stop() {
        await sleep(config.stopMs);
        log.info('components stopped');
      },
    };
  },
});
