/**
 * Tensor elements in JSON: `data` arrays (flat or nested) → typed arrays, and typed
 * arrays → the text of a flat `data` array.
 *
 * Element rules (requests):
 * - FP32/FP64: finite JSON numbers (FP32 also within its range); NaN/Infinity cannot be
 *   written in JSON and `null` is rejected — send such values as binary.
 * - Integer types: integers within the type's range.
 * - INT64/UINT64: JSON numbers up to ±(2^53-1) (JSON.parse reads numbers as doubles, so
 *   larger numbers would silently lose precision and are rejected), or decimal strings
 *   ("-9223372036854775808") for the full 64-bit range. Binary data has no such limit.
 * - BOOL: true/false; 0 and 1 are accepted too (numpy-based clients often send them).
 * - BYTES: strings, stored as their UTF-8 bytes.
 * - FP16/BF16: not accepted in JSON (as Triton): send them as binary.
 */
import { fail } from '../../errors.js';
import { DATATYPES, type Datatype, type TensorData } from '../datatypes.js';
import type { Tensor } from '../tensor.js';
import { describe, shapeText, type CodecContext } from './fields.js';
import { bf16FromNumber, fp16FromNumber, numberFromBf16, numberFromFp16 } from './float16.js';

/** Smallest magnitude that rounds to Infinity in FP32 (2^128 - 2^103). */
const FP32_OVERFLOW = 2 ** 128 - 2 ** 103;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const UINT64_MAX = 2n ** 64n - 1n;
const DECIMAL = /^-?[0-9]{1,20}$/;

const INT_RANGE: Partial<Record<Datatype, [number, number]>> = {
  INT8: [-128, 127], INT16: [-32768, 32767], INT32: [-2147483648, 2147483647],
  UINT8: [0, 255], UINT16: [0, 65535], UINT32: [0, 4294967295],
};

function expectation(dt: Datatype): string {
  switch (dt) {
    case 'FP32': return 'finite numbers within the FP32 range (NaN and Infinity cannot be sent in JSON; send them as binary)';
    case 'FP64': return 'finite numbers (NaN and Infinity cannot be sent in JSON; send them as binary)';
    case 'FP16': case 'BF16': return 'numbers';
    case 'INT64': return 'integers within ±(2^53-1) as JSON numbers, or decimal strings for the full INT64 range';
    case 'UINT64': return 'integers from 0 to 2^53-1 as JSON numbers, or decimal strings up to 2^64-1';
    case 'BOOL': return 'true or false (0 and 1 are accepted)';
    case 'BYTES': return 'strings';
    default: {
      const r = INT_RANGE[dt]!;
      return `integers from ${r[0]} to ${r[1]}`;
    }
  }
}

function badElement(ctx: CodecContext, name: string, dt: Datatype, index: number, v: unknown): Error {
  const what = Array.isArray(v) ? 'an array (data must be flat, or nested exactly as the shape)' : describe(v);
  return fail(ctx.invalid, `${ctx.role} '${name}': element ${index} is ${what}; ${dt} elements must be ${expectation(dt)}`);
}

function toBigInt(ctx: CodecContext, v: unknown, unsigned: boolean): bigint | undefined {
  if (typeof v === 'number') {
    // The response side accepts any integral number (precision beyond 2^53 is already gone).
    if (ctx.lenient ? !Number.isInteger(v) : !Number.isSafeInteger(v)) return undefined;
    if (unsigned && v < 0) return undefined;
    const b = BigInt(v);
    return unsigned ? (b <= UINT64_MAX ? b : undefined) : (b >= INT64_MIN && b <= INT64_MAX ? b : undefined);
  }
  if (typeof v === 'string' && DECIMAL.test(v)) {
    const b = BigInt(v);
    if (unsigned) return b >= 0n && b <= UINT64_MAX ? b : undefined;
    return b >= INT64_MIN && b <= INT64_MAX ? b : undefined;
  }
  return undefined;
}

/**
 * Decode `src` (a flat run of scalar JSON values) into `out` starting at `offset`.
 * One loop per datatype, no per-element closures.
 */
function fill(ctx: CodecContext, name: string, dt: Datatype, src: readonly unknown[], out: TensorData, offset: number): void {
  const n = src.length;
  switch (dt) {
    case 'FP32':
    case 'FP64': {
      const o = out as Float32Array | Float64Array;
      const lim = dt === 'FP32' ? FP32_OVERFLOW : Infinity;
      for (let j = 0; j < n; j++) {
        const v = src[j];
        if (typeof v === 'number' && v < lim && v > -lim) o[offset + j] = v;
        else if (ctx.lenient && (v === null || typeof v === 'number')) o[offset + j] = v === null ? NaN : v;
        else throw badElement(ctx, name, dt, offset + j, v);
      }
      return;
    }
    case 'FP16':
    case 'BF16': {
      const o = out as Uint16Array;
      const conv = dt === 'FP16' ? fp16FromNumber : bf16FromNumber;
      for (let j = 0; j < n; j++) {
        const v = src[j];
        if (typeof v === 'number') o[offset + j] = conv(v);
        else if (v === null) o[offset + j] = conv(NaN);
        else throw badElement(ctx, name, dt, offset + j, v);
      }
      return;
    }
    case 'INT64':
    case 'UINT64': {
      const o = out as BigInt64Array | BigUint64Array;
      const unsigned = dt === 'UINT64';
      for (let j = 0; j < n; j++) {
        const b = toBigInt(ctx, src[j], unsigned);
        if (b === undefined) throw badElement(ctx, name, dt, offset + j, src[j]);
        o[offset + j] = b;
      }
      return;
    }
    case 'BOOL': {
      const o = out as Uint8Array;
      for (let j = 0; j < n; j++) {
        const v = src[j];
        if (v === true || v === 1) o[offset + j] = 1;
        else if (v === false || v === 0) o[offset + j] = 0;
        else throw badElement(ctx, name, dt, offset + j, v);
      }
      return;
    }
    case 'BYTES': {
      const o = out as Buffer[];
      for (let j = 0; j < n; j++) {
        const v = src[j];
        if (typeof v !== 'string') throw badElement(ctx, name, dt, offset + j, v);
        o[offset + j] = Buffer.from(v, 'utf8');
      }
      return;
    }
    default: {
      const o = out as Int8Array | Int16Array | Int32Array | Uint8Array | Uint16Array | Uint32Array;
      const [min, max] = INT_RANGE[dt]!;
      for (let j = 0; j < n; j++) {
        const v = src[j];
        if (typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max) o[offset + j] = v;
        else throw badElement(ctx, name, dt, offset + j, v);
      }
    }
  }
}

function allocate(dt: Datatype, count: number): TensorData {
  const ctor = DATATYPES[dt].array;
  return ctor === null ? new Array<Buffer>(count) : new ctor(count);
}

/**
 * Decode the JSON `data` of a tensor. `data` may be flat (`[1,2,3,4]`) or nested exactly
 * as the shape (`[[1,2],[3,4]]` for shape [2,2]); nesting is walked iteratively and never
 * deeper than the shape's rank. A rank-0 tensor may also give its element bare (`"data": 5`).
 *
 * @param textLength length of the JSON text the data came from: an upper bound on the
 *   element count, checked before allocating so a huge shape cannot force a huge allocation.
 */
export function decodeJsonData(
  ctx: CodecContext, name: string, dt: Datatype, shape: readonly number[], count: number, data: unknown, textLength: number,
): TensorData {
  if (DATATYPES[dt].json === 'none' && !ctx.lenient) {
    throw fail(ctx.unsupported, `${ctx.role} '${name}' has datatype ${dt}, which cannot be sent as JSON; send ${dt} as binary data (parameters.binary_data_size with the Inference-Header-Content-Length header)`);
  }
  if (!Array.isArray(data)) {
    if (shape.length === 0 && data !== null && typeof data !== 'object') {
      const out = allocate(dt, 1);
      fill(ctx, name, dt, [data], out, 0);
      return out;
    }
    throw fail(ctx.malformed, `${ctx.role} '${name}': 'data' must be an array, got ${describe(data)}`);
  }
  const top = data as unknown[];
  const countMismatch = (got: string): Error =>
    fail(ctx.invalid, `${ctx.role} '${name}' has ${got} in 'data'; shape ${shapeText(shape)} needs ${count}`);
  if (top.length === 0 || !Array.isArray(top[0])) {
    if (top.length !== count) throw countMismatch(`${top.length} elements`);
    const out = allocate(dt, count);
    fill(ctx, name, dt, top, out, 0);
    return out;
  }

  // Nested: every level must be an array of exactly shape[depth] items, leaves at the last level.
  const rank = shape.length;
  const nestError = (path: readonly number[], v: unknown): Error => {
    const depth = path.length;
    const expected = depth < rank ? `an array of ${shape[depth]} items` : 'a scalar';
    const got = Array.isArray(v) ? `an array of ${(v as unknown[]).length} items` : describe(v);
    return fail(ctx.invalid, `${ctx.role} '${name}': 'data' is nested but does not match shape ${shapeText(shape)}: at data[${path.join('][')}] expected ${expected}, got ${got}`);
  };
  if (rank < 2) throw nestError([0], top[0]);
  if (top.length !== shape[0]) {
    throw fail(ctx.invalid, `${ctx.role} '${name}': 'data' is nested but its outer array has ${top.length} items; shape ${shapeText(shape)} needs ${shape[0]}`);
  }
  if (count > textLength) {
    throw fail(ctx.invalid, `${ctx.role} '${name}': shape ${shapeText(shape)} has ${count} elements, more than its 'data' can hold`);
  }
  const out = allocate(dt, count);
  const arrays: unknown[][] = new Array<unknown[]>(rank);
  const index: number[] = new Array<number>(rank).fill(0);
  arrays[0] = top;
  let depth = 0;
  let offset = 0;
  const leaf = rank - 1;
  while (depth >= 0) {
    const a = arrays[depth]!;
    if (depth === leaf) {
      for (let j = 0; j < a.length; j++) {
        if (Array.isArray(a[j])) throw nestError([...index.slice(0, depth).map((i) => i - 1), j], a[j]);
      }
      fill(ctx, name, dt, a, out, offset);
      offset += a.length;
      depth--;
      continue;
    }
    const i = index[depth]!;
    if (i === a.length) { depth--; continue; }
    index[depth] = i + 1;
    const child = a[i];
    if (!Array.isArray(child) || child.length !== shape[depth + 1]) {
      throw nestError([...index.slice(0, depth).map((k) => k - 1), i], child);
    }
    arrays[depth + 1] = child as unknown[];
    index[depth + 1] = 0;
    depth++;
  }
  return out;
}

/** Append the JSON text of numeric elements: join() when all are finite, else a loop writing null. */
function floatsText(a: Float32Array | Float64Array | number[]): string {
  let finite = true;
  for (let i = 0; i < a.length; i++) {
    const v = a[i]!;
    if (!(v < Infinity && v > -Infinity)) { finite = false; break; }
  }
  if (finite) return `[${a.join(',')}]`;
  let s = '[';
  for (let i = 0; i < a.length; i++) {
    const v = a[i]!;
    if (i > 0) s += ',';
    s += v < Infinity && v > -Infinity ? String(v) : 'null';
  }
  return s + ']';
}

/**
 * The JSON text of a tensor's elements as a flat array. Floats that JSON cannot carry
 * (NaN, ±Infinity) become `null` (as MLServer does); INT64/UINT64 are written as exact
 * decimal numbers (a client parsing them as doubles loses precision beyond 2^53); BOOL as
 * true/false; BYTES as UTF-8 strings (invalid UTF-8 becomes U+FFFD: use binary for raw
 * bytes); FP16/BF16 as the numbers they encode.
 */
export function jsonDataText(t: Tensor): string {
  const d = t.data;
  switch (t.datatype) {
    case 'FP32':
    case 'FP64':
      return floatsText(d as Float32Array | Float64Array);
    case 'FP16':
    case 'BF16': {
      const h = d as Uint16Array;
      const conv = t.datatype === 'FP16' ? numberFromFp16 : numberFromBf16;
      const nums = new Array<number>(h.length);
      for (let i = 0; i < h.length; i++) nums[i] = conv(h[i]!);
      return floatsText(nums);
    }
    case 'BOOL': {
      const b = d as Uint8Array;
      let s = '[';
      for (let i = 0; i < b.length; i++) s += (i > 0 ? ',' : '') + (b[i] !== 0 ? 'true' : 'false');
      return s + ']';
    }
    case 'BYTES': {
      const b = d as Buffer[];
      let s = '[';
      for (let i = 0; i < b.length; i++) s += (i > 0 ? ',' : '') + JSON.stringify(b[i]!.toString('utf8'));
      return s + ']';
    }
    default:
      return `[${(d as Int32Array).join(',')}]`;
  }
}

/**
 * Like jsonDataText, but INT64/UINT64 values beyond ±(2^53-1) are written as decimal
 * strings, so that a JSON.parse-based reader (our request decoder) gets them exactly.
 */
export function jsonDataTextExact(t: Tensor): string {
  if (t.datatype !== 'INT64' && t.datatype !== 'UINT64') return jsonDataText(t);
  const d = t.data as BigInt64Array | BigUint64Array;
  const max = BigInt(Number.MAX_SAFE_INTEGER);
  let s = '[';
  for (let i = 0; i < d.length; i++) {
    const v = d[i]!;
    if (i > 0) s += ',';
    s += v > max || v < -max ? `"${v}"` : String(v);
  }
  return s + ']';
}
