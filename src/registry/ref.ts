/**
 * Model references: `name`, `name@3`, `name@latest`, `name@<alias>`.
 *
 * @example
 * parseModelRef('credit-risk@production')
 * // → { name: 'credit-risk', selector: { kind: 'alias', alias: 'production' } }
 */
import { fail } from '../errors.js';

export type VersionSelector =
  | { kind: 'latest' }
  | { kind: 'version'; version: number }
  | { kind: 'alias'; alias: string };

export interface ModelRef {
  name: string;
  selector: VersionSelector;
}

/** Model names: letters, digits, `.`, `_`, `-`; start with a letter or digit; at most 128. */
export const MODEL_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** Alias names: lowercase, start with a letter, at most 63; never `latest` (reserved). */
export const ALIAS_RE = /^[a-z][a-z0-9_-]{0,62}$/;

const FORMS = 'name, name@<version>, name@latest or name@<alias> (e.g. credit-risk, credit-risk@3, credit-risk@production)';

/** Parse a reference string. Throws ALOFT_MODEL_REF_INVALID naming the accepted forms. */
export function parseModelRef(s: string): ModelRef {
  const at = s.indexOf('@');
  const name = at < 0 ? s : s.slice(0, at);
  const sel = at < 0 ? undefined : s.slice(at + 1);
  if (!MODEL_NAME_RE.test(name)) {
    throw fail('ALOFT_MODEL_REF_INVALID', `invalid model reference '${s}': ${modelNameRule(name)}; expected ${FORMS}`);
  }
  if (sel === undefined || sel === 'latest') return { name, selector: { kind: 'latest' } };
  if (/^[0-9]+$/.test(sel)) {
    const version = Number(sel);
    if (!Number.isSafeInteger(version) || version < 1 || sel.startsWith('0')) {
      throw fail('ALOFT_MODEL_REF_INVALID', `invalid model reference '${s}': versions are whole numbers from 1 without leading zeros; expected ${FORMS}`);
    }
    return { name, selector: { kind: 'version', version } };
  }
  if (!ALIAS_RE.test(sel)) {
    throw fail('ALOFT_MODEL_REF_INVALID', `invalid model reference '${s}': ${aliasRule(sel)}; expected ${FORMS}`);
  }
  return { name, selector: { kind: 'alias', alias: sel } };
}

/** The canonical string of a reference (`name` for latest). */
export function formatModelRef(ref: ModelRef): string {
  switch (ref.selector.kind) {
    case 'latest':
      return ref.name;
    case 'version':
      return `${ref.name}@${ref.selector.version}`;
    case 'alias':
      return `${ref.name}@${ref.selector.alias}`;
  }
}

/** Throw ALOFT_MODEL_REF_INVALID unless `name` is a valid model name. */
export function assertModelName(name: string): void {
  if (!MODEL_NAME_RE.test(name)) throw fail('ALOFT_MODEL_REF_INVALID', `invalid model name '${name}': ${modelNameRule(name)}`);
}

/** Throw ALOFT_MODEL_REF_INVALID unless `alias` is a valid alias name. */
export function assertAliasName(alias: string): void {
  if (alias === 'latest' || !ALIAS_RE.test(alias)) throw fail('ALOFT_MODEL_REF_INVALID', `invalid alias '${alias}': ${aliasRule(alias)}`);
}

function modelNameRule(name: string): string {
  if (name === '') return 'the model name is empty';
  return 'model names are 1-128 letters, digits, ".", "_" or "-", starting with a letter or digit';
}

function aliasRule(alias: string): string {
  if (alias === 'latest') return "'latest' is reserved for the newest version";
  if (/^[0-9]+$/.test(alias)) return 'an alias cannot be a number (numbers select versions)';
  if (alias === '') return 'the alias is empty';
  return 'aliases are 1-63 lowercase letters, digits, "_" or "-", starting with a letter';
}
