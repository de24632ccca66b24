/**
 * Model references and name rules for the registry. The syntax lives in spec/modelref.ts
 * so the spec, the registry and the CLI accept exactly the same text; this module adds
 * the assertions the registry needs when names arrive through the API.
 */
import { fail } from '../errors.js';
import { ALIAS_PATTERN, isValidName, nameHint, NAME_RULE } from '../spec/modelref.js';

export { formatModelRef, parseModelRef, type ModelRef, type ModelSelector as VersionSelector } from '../spec/modelref.js';

const ALIAS_RE = new RegExp(ALIAS_PATTERN);

/** Throw ALOFT_MODEL_REF_INVALID unless `name` is a valid model name. */
export function assertModelName(name: string): void {
  if (!isValidName(name)) {
    const hint = nameHint(name);
    throw fail('ALOFT_MODEL_REF_INVALID', `invalid model name '${name}': ${NAME_RULE}${hint ? `; ${hint}` : ''}`);
  }
}

/** Throw ALOFT_MODEL_REF_INVALID unless `alias` is a valid alias name. */
export function assertAliasName(alias: string): void {
  if (alias === 'latest') throw fail('ALOFT_MODEL_REF_INVALID', "invalid alias 'latest': it is reserved for the newest version");
  if (/^[0-9]+$/.test(alias)) throw fail('ALOFT_MODEL_REF_INVALID', `invalid alias '${alias}': an alias cannot be a number (numbers select versions)`);
  if (!ALIAS_RE.test(alias)) {
    throw fail('ALOFT_MODEL_REF_INVALID', `invalid alias '${alias}': aliases start with a lowercase letter, then lowercase letters, digits, '.', '_' or '-' (at most 63)`);
  }
}
