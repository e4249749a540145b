import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultCniFile, readDefaultCni, typeOfCni } from './cni-config.ts';

describe('default CNI detection for podCIDRType auto', () => {
  it('picks the first *.conf/*.conflist by name, skipping Multus', () => {
    assert.equal(
      defaultCniFile(['10-calico.conflist', '00-multus.conf', 'calico-kubeconfig', '05-cilium.conflist']),
      '05-cilium.conflist',
    );
    assert.equal(defaultCniFile(['00-multus.conflist', 'README']), undefined);
  });

  it('maps network names to types', () => {
    assert.deepEqual(['calico', 'k8s-pod-network', 'cilium', 'flannel', 'macvlan-eth0', 'cbr0'].map(typeOfCni), [
      'calico',
      'calico',
      'cilium',
      'cluster',
      'none',
      'none',
    ]);
  });

  describe('reading a directory', () => {
    let dir: string;
    beforeEach(async () => {
      dir = await mkdtemp(join(tmpdir(), 'cni-'));
    });
    afterEach(async () => {
      await rm(dir, { recursive: true, force: true });
    });

    it('returns the default network name and file', async () => {
      await writeFile(join(dir, '00-multus.conf'), '{"name":"multus-cni-network"}');
      await writeFile(join(dir, '10-calico.conflist'), '{"name":"k8s-pod-network","cniVersion":"0.3.1","plugins":[]}');
      assert.deepEqual(await readDefaultCni(dir), { file: join(dir, '10-calico.conflist'), name: 'k8s-pod-network' });
    });

    it('an empty or missing directory is absent, not an error', async () => {
      assert.deepEqual(await readDefaultCni(dir), { absent: `no CNI configuration in ${dir}` });
      assert.deepEqual(await readDefaultCni(join(dir, 'nope')), {
        absent: `no CNI configuration directory ${join(dir, 'nope')}`,
      });
    });

    it('a broken or nameless file is an error naming the file', async () => {
      await writeFile(join(dir, '10-x.conf'), '{not json');
      const broken = await readDefaultCni(dir);
      assert.ok('error' in broken);
      assert.match(broken.error, /^cannot read the default CNI configuration .*10-x\.conf: /);
      await writeFile(join(dir, '10-x.conf'), '{"cniVersion":"0.3.1"}');
      assert.deepEqual(await readDefaultCni(dir), {
        error: `the default CNI configuration ${join(dir, '10-x.conf')} has no "name"`,
      });
    });
  });
});
