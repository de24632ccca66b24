/**
 * A drift reference: training rows from a CSV file (a header row with the feature names)
 * or a JSONL file (one object per row, keyed by feature name). Its columns must be the
 * deployment's features: a missing or unknown column is an error naming them.
 */
import { readFile } from 'node:fs/promises';
import { fail } from '../errors.js';
import type { FeatureSpec, Spec } from '../spec/types.js';
import type { Cell } from './drift.js';

/** Split one CSV line (RFC 4180 quoting). */
function csvFields(line: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i]!;
    if (quoted) {
      if (ch === '"' && line[i + 1] === '"') { cur += '"'; i++; } else if (ch === '"') quoted = false; else cur += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') { out.push(cur); cur = ''; } else cur += ch;
  }
  out.push(cur);
  return out;
}

const cellOf = (s: string): Cell => {
  const t = s.trim();
  if (t === '') return null;
  const n = Number(t);
  return Number.isFinite(n) ? n : t;
};

/** Columns by feature name. @throws ALOFT_SPEC_INVALID naming the file and the columns that do not fit. */
export async function loadReference(path: string, features: readonly string[]): Promise<Record<string, Cell[]>> {
  const text = await readFile(path, 'utf8').catch((err: unknown) => {
    throw fail('ALOFT_SPEC_INVALID', `cannot read the drift reference ${path}: ${(err as Error).message}; drift.reference is a CSV or JSONL file of training rows`);
  });
  const lines = text.split(/\r?\n/).filter((l) => l.trim() !== '');
  if (lines.length < 2 && !path.endsWith('.jsonl')) throw fail('ALOFT_SPEC_INVALID', `the drift reference ${path} has no rows: it needs a header row with the feature names and at least one row`);
  const columns: Record<string, Cell[]> = Object.fromEntries(features.map((f) => [f, [] as Cell[]]));
  const check = (have: readonly string[]) => {
    const missing = features.filter((f) => !have.includes(f));
    const unknown = have.filter((h) => !features.includes(h));
    if (missing.length > 0 || unknown.length > 0) {
      throw fail('ALOFT_SPEC_INVALID', `the drift reference ${path} has the wrong columns${missing.length ? `; missing: ${missing.join(', ')}` : ''}${unknown.length ? `; not features of the deployment: ${unknown.join(', ')}` : ''}; its columns must be the deployment's features: ${features.join(', ')}`);
    }
  };
  if (path.endsWith('.jsonl') || path.endsWith('.ndjson')) {
    lines.forEach((line, i) => {
      let row: unknown;
      try { row = JSON.parse(line); } catch { throw fail('ALOFT_SPEC_INVALID', `the drift reference ${path} line ${i + 1} is not JSON`); }
      if (row === null || typeof row !== 'object' || Array.isArray(row)) throw fail('ALOFT_SPEC_INVALID', `the drift reference ${path} line ${i + 1} is not an object of feature values`);
      if (i === 0) check(Object.keys(row));
      for (const f of features) {
        const v = (row as Record<string, unknown>)[f];
        columns[f]!.push(typeof v === 'number' || typeof v === 'string' || typeof v === 'boolean' ? v : null);
      }
    });
    return columns;
  }
  const header = csvFields(lines[0]!).map((h) => h.trim());
  check(header);
  for (let i = 1; i < lines.length; i++) {
    const fields = csvFields(lines[i]!);
    if (fields.length !== header.length) throw fail('ALOFT_SPEC_INVALID', `the drift reference ${path} line ${i + 1} has ${fields.length} fields; the header has ${header.length}`);
    header.forEach((h, k) => columns[h]!.push(cellOf(fields[k]!)));
  }
  return columns;
}

/**
 * Every drift reference of a spec must load now (the server reads it when drift is checked), not fail
 * quietly in monitoring later: aloft up and plan/apply refuse a spec whose reference cannot be read.
 * @throws ALOFT_SPEC_INVALID naming the deployment's field and why
 */
export async function checkReferences(spec: Pick<Spec, 'deployments'>, file: string): Promise<void> {
  for (const [name, d] of Object.entries(spec.deployments)) {
    if (!d.drift?.reference || !d.features) continue;
    await loadReference(d.drift.reference, d.features.map((f) => f.name)).catch((err: unknown) => {
      throw fail('ALOFT_SPEC_INVALID', `${file} deployments.${name}.drift.reference: ${(err as Error).message}`, { cause: err });
    });
  }
}

/**
 * Cells of a loaded reference that the drift check will leave out: empty ones, text in a
 * numeric feature, and values a categorical feature's `values` do not allow. One line per
 * feature that has any, with the first such row (1 = the first data row; with `headerLines`,
 * its line in the file too); none when every cell counts.
 */
export function referenceCellWarnings(columns: Readonly<Record<string, readonly Cell[]>>, features: readonly FeatureSpec[], opts: { headerLines?: number } = {}): string[] {
  const out: string[] = [];
  for (const f of features) {
    const cells = columns[f.name] ?? [];
    let empty = 0;
    let bad = 0;
    let first: { row: number; value: Cell } | undefined;
    const allowed = f.values ? new Set(f.values.map(String)) : undefined;
    cells.forEach((c, i) => {
      const wrong = c === null ? false : f.kind === 'numeric' ? typeof c !== 'number' : allowed !== undefined && !allowed.has(String(c));
      if (c === null) empty++;
      if (wrong) bad++;
      if ((c === null || wrong) && !first) first = { row: i + 1, value: c };
    });
    if (empty + bad === 0) continue;
    const what = [
      ...(bad > 0 ? [`${bad} ${f.kind === 'numeric' ? 'not a number' : 'not among its values'}`] : []),
      ...(empty > 0 ? [`${empty} empty`] : []),
    ].join(' and ');
    out.push(`feature '${f.name}': ${empty + bad} of ${cells.length} reference cells (${what}; the first in data row ${first!.row}${opts.headerLines !== undefined ? `, line ${first!.row + opts.headerLines} of the file` : ''}${first!.value === null ? '' : `: ${JSON.stringify(first!.value)}`}) are left out of the drift test`);
  }
  return out;
}
