/**
 * The files generated from the spec schema, by path relative to the repository root.
 * `scripts/gen-schema.ts` writes them; a test checks the committed copies are current.
 */
import { specJsonSchema } from './jsonschema.js';
import { specReferenceMarkdown } from './reference.js';

export function generatedFiles(): Array<{ path: string; text: string }> {
  return [
    { path: 'schema/aloft.schema.json', text: `${JSON.stringify(specJsonSchema(), null, 2)}\n` },
    { path: 'docs/spec.md', text: specReferenceMarkdown() },
  ];
}
