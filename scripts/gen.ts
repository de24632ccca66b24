// Writes every generated file: schema/aloft.schema.json (for editors), docs/spec.md (the
// field reference) and docs/errors.md (the error reference). Usage: npm run gen
// A test (src/generated.test.ts) fails when a committed copy is stale.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generatedFiles } from '../src/generated.js';

const root = fileURLToPath(new URL('..', import.meta.url));
for (const { path, text } of generatedFiles()) {
  const file = join(root, path);
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, text);
  console.log(`wrote ${path}`);
}
