/**
 * Names and model references: `name`, `name@3` (version), `name@production` (alias),
 * `name@latest`. Shared by the spec, the registry and the CLI so all accept the same text.
 */
import { fail } from '../errors.js';

/** Model and deployment names: DNS-label-like, 1–63 chars. */
export const NAME_PATTERN = '^[a-z0-9]([a-z0-9._-]{0,61}[a-z0-9])?$';
const NAME_RE = new RegExp(NAME_PATTERN);

/** Alias names: start with a letter; `latest` is reserved; `v3`-style names are refused (write `@3`). */
export const ALIAS_PATTERN = '^[a-z]([a-z0-9._-]{0,61}[a-z0-9])?$';
const ALIAS_RE = new RegExp(ALIAS_PATTERN);

/** A model reference as text, for JSON Schema: `name`, `name@<version>` or `name@<alias>`. */
export const MODEL_REF_PATTERN =
  '^[a-z0-9]([a-z0-9._-]{0,61}[a-z0-9])?(@([1-9][0-9]*|[a-z]([a-z0-9._-]{0,61}[a-z0-9])?))?$';

export const NAME_RULE =
  "use 1–63 lowercase letters, digits, '.', '_' or '-', starting and ending with a letter or digit";

export type ModelSelector =
  | { readonly kind: 'latest' }
  | { readonly kind: 'version'; readonly version: number }
  | { readonly kind: 'alias'; readonly alias: string };

/** A parsed model reference. `name` alone means the latest registered version. */
export interface ModelRef {
  readonly name: string;
  readonly selector: ModelSelector;
}

export type ModelRefCheck =
  | { ok: true; ref: ModelRef; pinned: boolean }
  | { ok: false; message: string; hint?: string };

export function isValidName(name: string): boolean {
  return NAME_RE.test(name);
}

/** A hint for an invalid name, when an obvious fix exists (case, spaces, underscores at the ends). */
export function nameHint(name: string): string | undefined {
  const fixed = name.toLowerCase().replace(/[^a-z0-9._-]+/g, '-').replace(/^[._-]+|[._-]+$/g, '').slice(0, 63);
  return fixed !== name && isValidName(fixed) ? `try '${fixed}'` : undefined;
}

/**
 * Check a reference's syntax. `pinned` is true when it names a version or alias explicitly
 * (anything after '@', including `@latest`).
 *
 * @example checkModelRef('credit-risk@3') → { ok: true, ref: { name: 'credit-risk', selector: { kind: 'version', version: 3 } }, pinned: true }
 */
export function checkModelRef(text: string): ModelRefCheck {
  const at = text.indexOf('@');
  const name = at < 0 ? text : text.slice(0, at);
  if (name === '') return { ok: false, message: `model reference '${text}' has no model name`, hint: "write name, name@3 or name@production" };
  if (!isValidName(name)) {
    const hint = nameHint(name);
    return { ok: false, message: `model name '${name}' is invalid: ${NAME_RULE}`, ...(hint ? { hint } : {}) };
  }
  if (at < 0) return { ok: true, ref: { name, selector: { kind: 'latest' } }, pinned: false };
  const sel = text.slice(at + 1);
  if (sel === '') return { ok: false, message: `model reference '${text}' has nothing after '@'`, hint: `write ${name}@3 for a version or ${name}@production for an alias` };
  if (sel === 'latest') return { ok: true, ref: { name, selector: { kind: 'latest' } }, pinned: true };
  if (/^\d+$/.test(sel)) {
    const version = Number(sel);
    if (version < 1 || !Number.isSafeInteger(version) || sel.startsWith('0')) {
      return { ok: false, message: `model reference '${text}' has an invalid version '${sel}': versions are whole numbers starting at 1` };
    }
    return { ok: true, ref: { name, selector: { kind: 'version', version } }, pinned: true };
  }
  const vForm = /^v(\d+)$/i.exec(sel);
  if (vForm) return { ok: false, message: `model reference '${text}' is ambiguous: '${sel}' is neither a version nor a valid alias`, hint: `write ${name}@${vForm[1]} for version ${vForm[1]}` };
  if (!ALIAS_RE.test(sel)) {
    return { ok: false, message: `model reference '${text}' has an invalid alias '${sel}': aliases start with a lowercase letter, then letters, digits, '.', '_' or '-'` };
  }
  return { ok: true, ref: { name, selector: { kind: 'alias', alias: sel } }, pinned: true };
}

/**
 * Parse a reference or throw ALOFT_MODEL_REF_INVALID.
 * @example parseModelRef('fraud@production').selector → { kind: 'alias', alias: 'production' }
 */
export function parseModelRef(text: string): ModelRef {
  const r = checkModelRef(text);
  if (!r.ok) throw fail('ALOFT_MODEL_REF_INVALID', r.hint ? `${r.message}; ${r.hint}` : r.message);
  return r.ref;
}

/** The reference as text: `name`, `name@3`, `name@production`. `latest` prints as the bare name. */
export function formatModelRef(ref: ModelRef): string {
  switch (ref.selector.kind) {
    case 'latest': return ref.name;
    case 'version': return `${ref.name}@${ref.selector.version}`;
    case 'alias': return `${ref.name}@${ref.selector.alias}`;
  }
}
