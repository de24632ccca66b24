// Writes the files generated from src/spec/schema.ts: schema/aloft.schema.json (for
// editors) and docs/spec.md (the field reference). Usage: npm run schema
// A test (src/spec/generated.test.ts) fails when the committed files are stale.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generatedFiles } from '../src/spec/generated.js';

const root = fileURLToPath(new URL('..', import.meta.url));
for (const { path, text } of generatedFiles()) {
  const file = join(root, path);
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, text);
  console.log(`wrote ${path}`);
}
