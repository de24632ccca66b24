/**
 * Scope globs: deployment or model names with `*` (any run of characters, possibly empty)
 * and `?` (exactly one character). Nothing else is special, so a scope can only ever
 * match names, never paths. Matching is whole-name and case-sensitive (names are
 * lowercase).
 *
 * @example
 * matchesGlob('credit-*', 'credit-risk') === true
 * matchesGlob('model-v?', 'model-v10') === false
 * inScope(ALL_SCOPES, 'anything') === true   // ['*']: every name
 * inScope([], 'anything') === false          // no scopes: no name (fails closed)
 */

/** The scopes of credentials that may use every name. */
export const ALL_SCOPES: readonly string[] = Object.freeze(['*']);

/** A scope: 1–63 lowercase letters, digits, '.', '_', '-', '*' or '?'. */
export const SCOPE_PATTERN = '^[a-z0-9._*?-]{1,63}$';
const SCOPE_RE = new RegExp(SCOPE_PATTERN);

export const SCOPE_RULE = "use 1–63 lowercase letters, digits, '.', '_', '-', and the wildcards '*' (any characters) and '?' (one character)";

export function isValidScope(glob: string): boolean {
  return SCOPE_RE.test(glob);
}

/**
 * Wildcard match without regular expressions: the classic two-pointer algorithm that
 * backtracks only to the last `*`, so it is O(glob × name) whatever the pattern (a glob
 * from a JWT claim cannot cause catastrophic backtracking).
 */
export function matchesGlob(glob: string, name: string): boolean {
  let g = 0;
  let n = 0;
  let star = -1;
  let mark = 0;
  while (n < name.length) {
    const c = glob[g];
    if (c === '?' || (c !== undefined && c !== '*' && c === name[n])) {
      g++;
      n++;
    } else if (c === '*') {
      star = g++;
      mark = n;
    } else if (star >= 0) {
      g = star + 1;
      n = ++mark;
    } else {
      return false;
    }
  }
  while (glob[g] === '*') g++;
  return g === glob.length;
}

/**
 * True when any glob of `scopes` matches one of `names`. An empty list matches nothing:
 * every name is `['*']` (ALL_SCOPES), never the absence of scopes.
 */
export function inScope(scopes: readonly string[], ...names: (string | undefined)[]): boolean {
  for (const name of names) {
    if (name === undefined) continue;
    for (const glob of scopes) if (matchesGlob(glob, name)) return true;
  }
  return false;
}
