import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ERRORS } from './errors.js';
import { generatedFiles } from './generated.js';

const root = fileURLToPath(new URL('..', import.meta.url));

test('generated files (schema, spec reference, error reference) are up to date (run `npm run gen`)', () => {
  for (const { path, text } of generatedFiles()) {
    const committed = readFileSync(join(root, path), 'utf8');
    assert.equal(committed, text, `${path} is stale: run \`npm run gen\``);
  }
});

test('docs/errors.md lists every error code with its status', () => {
  const doc = readFileSync(join(root, 'docs/errors.md'), 'utf8');
  for (const [code, def] of Object.entries(ERRORS)) {
    assert.match(doc, new RegExp(`\\| \`${code}\` \\| ${def.status} \\|`), code);
    assert.ok(def.summary.length > 10, `${code} needs a summary`);
  }
});
