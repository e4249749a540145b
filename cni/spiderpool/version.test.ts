import assert from 'node:assert/strict';
import { execPlugin, expectSuccess, pluginExecutable } from './exec-plugin.ts';

const SUPPORTED = ['0.3.0', '0.3.1', '0.4.0', '1.0.0'];

describe('spiderpool plugin: VERSION', () => {
  let bin: string;
  before(async function () {
    this.timeout(180_000);
    bin = await pluginExecutable();
  });

  for (const cniVersion of SUPPORTED) {
    it(`echoes ${cniVersion} and lists the supported versions`, async () => {
      const out = expectSuccess(await execPlugin(bin, { CNI_COMMAND: 'VERSION' }, JSON.stringify({ cniVersion })));
      assert.deepEqual(out, { cniVersion, supportedVersions: SUPPORTED });
    });
  }

  it('answers 1.0.0 when stdin is empty', async () => {
    const out = expectSuccess(await execPlugin(bin, { CNI_COMMAND: 'VERSION' }, ''));
    assert.deepEqual(out, { cniVersion: '1.0.0', supportedVersions: SUPPORTED });
  });

  it('answers even for a version it does not support, so the caller can negotiate', async () => {
    const out = expectSuccess(await execPlugin(bin, { CNI_COMMAND: 'VERSION' }, '{"cniVersion":"1.1.0"}'));
    assert.deepEqual(out, { cniVersion: '1.1.0', supportedVersions: SUPPORTED });
  });

  it('needs no other CNI_* variable and tolerates undecodable stdin', async () => {
    const out = expectSuccess(await execPlugin(bin, { CNI_COMMAND: 'VERSION' }, 'not json'));
    assert.equal(out.cniVersion, '1.0.0');
  });
});
