/**
 * Turn zod's issues into spec issues a person can act on: one per problem, with a path,
 * a message that names the bad value, and a hint (did-you-mean, an example) where useful.
 */
import { z } from 'zod';
import type { PathSegment } from './locate.js';
import { showKind, showValue } from './show.js';
import { didYouMean } from './suggest.js';

/** An issue before it is located in the file. */
export interface RawIssue {
  path: PathSegment[];
  message: string;
  hint?: string;
  /** Point at the key itself (unknown or badly named keys) rather than its value. */
  at?: 'key' | 'value';
}

const EXPECTED: Readonly<Record<string, string>> = {
  string: 'a string',
  number: 'a number',
  int: 'a whole number',
  boolean: 'true or false',
  object: 'a map',
  record: 'a map',
  array: 'a list',
};

/** Keys other systems use, and what to write in Aloft instead. */
const FOREIGN_KEYS: Readonly<Record<string, string>> = {
  minReplicas: 'write replicas: { min: 1, max: 4 }',
  maxReplicas: 'write replicas: { min: 1, max: 4 }',
  instances: 'write replicas: 2',
  storageUri: 'write path: ./model.onnx (a file relative to the spec)',
  uri: 'write path: ./model.onnx (a file relative to the spec)',
  file: 'write path: ./model.onnx (a file relative to the spec)',
  max_queue_delay_microseconds: "write maxQueueDelay: 500us (a duration with its unit)",
  dynamic_batching: 'write batching: { maxBatchSize: 64, maxQueueDelay: 2ms }',
};

function bound(n: number | bigint): string {
  return String(n);
}

/**
 * Messages for zod's built-in checks, used as the per-parse error map. Messages set in
 * schema.ts take precedence over these.
 */
export const errorMap: z.core.$ZodErrorMap = (iss) => {
  const input = iss.input;
  switch (iss.code) {
    case 'invalid_type':
      return `expected ${EXPECTED[iss.expected] ?? iss.expected}, got ${showKind(input)}`;
    case 'too_small': {
      if (iss.origin === 'string') return Number(iss.minimum) <= 1 ? 'must not be empty' : `must be at least ${bound(iss.minimum)} characters`;
      return `must be ${iss.inclusive === false ? 'greater than' : 'at least'} ${bound(iss.minimum)}, got ${showValue(input)}`;
    }
    case 'too_big': {
      if (iss.origin === 'string') return `must be at most ${bound(iss.maximum)} characters`;
      return `must be ${iss.inclusive === false ? 'less than' : 'at most'} ${bound(iss.maximum)}, got ${showValue(input)}`;
    }
    case 'invalid_value': {
      const values = iss.values.map((v) => showValue(v));
      return values.length === 1 ? `must be ${values[0]}, got ${showKind(input)}` : `must be one of ${values.join(', ')}; got ${showKind(input)}`;
    }
    case 'invalid_format':
      return `invalid value ${showValue(input)}`;
    default:
      return undefined;
  }
};

function valueAt(root: unknown, path: readonly PathSegment[]): unknown {
  let v = root;
  for (const seg of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<string, unknown>)[seg as string];
  }
  return v;
}

// ── walking the schema (to list allowed keys and read descriptions) ───────────────────

type AnySchema = z.core.$ZodType;

function defOf(s: AnySchema): Record<string, unknown> & { type: string } {
  return s._zod.def as unknown as Record<string, unknown> & { type: string };
}

function unwrap(s: AnySchema): AnySchema {
  for (;;) {
    const def = defOf(s);
    if (def.innerType !== undefined && ['optional', 'default', 'prefault', 'nullable', 'readonly', 'catch', 'nonoptional'].includes(def.type)) s = def.innerType as AnySchema;
    else if (def.type === 'pipe') s = def.in as AnySchema;
    else return s;
  }
}

function objectOption(s: AnySchema): AnySchema | undefined {
  const u = unwrap(s);
  const def = defOf(u);
  if (def.type === 'object' || def.type === 'record') return u;
  if (def.type === 'union') {
    for (const o of def.options as AnySchema[]) {
      const found = objectOption(o);
      if (found) return found;
    }
  }
  return undefined;
}

/** The (wrapped) schema at `path`, following objects, records and the map-shaped option of unions. */
export function schemaAt(root: AnySchema, path: readonly PathSegment[]): AnySchema | undefined {
  let s: AnySchema | undefined = root;
  for (const seg of path) {
    const o: AnySchema | undefined = s === undefined ? undefined : objectOption(s);
    if (o === undefined) return undefined;
    const def = defOf(o);
    s = def.type === 'object' ? (def.shape as Record<string, AnySchema>)[String(seg)] : (def.valueType as AnySchema);
  }
  return s;
}

function allowedKeys(root: AnySchema, path: readonly PathSegment[]): string[] {
  const s = schemaAt(root, path);
  const o = s === undefined ? undefined : objectOption(s);
  return o !== undefined && defOf(o).type === 'object' ? Object.keys(defOf(o).shape as object) : [];
}

function descriptionOf(s: AnySchema | undefined): string | undefined {
  return s === undefined ? undefined : z.globalRegistry.get(s)?.description;
}

// ── conversion ─────────────────────────────────────────────────────────────────────────

function isTypeMismatch(issue: z.core.$ZodIssue): boolean {
  return issue.path.length === 0 && (issue.code === 'invalid_type' || issue.code === 'invalid_value');
}

/** Convert zod issues for `input` (validated against `schema`) into raw spec issues. */
export function fromZod(issues: readonly z.core.$ZodIssue[], input: unknown, schema: AnySchema, prefix: PathSegment[] = []): RawIssue[] {
  const out: RawIssue[] = [];
  for (const issue of issues) {
    const path = [...prefix, ...(issue.path as PathSegment[])];
    switch (issue.code) {
      case 'invalid_union': {
        // Report the option whose type matched (the map form of replicas, the string form
        // of a duration); if none or several did, the union's own message says what fits.
        const matching = issue.errors.filter((branch) => !branch.some(isTypeMismatch));
        if (matching.length === 1) out.push(...fromZod(matching[0] as z.core.$ZodIssue[], input, schema, path));
        else out.push({ path, message: issue.message.startsWith('Invalid input') ? `invalid value ${showKind(valueAt(input, path))}` : issue.message });
        break;
      }
      case 'unrecognized_keys': {
        const allowed = allowedKeys(schema, path);
        for (const key of issue.keys) {
          const hint = FOREIGN_KEYS[key] ?? didYouMean(key, allowed) ?? (allowed.length > 0 ? `allowed keys: ${allowed.join(', ')}` : undefined);
          out.push({ path: [...path, key], message: `unknown key '${key}'`, at: 'key', ...(hint ? { hint } : {}) });
        }
        break;
      }
      case 'invalid_key': {
        for (const inner of issue.issues) out.push({ path, message: inner.message, at: 'key' });
        break;
      }
      case 'invalid_type': {
        const value = valueAt(input, path);
        if (value === undefined && path.length > 0) {
          const example = /Example: (.*)\.$/.exec(descriptionOf(schemaAt(schema, path)) ?? '')?.[1];
          out.push({ path, message: `missing required key '${String(path[path.length - 1])}'`, ...(example ? { hint: `add it, e.g. ${example}` } : {}) });
        } else if (issue.expected === 'string' && (typeof value === 'number' || typeof value === 'boolean')) {
          out.push({ path, message: issue.message, hint: `quote it: '${String(value)}'` });
        } else if ((issue.expected === 'number' || issue.expected === 'int') && typeof value === 'string' && value.trim() !== '' && Number.isFinite(Number(value))) {
          out.push({ path, message: issue.message, hint: `remove the quotes: ${value.trim()}` });
        } else if (issue.expected === 'boolean' && typeof value === 'string' && /^(true|false)$/i.test(value.trim())) {
          out.push({ path, message: issue.message, hint: `remove the quotes: ${value.trim().toLowerCase()}` });
        } else {
          out.push({ path, message: issue.message });
        }
        break;
      }
      case 'invalid_value': {
        const value = valueAt(input, path);
        const hint = typeof value === 'string' ? didYouMean(value, issue.values.map(String)) : undefined;
        out.push({ path, message: issue.message, ...(hint ? { hint } : {}) });
        break;
      }
      case 'custom': {
        const hint = (issue.params as { hint?: string } | undefined)?.hint;
        out.push({ path, message: issue.message, ...(hint ? { hint } : {}) });
        break;
      }
      default:
        out.push({ path, message: issue.message });
    }
  }
  return out;
}
