/**
 * Load a spec file: parse the YAML keeping positions, validate it completely, and return
 * the normalized, frozen spec, or every violation at once as `file:line:col path: message`.
 */
import { readFile, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { LineCounter, parseDocument, type Document } from 'yaml';
import { fail, type AloftError } from '../errors.js';
import { crossCheck } from './checks.js';
import { errorMap, fromZod, type RawIssue } from './issues.js';
import { findDuplicateKeys, formatPath, locate, type PathSegment, type Position } from './locate.js';
import { normalize } from './normalize.js';
import { sections, specSchema } from './schema.js';
import { attachSecrets, resolveSecrets } from './secrets.js';
import type { LoadedSpec, SpecIssue } from './types.js';

/** The file name looked for when a folder is given. */
export const SPEC_FILE_NAME = 'aloft.yaml';

export type SpecErrorCode = 'ALOFT_SPEC_INVALID' | 'ALOFT_SPEC_YAML' | 'ALOFT_SPEC_NOT_FOUND';

/** The outcome of validating a spec, for `aloft validate`: never throws for a bad spec. */
export type SpecValidation =
  | { ok: true; loaded: LoadedSpec; issues: [] }
  | { ok: false; code: SpecErrorCode; message: string; issues: SpecIssue[] };

/** `aloft.yaml:7:5 deployments.credit-risk.replica: unknown key 'replica'; did you mean 'replicas'?` */
export function formatIssue(issue: SpecIssue): string {
  const where = issue.line > 0 ? `${issue.file}:${issue.line}:${issue.col}` : issue.file;
  const what = issue.hint ? `${issue.message}; ${issue.hint}` : issue.message;
  return issue.path === '' ? `${where}: ${what}` : `${where} ${issue.path}: ${what}`;
}

/** The error thrown for a failed validation: every issue in the message and in `details.issues`. */
export function specError(result: Extract<SpecValidation, { ok: false }>): AloftError {
  return fail(result.code, result.message, { details: { issues: result.issues } });
}

function failed(code: SpecErrorCode, issues: SpecIssue[]): Extract<SpecValidation, { ok: false }> {
  const sorted = [...issues].sort((a, b) => a.line - b.line || a.col - b.col || a.path.localeCompare(b.path));
  return { ok: false, code, message: sorted.map(formatIssue).join('\n'), issues: sorted };
}

interface Analysis {
  result: SpecValidation;
  /** Position of a path in the source (1:1 when the YAML did not parse). */
  where: (path: readonly PathSegment[], at?: 'key' | 'value') => Position;
  /** The model files the spec names, resolved, as far as the text could be read (also when it has other errors). */
  modelPaths?: [name: string, path: string][];
}

function analyze(text: string, file: string, dir?: string): Analysis {
  const abs = resolve(file);
  const base = dir ?? dirname(abs);
  const lc = new LineCounter();
  const doc: Document = parseDocument(text, { lineCounter: lc, keepSourceTokens: true, uniqueKeys: false, prettyErrors: false, merge: true });
  const where = (path: readonly PathSegment[], at: 'key' | 'value' = 'value'): Position => locate(doc, lc, path, at);
  const issue = (pos: Position, path: readonly PathSegment[], message: string, hint?: string): SpecIssue => ({
    file, line: pos.line, col: pos.col, path: formatPath(path), message, ...(hint ? { hint } : {}),
  });

  if (doc.errors.length > 0) {
    const lines = text.split(/\r?\n/);
    // An unquoted ${env:…}/${file:…} inside { } or [ ]: its braces read as YAML's own. One
    // issue per such line, saying so, instead of the parser's several about tokens.
    const secretLines = new Set<number>();
    const issues = doc.errors.flatMap((e) => {
      const p = lc.linePos(e.pos[0]);
      const line = lines[p.line - 1] ?? '';
      const ref = /(?<!["'$])\$\{(env|file):[^}]*\}/.exec(line);
      if (ref && /[{[]/.test(line.slice(0, ref.index))) {
        if (secretLines.has(p.line)) return [];
        secretLines.add(p.line);
        return [issue({ line: p.line, col: ref.index + 1 }, [], `${ref[0]} inside a { } or [ ] list must be quoted: its braces read as YAML's`, `write "${ref[0]}" (in double quotes), or put the value on its own line`)];
      }
      return [issue({ line: p.line, col: p.col }, [], e.message.replace(/\s+/g, ' ').trim())];
    });
    // After such a line the parser has lost the structure: its token errors below it are echoes of that one mistake.
    const firstSecret = Math.min(...secretLines);
    const shown = secretLines.size > 0 ? issues.filter((i) => i.line <= firstSecret || i.message.includes('must be quoted')) : issues;
    return { result: failed('ALOFT_SPEC_YAML', shown), where };
  }
  if (doc.contents === null || (doc.contents as { value?: unknown }).value === null) {
    return {
      result: failed('ALOFT_SPEC_INVALID', [issue({ line: 1, col: 1 }, [], 'the spec file is empty', "declare models: and deployments: (see docs/spec.md), or run 'aloft init' for a starter file")]),
      where,
    };
  }

  let raw: unknown;
  try {
    raw = doc.toJS({ maxAliasCount: 1000 });
  } catch (e) {
    return { result: failed('ALOFT_SPEC_YAML', [issue({ line: 1, col: 1 }, [], (e as Error).message)]), where };
  }

  // The model files, read from the text itself, so that validate reports a missing one beside the spec's other errors.
  const models = (raw as { models?: unknown } | null)?.models;
  const modelPaths: [string, string][] = models !== null && typeof models === 'object' && !Array.isArray(models)
    ? Object.entries(models as Record<string, unknown>).flatMap(([name, m]) => {
      const p = (m as { path?: unknown } | null)?.path;
      return typeof p === 'string' && p !== '' && !p.includes('${') ? [[name, resolve(base, p)] as [string, string]] : [];
    })
    : [];

  const issues: SpecIssue[] = [];
  // ${env:…} and ${file:…} resolve before validation; issues never show resolved values.
  const secrets = resolveSecrets(raw, { dir: base });
  raw = secrets.value;
  for (const r of secrets.issues) issues.push(issue(where(r.path), r.path, r.message, r.hint));
  const add = (r: RawIssue): void => {
    const shown = secrets.screen(r);
    if (shown) issues.push(issue(where(shown.path, shown.at), shown.path, shown.message, shown.hint));
  };
  for (const d of findDuplicateKeys(doc, lc)) {
    issues.push(issue(d.at, d.path, `duplicate key '${String(d.path[d.path.length - 1])}' (first defined at ${d.first.line}:${d.first.col})`, 'remove one of them'));
  }
  const parsed = specSchema.safeParse(raw, { error: errorMap });
  if (!parsed.success) {
    for (const r of fromZod(parsed.error.issues, raw, specSchema)) {
      if (r.path.length === 0) r.hint ??= `a spec is a map of sections: ${Object.keys(sections).join(', ')}`;
      add(r);
    }
  }
  for (const r of crossCheck(raw)) add(r);

  const seen = new Set<string>();
  const unique = issues.filter((i) => {
    const k = `${i.line}:${i.col}:${i.path}:${i.message}`;
    return seen.has(k) ? false : (seen.add(k), true);
  });
  if (unique.length > 0 || !parsed.success) return { result: failed('ALOFT_SPEC_INVALID', unique), where, modelPaths };

  const loaded: LoadedSpec = Object.freeze(attachSecrets({ file: abs, dir: base, spec: normalize(parsed.data, base) }, secrets));
  return { result: { ok: true, loaded, issues: [] }, where, modelPaths: Object.entries(loaded.spec.models).map(([name, m]) => [name, m.path]) };
}

/**
 * Validate spec text without throwing. `file` is used in messages and, unless `dir` is
 * given, to resolve relative paths (a spec sent to a running Aloft resolves them in the
 * folder of the spec that Aloft was started with).
 */
export function validateSpecText(text: string, file: string, dir?: string): SpecValidation {
  return analyze(text, file, dir).result;
}

/**
 * Parse and validate spec text; throws ALOFT_SPEC_YAML or ALOFT_SPEC_INVALID listing every
 * issue (also in `details.issues`). Relative paths resolve against `file`'s folder.
 *
 * @example parseSpec('models:\n  m:\n    path: ./m.onnx\n', 'aloft.yaml').spec.models.m.path // → '<cwd>/m.onnx'
 */
export function parseSpec(text: string, file: string): LoadedSpec {
  const result = validateSpecText(text, file);
  if (!result.ok) throw specError(result);
  return result.loaded;
}

async function readSpec(file: string): Promise<{ file: string; text: string } | Extract<SpecValidation, { ok: false }>> {
  let target = file;
  try {
    if ((await stat(file)).isDirectory()) target = join(file, SPEC_FILE_NAME);
    return { file: target, text: await readFile(target, 'utf8') };
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const message = code === 'ENOENT'
      ? `spec file not found (looked for ${resolve(target)})`
      : `cannot read the spec file: ${(e as Error).message}`;
    const hint = code === 'ENOENT' ? "run 'aloft init' to create one, or pass its path with -f <file>" : undefined;
    return failed('ALOFT_SPEC_NOT_FOUND', [{ file: target, line: 0, col: 0, path: '', message, ...(hint ? { hint } : {}) }]);
  }
}

/**
 * Read, validate and normalize a spec file (or `<folder>/aloft.yaml` when given a folder).
 * Throws ALOFT_SPEC_NOT_FOUND, ALOFT_SPEC_YAML or ALOFT_SPEC_INVALID with every issue.
 *
 * @example const { spec } = await loadSpec('aloft.yaml'); spec.deployments['credit-risk']?.replicas // { min: 2, max: 2, initial: 2 }
 */
export async function loadSpec(file: string): Promise<LoadedSpec> {
  const read = await readSpec(file);
  if ('ok' in read) throw specError(read);
  return parseSpec(read.text, read.file);
}

/**
 * Validate a spec file without throwing, for `aloft validate`. Besides what `loadSpec`
 * checks, reports model files that do not exist (unless `checkFiles` is false), and those
 * `checkModel` refuses (it returns why), together with the spec's other problems.
 */
export async function validateSpecFile(file: string, options: {
  checkFiles?: boolean; checkModel?: (bytes: Uint8Array) => string | undefined | Promise<string | undefined>; checkReference?: (path: string, features: readonly string[]) => Promise<string | undefined>;
  /** Problems with files the spec names beyond models and references (TLS, JWKS), each at the field's path; [] when there are none. */
  checkOther?: (spec: LoadedSpec['spec']) => Promise<{ path: readonly string[]; message: string; hint?: string }[]>;
} = {}): Promise<SpecValidation> {
  const read = await readSpec(file);
  if ('ok' in read) return read;
  const { result, where, modelPaths } = analyze(read.text, read.file);
  if (options.checkFiles === false || !modelPaths || (!result.ok && result.code !== 'ALOFT_SPEC_INVALID')) return result;
  const found: SpecIssue[] = [];
  for (const [name, modelPath] of modelPaths) {
    const path = ['models', name, 'path'];
    const pos = where(path);
    const at = { file: read.file, line: pos.line, col: pos.col, path: formatPath(path) };
    const isFile = await stat(modelPath).then((s) => s.isFile(), () => false);
    if (!isFile) {
      found.push({ ...at, message: `model file not found: ${modelPath}`, hint: 'paths are relative to the spec file' });
      continue;
    }
    const why = await options.checkModel?.(await readFile(modelPath));
    if (why) found.push({ ...at, message: `${modelPath} is not a model Aloft can serve: ${why}` });
  }
  // A drift reference is read when drift is checked; a missing file or wrong columns are the spec's error now, not a silent gap in monitoring later.
  if (result.ok && options.checkReference) {
    for (const [name, d] of Object.entries(result.loaded.spec.deployments)) {
      if (!d.drift?.reference || !d.features) continue;
      const why = await options.checkReference(d.drift.reference, d.features.map((f) => f.name));
      if (!why) continue;
      const path = ['deployments', name, 'drift', 'reference'];
      const pos = where(path);
      found.push({ file: read.file, line: pos.line, col: pos.col, path: formatPath(path), message: why, hint: 'paths are relative to the spec file; the file is CSV with a header row of the feature names, or JSONL of objects' });
    }
  }
  if (result.ok && options.checkOther) {
    for (const o of await options.checkOther(result.loaded.spec)) {
      const pos = where([...o.path]);
      found.push({ file: read.file, line: pos.line, col: pos.col, path: formatPath([...o.path]), message: o.message, ...(o.hint ? { hint: o.hint } : {}) });
    }
  }
  if (found.length === 0) return result;
  const all = [...(result.ok ? [] : result.issues), ...found].sort((a, b) => a.line - b.line || a.col - b.col || a.path.localeCompare(b.path));
  return failed('ALOFT_SPEC_INVALID', all);
}
