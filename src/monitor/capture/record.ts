/**
 * One captured prediction: how it is built, stored (sealed, in a compact binary form) and
 * read back (as the JSON object export prints):
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
 * join outside Aloft rounds to float32 first (Math.fround). NaN and infinities read as null.
 *
 * The stored form (what is sealed) keeps tensors as their bytes, not as decimal text: the
 * gateway writes it as it samples (a copy of the kept columns, no number formatting), and the
 * capture thread seals it. Little-endian:
 *
 *   u8 0xAC | u8 format (1) | str id | f64 at (ms) | str deployment | u32 version | str model
 *   | str key | f64 latencyMs | u32 rows | u16 columns, each: u8 kind (0 value, 1 hashed) | str name
 *   | u8 has values | values tensor (the value columns, [rows, n], the first input's datatype)
 *   | per hashed column, rows × str | u8 inputs | tensors | u8 outputs | tensors
 *
 *   str := u16 byte length | UTF-8;  tensor := u8 datatype | str name | u8 rank | rank × u32
 *   | u32 byte length | the binary tensor extension's bytes (BYTES: u32 length + bytes each)
 *
 * Records written before this form (JSON text, starting with `{`) still read.
 */
import { createHmac } from 'node:crypto';
import { fail } from '../../errors.js';
import { decodeBinaryData, tensorBytes } from '../../runtime/codec/binary-data.js';
import type { CodecContext } from '../../runtime/codec/fields.js';
import { DATATYPE_NAMES, elementCount, type Datatype, type TensorData } from '../../runtime/datatypes.js';
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
  // INT64 past 2^53 as its decimal digits: a double would round it (and two ids would become one).
  if (typeof v === 'bigint') return Number.isSafeInteger(Number(v)) ? Number(v) : v.toString();
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

/** What a record says of its prediction besides the tensors (the stored head). */
export interface RecordMeta {
  id: string;
  at: number;
  deployment: string;
  version: number;
  model: string;
  key: string;
  latencyMs: number;
}

export interface RecordSource extends RecordMeta {
  inputs: readonly Tensor[];
  outputs: readonly Tensor[];
}

/** A column of the first input as stored: its value in the values tensor, or its hash. */
export interface Column { name: string; kind: 'value' | 'hashed' }

/** A record as stored, before it is turned into rows of named cells; `inputs` are the ones after the first. */
export interface RecordParts extends RecordSource {
  columns: readonly Column[];
  rows: number;
  /** The value columns, in column order, [rows, n]. */
  values: Tensor | undefined;
  /** Per hashed column, in column order: one hash per row. */
  hashed: string[][];
}

/** Which columns of a `width`-wide first input are kept (not redacted), cached per capture spec. */
interface Layout { columns: Column[]; keep: Int32Array | null; runs: Int32Array | null }
const layouts = new WeakMap<CaptureSpec, { features: readonly FeatureSpec[] | undefined; byWidth: Map<number, Layout> }>();

/** The encoded column table of each cached layout's columns (writeParts copies it instead of writing each name). */
const heads = new WeakMap<readonly Column[], Buffer>();

function layoutOf(width: number, spec: CaptureSpec, features: readonly FeatureSpec[] | undefined): Layout {
  let cached = layouts.get(spec);
  if (!cached || cached.features !== features) layouts.set(spec, (cached = { features, byWidth: new Map() }));
  let l = cached.byWidth.get(width);
  if (!l) {
    const names = columnNames(width, features);
    const redact = new Set(spec.redact);
    const kept: number[] = [];
    for (let c = 0; c < width; c++) if (!redact.has(names[c]!)) kept.push(c);
    const columns = kept.map((c): Column => ({ name: names[c]!, kind: 'value' }));
    // The kept columns as [start, end) runs, so that writeSource copies a row in a few slices.
    const runs: number[] = [];
    for (const c of kept) {
      if (runs.length > 0 && runs[runs.length - 1] === c) runs[runs.length - 1] = c + 1;
      else runs.push(c, c + 1);
    }
    l = kept.length === width ? { columns, keep: null, runs: null } : { columns, keep: Int32Array.from(kept), runs: Int32Array.from(runs) };
    heads.set(columns, columnsBytes(columns));
    if (cached.byWidth.size < 64) cached.byWidth.set(width, l);
  }
  return l;
}

/** The first input's width (its last dimension; a rank-0 or rank-1 input is one row). */
function widthOf(t: Tensor): number {
  return t.shape.length >= 2 ? t.shape[t.shape.length - 1]! : t.data.length;
}

/**
 * The stored parts of a prediction, with redacted columns left out. Hashed columns are
 * still values here: `hashParts` replaces them (in the capture thread, off the event loop).
 */
export function partsOf(src: RecordSource, spec: CaptureSpec, features: readonly FeatureSpec[] | undefined): RecordParts {
  const [first, ...rest] = src.inputs;
  let columns: readonly Column[] = [];
  let rows = 0;
  let valuesTensor: Tensor | undefined;
  if (first) {
    const width = widthOf(first);
    const layout = layoutOf(width, spec, features);
    columns = layout.columns;
    rows = width > 0 ? Math.ceil(first.data.length / width) : 0;
    const n = layout.columns.length;
    if (n > 0 && rows > 0) {
      const data = layout.keep === null ? first.data : Array.isArray(first.data) ? pick(first.data, width, rows, layout.keep) : pickTyped(first.data, width, rows, layout.keep);
      valuesTensor = { name: first.name, datatype: first.datatype, shape: [rows, n], data };
    }
  }
  return { id: src.id, at: src.at, deployment: src.deployment, version: src.version, model: src.model, key: src.key, latencyMs: src.latencyMs, columns, rows, values: valuesTensor, hashed: [], inputs: rest, outputs: src.outputs };
}

type Typed = Exclude<TensorData, Buffer[]>;

/** The kept columns of every row of a typed array (an element loop: cheaper than slicing runs for rows this short). */
function pickTyped(d: Typed, width: number, rows: number, keep: Int32Array): Typed {
  const n = keep.length;
  const out = new (d.constructor as new (n: number) => Typed)(rows * n) as Float32Array;
  const src = d as Float32Array;
  for (let r = 0, to = 0; r < rows; r++) {
    const from = r * width;
    for (let c = 0; c < n; c++) out[to++] = src[from + keep[c]!]!;
  }
  return out;
}

/** The kept columns of every row, in a new array of the same kind. */
function pick(d: TensorData, width: number, rows: number, keep: Int32Array): TensorData {
  const n = keep.length;
  const out = Array.isArray(d) ? new Array<Buffer>(rows * n) : new (d.constructor as new (n: number) => Exclude<TensorData, Buffer[]>)(rows * n);
  for (let r = 0; r < rows; r++) {
    const from = r * width;
    const to = r * n;
    for (let c = 0; c < n; c++) (out as unknown as unknown[])[to + c] = (d as unknown as unknown[])[from + keep[c]!];
  }
  return out;
}

/** The parts with the value columns named in `spec.hash` replaced by their keyed hashes. */
export function hashParts(p: RecordParts, spec: CaptureSpec): RecordParts {
  const hash = new Set(spec.hash);
  if (hash.size === 0 || !p.columns.some((c) => c.kind === 'value' && hash.has(c.name))) return p;
  const valueCols = p.columns.filter((c) => c.kind === 'value');
  const width = valueCols.length;
  const keep: number[] = [];
  const hashedOut: string[][] = [];
  const columns: Column[] = [];
  let vi = 0;
  let hi = 0;
  for (const c of p.columns) {
    if (c.kind === 'hashed') {
      columns.push(c);
      hashedOut.push(p.hashed[hi++]!);
      continue;
    }
    const i = vi++;
    if (!hash.has(c.name)) {
      columns.push(c);
      keep.push(i);
      continue;
    }
    columns.push({ name: c.name, kind: 'hashed' });
    const list: string[] = new Array<string>(p.rows);
    for (let r = 0; r < p.rows; r++) list[r] = hmacOf(spec.hashKey ?? '', cell(p.values!.data[r * width + i]));
    hashedOut.push(list);
  }
  const values = keep.length > 0 && p.values ? { ...p.values, shape: [p.rows, keep.length], data: pick(p.values.data, width, p.rows, Int32Array.from(keep)) } : undefined;
  return { ...p, columns, values, hashed: hashedOut };
}

/** The record of one prediction, redacted and hashed as `spec` says. */
export function buildRecord(src: RecordSource, spec: CaptureSpec, features: readonly FeatureSpec[] | undefined): CaptureRecord {
  return recordOf(hashParts(partsOf(src, spec, features), spec));
}

/** The parts as rows of named cells. */
export function recordOf(p: RecordParts): CaptureRecord {
  const rows: Record<string, CellValue>[] = [];
  const width = p.columns.reduce((n, c) => n + (c.kind === 'value' ? 1 : 0), 0);
  for (let r = 0; r < p.rows; r++) {
    const row: Record<string, CellValue> = {};
    let vi = 0;
    let hi = 0;
    for (const c of p.columns) {
      row[c.name] = c.kind === 'value' ? cell(p.values!.data[r * width + vi++]) : p.hashed[hi++]![r]!;
    }
    rows.push(row);
  }
  const outputs: CaptureRecord['outputs'] = {};
  for (const o of p.outputs) outputs[o.name] = { shape: [...o.shape], data: values(o) };
  const record: CaptureRecord = {
    id: p.id, at: new Date(p.at).toISOString(), deployment: p.deployment, version: p.version, model: p.model,
    key: p.key, latencyMs: Math.round(p.latencyMs * 1000) / 1000, rows, outputs,
  };
  if (p.inputs.length > 0) record.inputs = Object.fromEntries(p.inputs.map((t) => [t.name, { shape: [...t.shape], data: values(t) }]));
  return record;
}

// ---- the stored form ----

const MAGIC = 0xac;
const FORMAT = 1;
const DATATYPE_CODE = new Map<Datatype, number>(DATATYPE_NAMES.map((d, i) => [d, i]));

const names = new Map<string, Buffer>();

/** Appends records to one growing buffer (the gateway writes a batch into one, then hands it over). */
export class ByteWriter {
  buf: Buffer;
  n = 0;

  constructor(size = 64 * 1024) {
    this.buf = Buffer.allocUnsafe(size);
  }

  ensure(k: number): void {
    if (this.n + k <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.n + k));
    this.buf.copy(next, 0, 0, this.n);
    this.buf = next;
  }

  u8(v: number): void { this.ensure(1); this.buf[this.n++] = v; }
  u16(v: number): void { this.ensure(2); this.buf.writeUInt16LE(v, this.n); this.n += 2; }
  u32(v: number): void { this.ensure(4); this.buf.writeUInt32LE(v, this.n); this.n += 4; }
  f64(v: number): void { this.ensure(8); this.buf.writeDoubleLE(v, this.n); this.n += 8; }

  str(s: string): void {
    this.ensure(2 + s.length * 3);
    const k = this.buf.write(s, this.n + 2, 'utf8');
    if (k > 0xffff) throw fail('ALOFT_INTERNAL', `a captured string is ${k} bytes; at most 65535`);
    this.buf.writeUInt16LE(k, this.n);
    this.n += 2 + k;
  }

  /** A short string that repeats across records (a deployment, model, key or tensor name), its bytes cached. */
  name(s: string): void {
    let b = names.get(s);
    if (b === undefined) {
      const w = new ByteWriter(2 + s.length * 3);
      w.str(s);
      b = Buffer.from(w.buf.subarray(0, w.n));
      if (names.size >= 4096) names.clear();
      if (s.length <= 256) names.set(s, b);
    }
    this.bytes(b);
  }

  bytes(b: Uint8Array): void {
    this.ensure(b.length);
    this.buf.set(b, this.n);
    this.n += b.length;
  }
}

function columnsBytes(columns: readonly Column[]): Buffer {
  const w = new ByteWriter(256);
  w.u16(columns.length);
  for (const c of columns) { w.u8(c.kind === 'value' ? 0 : 1); w.str(c.name); }
  return w.buf.subarray(0, w.n);
}

function writeTensor(w: ByteWriter, t: Tensor): void {
  w.u8(DATATYPE_CODE.get(t.datatype)!);
  w.name(t.name);
  w.u8(t.shape.length);
  for (const d of t.shape) w.u32(d);
  const b = tensorBytes(t);
  w.u32(b.length);
  w.bytes(b);
}

/** The fields every stored record starts with, up to its row count. */
function writeHead(w: ByteWriter, r: RecordMeta, rows: number): void {
  w.u8(MAGIC);
  w.u8(FORMAT);
  w.str(r.id);
  w.f64(r.at);
  w.name(r.deployment);
  w.u32(r.version);
  w.name(r.model);
  w.name(r.key);
  w.f64(r.latencyMs);
  w.u32(rows);
}

/** Append the stored form of `p` to `w`. */
export function writeParts(w: ByteWriter, p: RecordParts): void {
  writeHead(w, p, p.rows);
  if (p.columns.length > 0xffff) throw fail('ALOFT_INTERNAL', `a captured input has ${p.columns.length} columns; at most 65535`);
  const cached = heads.get(p.columns);
  if (cached) w.bytes(cached);
  else {
    w.u16(p.columns.length);
    for (const c of p.columns) { w.u8(c.kind === 'value' ? 0 : 1); w.str(c.name); }
  }
  w.u8(p.values ? 1 : 0);
  if (p.values) writeTensor(w, p.values);
  for (const list of p.hashed) for (const h of list) w.str(h);
  if (p.inputs.length > 255 || p.outputs.length > 255) throw fail('ALOFT_INTERNAL', 'a captured prediction has more than 255 inputs or outputs');
  w.u8(p.inputs.length);
  for (const t of p.inputs) writeTensor(w, t);
  w.u8(p.outputs.length);
  for (const t of p.outputs) writeTensor(w, t);
}

/**
 * Append the stored form of a prediction to `w`, redacted, hashed columns still values: the
 * same bytes as writeParts(w, partsOf(src, spec, features)), written straight from the
 * tensors (the gateway's step, per sampled answer, so no intermediate objects).
 */
export function writeSource(w: ByteWriter, src: RecordSource, spec: CaptureSpec, features: readonly FeatureSpec[] | undefined): void {
  const first = src.inputs.length > 0 ? src.inputs[0]! : undefined;
  const width = first ? widthOf(first) : 0;
  const layout = first ? layoutOf(width, spec, features) : undefined;
  const rows = first && width > 0 ? Math.ceil(first.data.length / width) : 0;
  writeHead(w, src, rows);
  if (layout === undefined) w.u16(0);
  else w.bytes(heads.get(layout.columns)!);
  const n = layout?.columns.length ?? 0;
  const d = first?.data;
  if (first === undefined || d === undefined || layout === undefined || n === 0 || rows === 0) w.u8(0);
  else if (layout.runs === null || Array.isArray(d)) {
    w.u8(1);
    writeTensor(w, { name: first.name, datatype: first.datatype, shape: [rows, n], data: layout.keep === null ? d : pick(d, width, rows, layout.keep) });
  } else {
    w.u8(1);
    const bpe = d.BYTES_PER_ELEMENT;
    w.u8(DATATYPE_CODE.get(first.datatype)!);
    w.name(first.name);
    w.u8(2);
    w.u32(rows);
    w.u32(n);
    w.u32(rows * n * bpe);
    const runs = layout.runs;
    for (let r = 0; r < rows; r++) {
      const at = d.byteOffset + r * width * bpe;
      for (let i = 0; i < runs.length; i += 2) w.bytes(new Uint8Array(d.buffer, at + runs[i]! * bpe, (runs[i + 1]! - runs[i]!) * bpe));
    }
  }
  const inputs = Math.max(0, src.inputs.length - 1);
  if (inputs > 255 || src.outputs.length > 255) throw fail('ALOFT_INTERNAL', 'a captured prediction has more than 255 inputs or outputs');
  w.u8(inputs);
  for (let i = 1; i < src.inputs.length; i++) writeTensor(w, src.inputs[i]!);
  w.u8(src.outputs.length);
  for (const t of src.outputs) writeTensor(w, t);
}

/** The stored form of `p` as its own buffer. */
export function encodeParts(p: RecordParts): Buffer {
  const w = new ByteWriter(512);
  writeParts(w, p);
  return Buffer.from(w.buf.subarray(0, w.n));
}

const STORED: CodecContext = { role: 'output', malformed: 'ALOFT_INTERNAL', invalid: 'ALOFT_INTERNAL', unsupported: 'ALOFT_INTERNAL', lenient: true };

class ByteReader {
  p = 0;
  constructor(readonly b: Buffer) {}
  need(k: number): void {
    if (this.p + k > this.b.length) throw fail('ALOFT_INTERNAL', `a stored capture record is cut off at byte ${this.p} of ${this.b.length}`);
  }
  u8(): number { this.need(1); return this.b[this.p++]!; }
  u16(): number { this.need(2); const v = this.b.readUInt16LE(this.p); this.p += 2; return v; }
  u32(): number { this.need(4); const v = this.b.readUInt32LE(this.p); this.p += 4; return v; }
  f64(): number { this.need(8); const v = this.b.readDoubleLE(this.p); this.p += 8; return v; }
  str(): string { const k = this.u16(); this.need(k); const s = this.b.toString('utf8', this.p, this.p + k); this.p += k; return s; }
  tensor(): Tensor {
    const dt = DATATYPE_NAMES[this.u8()];
    if (dt === undefined) throw fail('ALOFT_INTERNAL', 'a stored capture record has an unknown datatype');
    const name = this.str();
    const rank = this.u8();
    const shape: number[] = [];
    for (let i = 0; i < rank; i++) shape.push(this.u32());
    const size = this.u32();
    this.need(size);
    // A copy, aligned: the record's buffer is not.
    const bytes = Buffer.from(this.b.subarray(this.p, this.p + size));
    this.p += size;
    return { name, datatype: dt, shape, data: decodeBinaryData(STORED, name, dt, shape, elementCount(shape), bytes) };
  }
}

/** The first fields of a stored record: what a sink keeps in the clear. */
export function readHead(b: Buffer): { id: string; at: number; deployment: string; version: number } {
  const r = new ByteReader(b);
  if (r.u8() !== MAGIC || r.u8() !== FORMAT) throw fail('ALOFT_INTERNAL', 'not a stored capture record');
  const id = r.str();
  const at = r.f64();
  const deployment = r.str();
  return { id, at, deployment, version: r.u32() };
}

/** The stored form with the columns `spec.hash` names hashed (the capture thread's step before sealing); `b` itself when there are none. */
export function hashStored(b: Buffer, spec: CaptureSpec): Buffer {
  if (spec.hash.length === 0) return b;
  const p = decodeParts(b);
  const h = hashParts(p, spec);
  return h === p ? b : encodeParts(h);
}

export function decodeParts(b: Buffer): RecordParts {
  const r = new ByteReader(b);
  if (r.u8() !== MAGIC || r.u8() !== FORMAT) throw fail('ALOFT_INTERNAL', 'not a stored capture record');
  const id = r.str();
  const at = r.f64();
  const deployment = r.str();
  const version = r.u32();
  const model = r.str();
  const key = r.str();
  const latencyMs = r.f64();
  const rows = r.u32();
  const columns: Column[] = [];
  const nc = r.u16();
  for (let i = 0; i < nc; i++) {
    const kind = r.u8() === 0 ? 'value' : 'hashed';
    columns.push({ name: r.str(), kind });
  }
  const values = r.u8() === 1 ? r.tensor() : undefined;
  const hashed: string[][] = [];
  for (const c of columns) {
    if (c.kind !== 'hashed') continue;
    const list: string[] = [];
    for (let i = 0; i < rows; i++) list.push(r.str());
    hashed.push(list);
  }
  const inputs: Tensor[] = [];
  for (let i = r.u8(); i > 0; i--) inputs.push(r.tensor());
  const outputs: Tensor[] = [];
  for (let i = r.u8(); i > 0; i--) outputs.push(r.tensor());
  return { id, at, deployment, version, model, key, latencyMs, columns, rows, values, hashed, inputs, outputs };
}

/** A decrypted record as export prints it: the stored form, or the JSON of records written before it. */
export function readRecord(plain: Buffer): CaptureRecord {
  if (plain[0] === 0x7b) return JSON.parse(plain.toString('utf8')) as CaptureRecord;
  return recordOf(decodeParts(plain));
}
