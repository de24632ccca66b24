/**
 * One captured prediction as it is stored (before encryption) and exported (after):
 *
 *   { id, at, deployment, version, model, key, latencyMs,
 *     rows: [{ age: 31, region: 2, customer_id: "hmac:…" }, …],   // the first input, one object per row
 *     inputs: { other_input: { shape, data } },                     // any further inputs, as tensors
 *     outputs: { probability: { shape: [2, 1], data: [0.12, 0.97] } } }
 *
 * The first input's columns are named by the deployment's `features` (`input[i]` where it
 * has none). Redacted features are left out of every row; hashed ones are replaced by
 * `hmac:` and the first 32 hex digits of HMAC-SHA256(hashKey, the value as text), so equal
 * values still join and the value cannot be read back. The value is the one the model saw:
 * for an FP32 input the float32 number (71.09137 is hashed as "71.09136962890625"), so a
 * join outside Aloft rounds to float32 first (Math.fround). NaN and infinities are stored as null.
 */
import { createHmac } from 'node:crypto';
import type { Tensor } from '../../runtime/tensor.js';
import type { CaptureSpec, FeatureSpec } from '../../spec/types.js';

export type CellValue = number | string | boolean | null;

export interface CaptureRecord {
  id: string;
  at: string;
  deployment: string;
  version: number;
  model: string;
  /** The caller's key name or token subject ('anonymous' on a public deployment). */
  key: string;
  latencyMs: number;
  rows: Record<string, CellValue>[];
  inputs?: Record<string, { shape: number[]; data: CellValue[] }>;
  outputs: Record<string, { shape: number[]; data: CellValue[] }>;
}

function cell(v: unknown): CellValue {
  if (typeof v === 'number') return Number.isFinite(v) ? v : null;
  if (typeof v === 'bigint') return Number(v);
  if (typeof v === 'boolean' || typeof v === 'string') return v;
  if (v instanceof Uint8Array) return Buffer.from(v).toString('utf8');
  return null;
}

function values(t: Tensor): CellValue[] {
  const out: CellValue[] = new Array<CellValue>(t.data.length);
  for (let i = 0; i < t.data.length; i++) out[i] = cell(t.data[i]);
  return out;
}

/** The column names of an input of `width` columns. */
export function columnNames(width: number, features: readonly FeatureSpec[] | undefined): string[] {
  return Array.from({ length: width }, (_, i) => features?.[i]?.name ?? `input[${i}]`);
}

export function hmacOf(hashKey: string, value: CellValue): string {
  return `hmac:${createHmac('sha256', hashKey).update(String(value)).digest('hex').slice(0, 32)}`;
}

export interface RecordSource {
  id: string;
  at: number;
  deployment: string;
  version: number;
  model: string;
  key: string;
  latencyMs: number;
  inputs: readonly Tensor[];
  outputs: readonly Tensor[];
}

/** The record of one prediction, redacted and hashed as `spec` says. */
export function buildRecord(src: RecordSource, spec: CaptureSpec, features: readonly FeatureSpec[] | undefined): CaptureRecord {
  const [first, ...rest] = src.inputs;
  const rows: Record<string, CellValue>[] = [];
  if (first) {
    const width = first.shape.length >= 2 ? first.shape[first.shape.length - 1]! : first.data.length;
    const names = columnNames(width, features);
    const redact = new Set(spec.redact);
    const hash = new Set(spec.hash);
    for (let start = 0; width > 0 && start < first.data.length; start += width) {
      const row: Record<string, CellValue> = {};
      for (let c = 0; c < width; c++) {
        const name = names[c]!;
        if (redact.has(name)) continue;
        const v = cell(first.data[start + c]);
        row[name] = hash.has(name) ? hmacOf(spec.hashKey ?? '', v) : v;
      }
      rows.push(row);
    }
  }
  const outputs: CaptureRecord['outputs'] = {};
  for (const o of src.outputs) outputs[o.name] = { shape: [...o.shape], data: values(o) };
  const record: CaptureRecord = {
    id: src.id, at: new Date(src.at).toISOString(), deployment: src.deployment, version: src.version, model: src.model,
    key: src.key, latencyMs: Math.round(src.latencyMs * 1000) / 1000, rows, outputs,
  };
  if (rest.length > 0) record.inputs = Object.fromEntries(rest.map((t) => [t.name, { shape: [...t.shape], data: values(t) }]));
  return record;
}
