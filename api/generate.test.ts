import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { generatedFiles } from './generate.ts';

describe('generated API artifacts', () => {
  it('crds/*.yaml and types.generated.ts match api/v2beta1/crds.ts (run `npm run gen` after changing it)', async () => {
    for (const [path, content] of await generatedFiles()) {
      assert.equal(readFileSync(path, 'utf8'), content, `${path} is out of date`);
    }
  });
});
