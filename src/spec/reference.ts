/**
 * docs/spec.md, generated from the JSON Schema (itself generated from schema.ts), so the
 * reference cannot drift from the validator. Regenerate with `npm run gen`.
 */
import { ERRORS } from '../errors.js';
import { EXAMPLE_SPEC, MINIMAL_SPEC } from './example.js';
import { type JsonSchema, specJsonSchema } from './jsonschema.js';
import { validateSpecText } from './load.js';
import { MODEL_REF_PATTERN, NAME_RULE } from './modelref.js';
import { DURATION_HELP, DURATION_PATTERN, SIZE_HELP, SIZE_PATTERN } from './units.js';

/** One documented field: `deployments.<name>.replicas.min`. */
export interface FieldDoc {
  path: string;
  type: string;
  /** Markdown: a literal in code font, `required`, words for a computed default, or '—'. */
  default: string;
  description: string;
  /** The field's schema node, for tests. */
  schema: JsonSchema;
}

const MAX_SAFE = Number.MAX_SAFE_INTEGER;

function typeOf(s: JsonSchema): string {
  if (s.anyOf) {
    const patterns = s.anyOf.map((o) => o.pattern);
    if (patterns.includes(DURATION_PATTERN)) return 'duration';
    if (patterns.includes(SIZE_PATTERN)) return 'size';
    return s.anyOf.map(typeOf).join(' or ');
  }
  if (s.const !== undefined) return JSON.stringify(s.const).replace(/"/g, "'");
  if (s.enum) return s.enum.map((v) => `'${String(v)}'`).join(' or ');
  if (s.pattern === MODEL_REF_PATTERN) return 'model reference';
  const type = Array.isArray(s.type) ? s.type.join(' or ') : s.type ?? 'any';
  if (type === 'integer' || type === 'number') {
    // Inclusive and exclusive bounds (z.gt / z.lt give exclusiveMinimum / exclusiveMaximum).
    const lo = s.minimum !== undefined && s.minimum > -MAX_SAFE ? `≥ ${s.minimum}` : s.exclusiveMinimum !== undefined && s.exclusiveMinimum > -MAX_SAFE ? `> ${s.exclusiveMinimum}` : undefined;
    const hi = s.maximum !== undefined && s.maximum < MAX_SAFE ? `≤ ${s.maximum}` : s.exclusiveMaximum !== undefined && s.exclusiveMaximum < MAX_SAFE ? `< ${s.exclusiveMaximum}` : undefined;
    if (lo?.startsWith('≥') && hi?.startsWith('≤')) return `${type} ${s.minimum}–${s.maximum}`;
    if (lo !== undefined && hi !== undefined) return `${type} ${lo}, ${hi}`;
    if (lo !== undefined) return `${type} ${lo}`;
    if (hi !== undefined) return `${type} ${hi}`;
    return type;
  }
  if (type === 'array' && s.items) {
    return `list of ${s.items.properties ? 'objects (fields below)' : typeOf(s.items).replace(/\bobject\b/, 'object (fields below)')}`;
  }
  if (type === 'object' && !s.properties && typeof s.additionalProperties === 'object') {
    return `map of ${typeOf(s.additionalProperties)}`;
  }
  return type;
}

/** The default as Markdown: a literal in code font, a computed default in words, or '—'. */
function defaultOf(s: JsonSchema, required: boolean): string {
  if (required) return 'required';
  if (s['x-default'] !== undefined) return s['x-default'];
  if (s.default === undefined || (typeof s.default === 'object' && s.default !== null)) return '—';
  return `\`${typeof s.default === 'string' ? `'${s.default}'` : JSON.stringify(s.default)}\``;
}

/** Every field of the spec, depth-first in schema order. Map entries appear as `<name>`, the fields of a list's items as `[]` (`slos[].objective`). */
export function specFields(schema: JsonSchema = specJsonSchema()): FieldDoc[] {
  const out: FieldDoc[] = [];
  const visit = (s: JsonSchema, path: string, required: boolean): void => {
    if (path !== '') {
      out.push({ path, type: typeOf(s), default: defaultOf(s, required), description: s.description ?? '', schema: s });
    }
    children(s, path);
  };
  const children = (s: JsonSchema, path: string): void => {
    const prefix = path === '' ? '' : `${path}.`;
    for (const [key, child] of Object.entries(s.properties ?? {})) visit(child, `${prefix}${key}`, s.required?.includes(key) ?? false);
    if (typeof s.additionalProperties === 'object' && !s.properties) {
      const value = s.additionalProperties;
      if (value.properties) visit(value, `${prefix}<name>`, false);
      else if (value.description) out.push({ path: `${prefix}<key>`, type: typeOf(value), default: '—', description: value.description, schema: value });
    }
    // A list of objects (slos, budgets, webhooks, the { name, kind } form of features): its items' fields.
    if (s.items && typeof s.items === 'object') children(s.items, `${prefix.slice(0, -1)}[]`);
    for (const option of s.anyOf ?? []) if (option.properties || option.items || option.anyOf) children(option, path);
  };
  visit(schema, '', false);
  return out;
}

function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/\n/g, ' ');
}

const MISTAKES = `models:
  credit-risk:
    path: ./model.onnx
deployments:
  credit-risk:
    model: credit-rsk
    replica: 2
    batching: { maxQueueDelay: 2 sec }
`;

/** The full text of docs/spec.md. */
export function specReferenceMarkdown(): string {
  const sample = validateSpecText(MISTAKES, 'aloft.yaml');
  const sampleOutput = sample.ok ? '' : sample.message;
  const codes = (['ALOFT_SPEC_NOT_FOUND', 'ALOFT_SPEC_YAML', 'ALOFT_SPEC_INVALID'] as const).map((c) => `- \`${c}\`: ${ERRORS[c].summary}`);
  const rows = specFields().map((f) => `| \`${f.path}\` | ${cell(f.type)} | ${f.default} | ${cell(f.description)} |`);
  return `<!-- Generated by \`npm run gen\` from src/spec/schema.ts. Do not edit: a test checks this file matches the generator. -->

# The spec file: \`aloft.yaml\`

One YAML file declares the models Aloft registers and the deployments that serve them.
\`aloft plan\` shows what applying it would change; \`aloft apply\` (or \`aloft up\`) does it.
Paths in the file are relative to the file itself.

Each top-level key owns one section. Unknown keys are errors (with a suggestion when a key
looks misspelt), and every problem in the file is reported at once as
\`file:line:col path: message\`.

## Smallest spec

\`\`\`yaml
${MINIMAL_SPEC}\`\`\`

## A fuller spec

\`\`\`yaml
${EXAMPLE_SPEC}\`\`\`

## Values

- **Durations**: ${DURATION_HELP}. Stored as milliseconds.
- **Sizes**: ${SIZE_HELP}. KB/MB/GB are powers of 1000, KiB/MiB/GiB powers of 1024. Stored as bytes.
- **Names** of models and deployments: ${NAME_RULE}.
- **Model references**: \`name\` (the latest registered version), \`name@3\` (version 3),
  \`name@production\` (an alias, set with the CLI), \`name@latest\`. A bare name must be a
  model declared in the file; a reference with \`@\` may name a model registered earlier.

## Editor support

\`schema/aloft.schema.json\` is the JSON Schema of this file (shipped in the npm package).
With the YAML language server (VS Code's YAML extension and others), put this first line in
\`aloft.yaml\` for completion, hover docs and validation as you type:

\`\`\`yaml
# yaml-language-server: $schema=./node_modules/aloft/schema/aloft.schema.json
\`\`\`

\`aloft init\` writes this line itself: the path above when Aloft is installed in the project,
else the relative path to the \`schema/aloft.schema.json\` of the Aloft it ran from (a clone).

## Errors

Every command that reads the spec (and \`aloft validate\`, which also checks that model
files exist) reports all problems at once. This file:

\`\`\`yaml
${MISTAKES}\`\`\`

gives:

\`\`\`text
${sampleOutput}
\`\`\`

${codes.join('\n')}

## Fields

\`<name>\` stands for a model or deployment name, \`<key>\` for a label key.

| path | type | default | description |
| --- | --- | --- | --- |
${rows.join('\n')}
`;
}
