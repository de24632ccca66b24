/**
 * The fast path for JSON tensor data. `JSON.parse` turns every element of `data` into a
 * JS number in a JS array (about 95 µs for one 784-float MNIST row, 29% of the gateway's
 * CPU under load); here the numbers go from the bytes straight into the typed array.
 *
 * 1. `extractDataArrays` finds each flat `"data": [numbers]` array in the JSON text by
 *    jumping between quotes and brackets with native `indexOf` (it never walks the
 *    numbers in JS), and replaces it with a placeholder string, so `JSON.parse` only sees
 *    the small rest of the request.
 * 2. Once the input's datatype is known, `parseDataRange` parses that byte range into the
 *    typed array. FP32 written plainly (`-?digits(.digits)?` and single commas, what client
 *    libraries send) goes through one tight loop; anything else through the general one.
 *
 * Anything unusual returns `undefined` and the caller takes the ordinary path, which gives
 * the exact error messages: nested data, booleans, strings, 64-bit integers, malformed or
 * out-of-range numbers, a count that does not match the shape.
 *
 * Precision: the result equals `JSON.parse` then the typed array's conversion, bit for
 * bit. Up to 15 significant digits the computation is exact (Clinger's fast path). For
 * FP32 with 16–19 digits a shorter computation lands within a few double ulps, which the
 * rounding to float32 absorbs unless the value sits near a float32 rounding midpoint; those
 * (about 1 in 10,000) are parsed exactly. A test compares a million random numbers.
 */
import type { Datatype, TensorData } from '../datatypes.js';

/** Placeholder prefix; a body that contains it anywhere is not fast-pathed. */
const MARK = 'aloft-fast-data:';
const MARK_BYTES = Buffer.from(MARK);

export interface ExtractedJson {
  /** The JSON text with each extracted array replaced by `"<MARK><index>"`. */
  text: string;
  /** Byte ranges [start, end) of each extracted array's contents, by index. */
  ranges: number[];
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN = 0x5b;
const CLOSE = 0x5d;

function isSpace(c: number | undefined): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

/** Arrays below this many bytes are not worth a placeholder. */
const MIN_BYTES = 64;

/**
 * Find flat `"data": [...]` arrays in `body[0, jsonLength)`. Returns undefined when there
 * is nothing worth extracting (or the body mentions the placeholder).
 */
export function extractDataArrays(body: Buffer, jsonLength: number): ExtractedJson | undefined {
  if (jsonLength < MIN_BYTES) return undefined;
  const limit = jsonLength;
  if (body.indexOf(MARK_BYTES, 0) !== -1 && body.indexOf(MARK_BYTES, 0) < limit) return undefined;
  const ranges: number[] = [];
  const pieces: string[] = [];
  let copied = 0;
  let pos = 0;
  for (;;) {
    const q = body.indexOf(QUOTE, pos);
    if (q === -1 || q >= limit) break;
    // Find the closing quote, skipping escaped ones.
    let e = q + 1;
    for (;;) {
      e = body.indexOf(QUOTE, e);
      if (e === -1 || e >= limit) return undefined; // unterminated string: invalid JSON, the ordinary path reports it
      let backslashes = 0;
      for (let k = e - 1; k > q && body[k] === BACKSLASH; k--) backslashes++;
      if (backslashes % 2 === 0) break;
      e++;
    }
    pos = e + 1;
    // Is this the key "data" followed by ':' and '['?
    if (e - q !== 5 || body[q + 1] !== 0x64 || body[q + 2] !== 0x61 || body[q + 3] !== 0x74 || body[q + 4] !== 0x61) continue;
    let k = pos;
    while (k < limit && isSpace(body[k])) k++;
    if (body[k] !== 0x3a) continue;
    k++;
    while (k < limit && isSpace(body[k])) k++;
    if (body[k] !== OPEN) continue;
    const start = k + 1;
    const end = body.indexOf(CLOSE, start);
    if (end === -1 || end >= limit) return undefined;
    // Flat arrays of numbers only: no nested array, string or object inside.
    const nested = body.indexOf(OPEN, start);
    if ((nested !== -1 && nested < end) || end - start < MIN_BYTES) { pos = end + 1; continue; }
    const quote = body.indexOf(QUOTE, start);
    if (quote !== -1 && quote < end) { pos = end + 1; continue; }
    pieces.push(body.toString('utf8', copied, k), `"${MARK}${ranges.length / 2}"`);
    ranges.push(start, end);
    copied = end + 1;
    pos = end + 1;
  }
  if (ranges.length === 0) return undefined;
  pieces.push(body.toString('utf8', copied, limit));
  return { text: pieces.join(''), ranges };
}

/** The extracted-array index a placeholder stands for, or -1. */
export function placeholderIndex(v: unknown): number {
  if (typeof v !== 'string' || !v.startsWith(MARK)) return -1;
  const n = Number(v.slice(MARK.length));
  return Number.isInteger(n) && n >= 0 ? n : -1;
}

const POW10 = Array.from({ length: 23 }, (_, i) => 10 ** i);

/**
 * True when `v`, a double within about 1e-15 (relative) of the exact decimal, rounds to the
 * same float32 as that decimal does through JSON.parse: rounding is monotonic, so when both
 * ends of a 4e-15 interval around `v` round alike, so does everything between them.
 * Otherwise `v` sits at a float32 rounding midpoint and the exact parse decides.
 */
function float32Settled(v: number): boolean {
  return Math.fround(v * (1 + 4e-15)) === Math.fround(v * (1 - 4e-15));
}

/**
 * The common case of FP32 data in one tight loop: numbers written `-?digits(.digits)?`,
 * separated by single commas, exactly `out.length` of them. Anything else (spaces,
 * exponents, invalid syntax, the wrong count) returns false and parseDataRange's general
 * loop decides. Without an exponent every value is below 1e19, inside float32's range.
 */
function parsePlainFloat32(b: Buffer, start: number, end: number, out: Float32Array): boolean {
  const count = out.length;
  let n = 0;
  let i = start;
  for (;;) {
    if (n === count || i >= end) return false;
    const numStart = i;
    let c = b[i]!;
    let neg = false;
    if (c === 0x2d) { neg = true; c = b[++i]!; }
    const intStart = i;
    let m = 0;
    while (c >= 0x30 && c <= 0x39) { m = m * 10 + (c - 0x30); c = b[++i]!; }
    let digits = i - intStart;
    if (digits === 0 || (digits > 1 && b[intStart] === 0x30)) return false;
    let v: number;
    if (c === 0x2e) {
      const fracStart = ++i;
      c = b[i]!;
      while (c >= 0x30 && c <= 0x39) { m = m * 10 + (c - 0x30); c = b[++i]!; }
      const f = i - fracStart;
      if (f === 0) return false;
      digits += f;
      if (digits <= 15) v = m / POW10[f]!; // exact: Clinger's fast path
      else if (digits <= 19 && f <= 22) {
        v = m / POW10[f]!;
        if (!float32Settled(v)) v = Math.abs(Number(b.toString('latin1', numStart, i)));
      } else return false;
    } else {
      if (digits > 15) return false;
      v = m;
    }
    out[n++] = neg ? -v : v;
    if (i >= end) return n === count;
    if (c !== 0x2c) return false;
    i++;
  }
}

/** Largest finite float32; beyond it the ordinary path reports the value as out of range. */
const FLOAT32_MAX = 3.4028234663852886e38;

type Kind = 'f32' | 'f64' | 'int';
const INT_RANGE: Partial<Record<Datatype, [number, number]>> = {
  INT8: [-128, 127], INT16: [-32768, 32767], INT32: [-2147483648, 2147483647],
  UINT8: [0, 255], UINT16: [0, 65535], UINT32: [0, 4294967295],
};

/**
 * Parse the numbers in `body[start, end)` (the inside of a flat JSON array) into a new
 * typed array of `datatype` with exactly `count` elements, or undefined to fall back.
 */
/** Reused parse buffer: one element kind, so the hot store stays monomorphic. */
let scratch = new Float64Array(1024);

const CTORS = {
  FP32: Float32Array, FP64: Float64Array, INT8: Int8Array, INT16: Int16Array, INT32: Int32Array,
  UINT8: Uint8Array, UINT16: Uint16Array, UINT32: Uint32Array,
} as const;

export function parseDataRange(body: Buffer, start: number, end: number, datatype: Datatype, count: number): TensorData | undefined {
  if (datatype === 'FP32' && count > 0) {
    const out = new Float32Array(count);
    if (parsePlainFloat32(body, start, end, out)) return out;
  }
  const Ctor = (CTORS as Partial<Record<Datatype, (typeof CTORS)[keyof typeof CTORS]>>)[datatype];
  if (Ctor === undefined) return undefined;
  const kind: Kind = datatype === 'FP32' ? 'f32' : datatype === 'FP64' ? 'f64' : 'int';
  const [lo, hi] = kind === 'int' ? INT_RANGE[datatype]! : [0, 0];
  if (scratch.length < count) scratch = new Float64Array(Math.max(count, scratch.length * 2));
  const out = scratch;
  let n = 0;
  let i = start;
  let expectValue = true;
  while (i < end) {
    let c = body[i]!;
    if (isSpace(c)) { i++; continue; }
    if (c === 0x2c) {
      if (expectValue) return undefined;
      expectValue = true;
      i++;
      continue;
    }
    if (!expectValue || n === count) return undefined;
    // A bare 0 (most of a sparse input, e.g. an image's background): no number parsing.
    if (c === 0x30) {
      const d = body[i + 1];
      if (i + 1 >= end || d === 0x2c || isSpace(d)) {
        out[n++] = 0;
        i++;
        if (i < end && body[i] === 0x2c) i++;
        else expectValue = false;
        continue;
      }
    }
    const s = i;
    let neg = false;
    if (c === 0x2d) { neg = true; c = body[++i]!; }
    if (c === 0x30 && body[i + 1]! >= 0x30 && body[i + 1]! <= 0x39) return undefined; // leading zero: invalid JSON
    let mant = 0;
    let digits = 0;
    let exp = 0;
    while (c >= 0x30 && c <= 0x39) { mant = mant * 10 + (c - 0x30); digits++; c = body[++i]!; }
    if (digits === 0) return undefined;
    if (c === 0x2e) {
      c = body[++i]!;
      let f = 0;
      while (c >= 0x30 && c <= 0x39) { mant = mant * 10 + (c - 0x30); digits++; f++; c = body[++i]!; }
      if (f === 0) return undefined;
      exp -= f;
    }
    if (c === 0x65 || c === 0x45) {
      c = body[++i]!;
      let eneg = false;
      if (c === 0x2d || c === 0x2b) { eneg = c === 0x2d; c = body[++i]!; }
      let e = 0;
      let ed = 0;
      while (c >= 0x30 && c <= 0x39 && ed < 6) { e = e * 10 + (c - 0x30); ed++; c = body[++i]!; }
      if (ed === 0 || (c >= 0x30 && c <= 0x39)) return undefined;
      exp += eneg ? -e : e;
    }
    if (i < end && !isSpace(c) && c !== 0x2c) return undefined;
    let v: number;
    if (kind === 'int') {
      if (exp !== 0 || digits > 15) return undefined; // decimals, exponents and huge values: the ordinary path decides
      v = neg ? -mant : mant;
      if (v < lo || v > hi) return undefined;
    } else if (exp >= -22 && exp <= 22 && digits <= 15) {
      // Exact (Clinger's fast path: both operands exact doubles, one correctly rounded operation).
      v = exp < 0 ? mant / POW10[-exp]! : mant * POW10[exp]!;
      if (neg) v = -v;
    } else if (kind === 'f32' && exp >= -22 && exp <= 22 && digits <= 19) {
      // Close but not exact in double; exact after rounding to float32 unless the value sits
      // near a float32 rounding midpoint, where the exact parse decides.
      v = exp < 0 ? mant / POW10[-exp]! : mant * POW10[exp]!;
      if (neg) v = -v;
      if (!float32Settled(v)) v = Number(body.toString('latin1', s, i));
    } else {
      v = Number(body.toString('latin1', s, i));
      if (!Number.isFinite(v) || (kind === 'f32' && !Number.isFinite(Math.fround(v)))) return undefined;
    }
    if (kind === 'f32' && (v > FLOAT32_MAX || v < -FLOAT32_MAX)) return undefined;
    out[n++] = v;
    // The separator that follows, in the same step.
    if (i < end && c === 0x2c) i++;
    else expectValue = false;
  }
  if (n !== count || (expectValue && n > 0)) return undefined;
  // One native conversion into the tensor's type (exact: every value is in range).
  const result = new Ctor(count);
  result.set(out.subarray(0, count));
  return result;
}
