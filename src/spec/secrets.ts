/**
 * Secrets in the spec: any string value may contain `${env:NAME}` (an environment
 * variable) or `${file:path}` (a file's contents, relative to the spec file, trailing
 * newlines trimmed); `$${` writes a literal `${`. References are resolved after the YAML is
 * parsed and before the schema validates it, so
 *
 *     limits:
 *       redis:
 *         url: redis://:${env:REDIS_PASSWORD}@cache:6379
 *
 * validates the resolved URL. An unset variable or unreadable file is a spec issue at the
 * value's line:col. Resolved values never appear in spec errors: messages show the
 * template instead; `redactSecrets` does the same for anything else that shows a spec
 * (plans, diffs, the audit trail, --json output).
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { RawIssue } from './issues.js';
import type { PathSegment } from './locate.js';
import type { LoadedSpec } from './types.js';

/** One string value of the spec that contained at least one reference. */
export interface ResolvedValue {
  path: PathSegment[];
  /** As written, e.g. `redis://:${env:REDIS_PASSWORD}@cache:6379`. */
  template: string;
  /** After resolution. Secret: never show it. */
  value: string;
  /** Each resolved secret and the reference it came from (`${env:REDIS_PASSWORD}`). */
  secrets: { reference: string; value: string }[];
}

export interface SecretResolution {
  /** The parsed spec with references resolved (failed ones left as written). */
  value: unknown;
  /** Unset variables, unreadable files, malformed references: one per reference. */
  issues: RawIssue[];
  resolved: ResolvedValue[];
  /**
   * An issue as it may be shown: undefined for an issue about a value whose reference
   * failed (that failure is already reported), otherwise with every resolved value in its
   * message and hint replaced by the template.
   */
  screen(issue: RawIssue): RawIssue | undefined;
}

export interface ResolveSecretsOptions {
  /** The spec file's folder: `${file:…}` paths are relative to it. */
  dir: string;
  /** Default process.env. */
  env?: Readonly<Record<string, string | undefined>>;
  /** Default fs.readFileSync(path, 'utf8'). */
  readFile?: (path: string) => string;
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const LITERAL_HINT = 'write $${ for a literal ${';

/** Secrets shorter than this are masked only in issues about their own value (a short one could match ordinary text). */
const MIN_MASK_ANYWHERE = 6;

function readErrorMessage(rel: string, abs: string, e: unknown): string {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return `secret file ${rel} not found (looked for ${abs})`;
  if (code === 'EACCES' || code === 'EPERM') return `secret file ${rel} is not readable (permission denied: ${abs})`;
  if (code === 'EISDIR') return `secret file ${rel} is a folder, not a file (${abs})`;
  return `cannot read secret file ${rel} (${abs}): ${code ?? 'unknown error'}`;
}

interface Expanded {
  text: string;
  secrets: { reference: string; value: string }[];
  errors: { message: string; hint?: string }[];
}

function expand(s: string, opts: Required<ResolveSecretsOptions>): Expanded {
  const out: Expanded = { text: '', secrets: [], errors: [] };
  let i = 0;
  while (i < s.length) {
    const j = s.indexOf('$', i);
    if (j < 0) {
      out.text += s.slice(i);
      break;
    }
    out.text += s.slice(i, j);
    if (s.startsWith('$${', j)) {
      out.text += '${';
      i = j + 3;
      continue;
    }
    if (!s.startsWith('${', j)) {
      out.text += '$';
      i = j + 1;
      continue;
    }
    const end = s.indexOf('}', j + 2);
    if (end < 0) {
      out.errors.push({ message: "'${' starts a secret reference that is never closed with '}'", hint: `write \${env:NAME} or \${file:path}, or ${LITERAL_HINT}` });
      out.text += s.slice(j);
      break;
    }
    const reference = s.slice(j, end + 1);
    const inner = s.slice(j + 2, end).trim();
    i = end + 1;
    const colon = inner.indexOf(':');
    const scheme = colon < 0 ? inner : inner.slice(0, colon);
    const arg = colon < 0 ? '' : inner.slice(colon + 1).trim();
    if (scheme === 'env' && ENV_NAME.test(arg)) {
      const v = opts.env[arg];
      if (v === undefined) {
        out.errors.push({ message: `environment variable ${arg} is not set`, hint: `set it before starting Aloft (export ${arg}=…), or ${LITERAL_HINT}` });
        out.text += reference;
      } else {
        out.secrets.push({ reference, value: v });
        out.text += v;
      }
    } else if (scheme === 'env') {
      out.errors.push({ message: `'${arg}' is not an environment variable name`, hint: 'use letters, digits and _, e.g. ${env:REDIS_PASSWORD}' });
      out.text += reference;
    } else if (scheme === 'file' && arg !== '') {
      const abs = resolve(opts.dir, arg);
      try {
        const v = opts.readFile(abs).replace(/[\r\n]+$/, '');
        out.secrets.push({ reference, value: v });
        out.text += v;
      } catch (e) {
        out.errors.push({ message: readErrorMessage(arg, abs, e), hint: 'paths are relative to the spec file' });
        out.text += reference;
      }
    } else if (scheme === 'file') {
      out.errors.push({ message: "'${file:}' needs a path", hint: 'e.g. ${file:./secrets/redis-password}, relative to the spec file' });
      out.text += reference;
    } else {
      out.errors.push({ message: `unknown secret reference '${reference}'`, hint: `write \${env:NAME} or \${file:path}, or ${LITERAL_HINT}` });
      out.text += reference;
    }
  }
  return out;
}

function replaceAll(text: string, find: string, by: string): string {
  return find === '' ? text : text.split(find).join(by);
}

function startsWith(path: readonly PathSegment[], prefix: readonly PathSegment[]): boolean {
  return prefix.length <= path.length && prefix.every((seg, i) => String(seg) === String(path[i]));
}

/** Mask resolved values in `text`; `own` when the text is about that very value (mask even short ones). */
function maskText(text: string, resolved: readonly ResolvedValue[], own: (r: ResolvedValue) => boolean): string {
  let out = text;
  // Longest first, so a value is replaced before any secret inside it.
  const byLength = [...resolved].sort((a, b) => b.value.length - a.value.length);
  for (const r of byLength) {
    const mine = own(r);
    // As showValue prints strings: quoted, and cut at 57 characters with '...'.
    out = replaceAll(out, `'${r.value}'`, `'${r.template}'`);
    if (r.value.length > 60) out = replaceAll(out, `'${r.value.slice(0, 57)}...'`, `'${r.template}'`);
    if (mine || r.value.length >= MIN_MASK_ANYWHERE) out = replaceAll(out, r.value, r.template);
    for (const s of [...r.secrets].sort((a, b) => b.value.length - a.value.length)) {
      if (mine || s.value.length >= MIN_MASK_ANYWHERE) out = replaceAll(out, s.value, s.reference);
    }
  }
  return out;
}

/**
 * Resolve every `${env:…}`/`${file:…}` in the string values of `raw` (keys are left as
 * written). Never throws for a bad reference: it becomes an issue.
 *
 * @example resolveSecrets({ limits: { redis: { url: 'redis://:${env:PW}@cache' } } }, { dir: '.', env: { PW: 's3cret' } }).value
 * // { limits: { redis: { url: 'redis://:s3cret@cache' } } }
 */
export function resolveSecrets(raw: unknown, options: ResolveSecretsOptions): SecretResolution {
  const opts: Required<ResolveSecretsOptions> = {
    dir: options.dir,
    env: options.env ?? process.env,
    readFile: options.readFile ?? ((p) => readFileSync(p, 'utf8')),
  };
  const issues: RawIssue[] = [];
  const resolved: ResolvedValue[] = [];
  const failed: PathSegment[][] = [];

  const walk = (v: unknown, path: PathSegment[]): unknown => {
    if (typeof v === 'string') {
      if (!v.includes('${')) return v;
      const e = expand(v, opts);
      for (const err of e.errors) issues.push({ path, message: err.message, ...(err.hint ? { hint: err.hint } : {}) });
      if (e.errors.length > 0) failed.push(path);
      else if (e.secrets.length > 0) resolved.push({ path, template: v, value: e.text, secrets: e.secrets });
      return e.errors.length > 0 ? v : e.text;
    }
    if (Array.isArray(v)) return v.map((item, i) => walk(item, [...path, i]));
    if (v !== null && typeof v === 'object') {
      const out: Record<string, unknown> = {};
      for (const [k, inner] of Object.entries(v)) out[k] = walk(inner, [...path, k]);
      return out;
    }
    return v;
  };
  const value = walk(raw, []);

  const screen = (issue: RawIssue): RawIssue | undefined => {
    if (failed.some((p) => startsWith(issue.path, p))) return undefined;
    if (resolved.length === 0) return issue;
    const own = (r: ResolvedValue): boolean => startsWith(issue.path, r.path) || startsWith(r.path, issue.path);
    const hint = issue.hint === undefined ? undefined : maskText(issue.hint, resolved, own);
    return { ...issue, message: maskText(issue.message, resolved, own), ...(hint !== undefined ? { hint } : {}) };
  };
  return { value, issues, resolved, screen };
}

/**
 * Attach what was resolved to the loaded spec itself (called by the loader), so whatever
 * holds the spec can hide the values again; no state outside the spec. Not enumerable:
 * serializing or spreading a LoadedSpec never copies the values.
 */
export function attachSecrets<T extends object>(loaded: T, resolution: SecretResolution): T {
  Object.defineProperty(loaded, 'secrets', { value: Object.freeze([...resolution.resolved]), enumerable: false });
  return loaded;
}

/** The values resolved from references in a loaded spec (empty when it has none). */
export function secretsOf(loaded: LoadedSpec): readonly ResolvedValue[] {
  return (loaded as { secrets?: readonly ResolvedValue[] }).secrets ?? [];
}

/**
 * A deep copy of `value` (by default the spec itself) where every resolved secret in a
 * string is replaced by its reference: `redis://:${env:REDIS_PASSWORD}@cache:6379`. Use
 * it before showing, diffing or auditing a spec.
 *
 * @example audit.append({ …, after: redactSecrets(loaded) })
 */
export function redactSecrets(loaded: LoadedSpec, value: unknown = loaded.spec): unknown {
  const resolved = secretsOf(loaded);
  if (resolved.length === 0) return value;
  const whole = new Map<string, string>(resolved.map((r) => [r.value, r.template]));
  const secrets = resolved.flatMap((r) => r.secrets).filter((s) => s.value !== '');
  for (const s of secrets) if (!whole.has(s.value)) whole.set(s.value, s.reference);
  const long = secrets.filter((s) => s.value.length >= MIN_MASK_ANYWHERE).sort((a, b) => b.value.length - a.value.length);
  const mask = (text: string): string => whole.get(text) ?? long.reduce((t, s) => replaceAll(t, s.value, s.reference), text);
  const walk = (v: unknown): unknown => {
    if (typeof v === 'string') return mask(v);
    if (Array.isArray(v)) return v.map(walk);
    if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, inner]) => [k, walk(inner)]));
    return v;
  };
  return walk(value);
}
