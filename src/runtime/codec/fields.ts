/**
 * Parsing the JSON part of OIP messages: the header text, shapes, parameters. Shared by
 * the request decoder (errors are the client's: 400) and the response decoder (errors
 * are the replica's: 500), so every helper takes the error codes to use.
 */
import { fail, type ErrorCode } from '../../errors.js';
import { DATATYPE_NAMES, isDatatype, type Datatype } from '../datatypes.js';
import type { Parameters } from './types.js';
import { locateJsonError } from './json-error.js';

/** Which error codes a decoder raises, and whether its tensors are inputs or outputs. */
export interface CodecContext {
  role: 'input' | 'output';
  /** Malformed message: bad JSON, wrong field types, framing. */
  malformed: ErrorCode;
  /** Well-formed but wrong tensor content: element count, element values. */
  invalid: ErrorCode;
  /** Unknown datatype, or one that cannot travel in this encoding. */
  unsupported: ErrorCode;
  /** Response side: accept `null` as NaN and FP16/BF16 as JSON numbers (what our encoder writes). */
  lenient: boolean;
}

export const REQUEST_CONTEXT: CodecContext = {
  role: 'input',
  malformed: 'ALOFT_BAD_REQUEST',
  invalid: 'ALOFT_INVALID_INPUT',
  unsupported: 'ALOFT_UNSUPPORTED_DATATYPE',
  lenient: false,
};

export const RESPONSE_CONTEXT: CodecContext = {
  role: 'output',
  malformed: 'ALOFT_REPLICA_FAILED',
  invalid: 'ALOFT_REPLICA_FAILED',
  unsupported: 'ALOFT_REPLICA_FAILED',
  lenient: true,
};

/** A short, safe rendering of a JSON value for error messages. */
export function describe(v: unknown): string {
  if (v === null) return 'null';
  if (v === undefined) return 'missing';
  if (Array.isArray(v)) return 'an array';
  switch (typeof v) {
    case 'string': return v.length > 40 ? `the string ${JSON.stringify(v.slice(0, 40))}…` : `the string ${JSON.stringify(v)}`;
    case 'number': return String(v);
    case 'boolean': return String(v);
    case 'object': return 'an object';
    default: return typeof v;
  }
}

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** `text` of a shape for messages: `[2, 16]`. */
export function shapeText(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

/**
 * Parse the JSON header of a message: the whole body, or its first `headerLength` bytes.
 * `what` names the message in errors ("request body", "response body").
 */
export function parseJsonHeader(body: Buffer, headerLength: number | undefined, ctx: CodecContext, what: string): { json: unknown; jsonLength: number } {
  let jsonLength = body.length;
  if (headerLength !== undefined) {
    if (!Number.isSafeInteger(headerLength) || headerLength < 0 || headerLength > body.length) {
      throw fail(
        ctx.malformed,
        `Inference-Header-Content-Length is ${String(headerLength)}; it must be an integer from 0 to the body length (${body.length} bytes)`,
      );
    }
    jsonLength = headerLength;
  }
  if (jsonLength === 0) {
    throw fail(ctx.malformed, `${what} is empty; send a JSON inference ${ctx.role === 'input' ? 'request' : 'response'}`);
  }
  const text = body.toString('utf8', 0, jsonLength);
  try {
    return { json: JSON.parse(text) as unknown, jsonLength };
  } catch (e) {
    const where = locateJsonError(text);
    const reason = where ? `${where.reason} at position ${where.position}` : (e instanceof Error ? e.message : String(e));
    const hint = headerLength !== undefined
      ? ` (the JSON part is the first ${jsonLength} bytes, per Inference-Header-Content-Length)`
      : where && hasControlBytes(text, where.position)
        ? '; if binary tensor data follows the JSON, send the Inference-Header-Content-Length header with the JSON length'
        : '';
    throw fail(ctx.malformed, `${what} is not valid JSON: ${reason}${hint}`, { cause: e });
  }
}

/** Binary tensor bytes after the JSON show up as control characters. */
function hasControlBytes(text: string, from: number): boolean {
  const end = Math.min(text.length, from + 64);
  for (let i = from; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) return true;
  }
  return false;
}

/**
 * Validate a shape: an array of non-negative safe integers whose product fits in a safe
 * integer. Returns the element count.
 */
export function parseShape(v: unknown, where: string, ctx: CodecContext): { shape: number[]; count: number } {
  if (!Array.isArray(v)) {
    throw fail(ctx.malformed, `${where}: 'shape' must be an array of non-negative integers, got ${describe(v)}`);
  }
  const shape = v as unknown[];
  let count = 1;
  let zero = false;
  let overflow = false;
  for (let i = 0; i < shape.length; i++) {
    const d = shape[i];
    if (typeof d !== 'number' || !Number.isSafeInteger(d) || d < 0) {
      throw fail(ctx.malformed, `${where}: dimension ${i} of 'shape' is ${describe(d)}; dimensions must be non-negative integers`);
    }
    if (d === 0) zero = true;
    else if (count > Number.MAX_SAFE_INTEGER / d) overflow = true;
    else count *= d;
  }
  if (zero) return { shape: shape as number[], count: 0 };
  if (overflow) {
    throw fail(ctx.malformed, `${where}: shape ${shapeText(shape as number[])} has more than 2^53-1 elements`);
  }
  return { shape: shape as number[], count };
}

/** Validate a `parameters` object: string, number or boolean values only. */
export function parseParameters(v: unknown, where: string, ctx: CodecContext): Parameters {
  if (!isPlainObject(v)) {
    throw fail(ctx.malformed, `${where}: 'parameters' must be an object, got ${describe(v)}`);
  }
  for (const key of Object.keys(v)) {
    const p = v[key];
    if (typeof p !== 'string' && typeof p !== 'boolean' && !(typeof p === 'number' && Number.isFinite(p))) {
      throw fail(ctx.malformed, `${where}: parameter '${key}' is ${describe(p)}; parameter values must be strings, numbers or booleans`);
    }
  }
  return v as Parameters;
}

export function parseDatatype(v: unknown, where: string, ctx: CodecContext): Datatype {
  if (isDatatype(v)) return v;
  if (typeof v !== 'string') {
    throw fail(ctx.malformed, `${where}: 'datatype' must be a string such as "FP32", got ${describe(v)}`);
  }
  throw fail(
    ctx.unsupported,
    `${where}: datatype ${JSON.stringify(v)} is not supported; use one of ${DATATYPE_NAMES.join(', ')} (case-sensitive)`,
  );
}

/** A non-negative safe integer byte count (`binary_data_size`). */
export function parseByteSize(v: unknown, where: string, ctx: CodecContext): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) {
    throw fail(ctx.malformed, `${where}: 'binary_data_size' is ${describe(v)}; it must be a non-negative integer byte count`);
  }
  return v;
}
