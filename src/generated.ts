/**
 * Every file generated from a source of truth in the code, by path relative to the
 * repository root. `npm run gen` writes them; generated.test.ts fails when a committed
 * copy is stale.
 */
import { apiMarkdown } from './api/routes-doc.js';
import { errorsMarkdown } from './errors-doc.js';
import { generatedFiles as specFiles } from './spec/generated.js';

export function generatedFiles(): Array<{ path: string; text: string }> {
  return [...specFiles(), { path: 'docs/errors.md', text: errorsMarkdown() }, { path: 'docs/api.md', text: apiMarkdown() }];
}
