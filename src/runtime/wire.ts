/**
 * The replica wire protocol: how the gateway and a replica process on the same machine
 * exchange whole batches over a Unix socket, without HTTP. One HTTP/1.1 exchange per
 * batch costs both sides a request line, headers, a JSON header for the binary tensor
 * extension and the client's and server's own bookkeeping; a frame is a fixed header and
 * the tensors' bytes, written as one `writev` and read without parsing text.
 *
 * Every number little-endian. A frame:
 *
 *   u32 length of the rest | u32 id | u8 kind | payload
 *
 *   kind 1 infer  (gateway → replica): tensors
 *   kind 2 result (replica → gateway): tensors
 *   kind 3 failed (replica → gateway): u16 code length | code (an Aloft error code) | message (UTF-8, the rest)
 *
 *   tensors := u8 count, then per tensor:
 *     u8 datatype (index in DATATYPE_NAMES) | u8 name length | name (UTF-8) | u8 rank | rank × u32 dims
 *     | u32 data length | zero padding to a multiple of 8 from the frame's start | data
 *
 * Data is the binary tensor extension's encoding (codec/binary-data.ts): typed-array bytes
 * as they are, BYTES elements each as a u32 length then the bytes. Answers carry the id of
 * their request, so calls can be abandoned and late answers dropped. Leaf module for the
 * gateway side: no ONNX Runtime here.
 */
import { fail, isAloftError, type ErrorCode } from '../errors.js';
import { decodeBinaryData, tensorBytes } from './codec/binary-data.js';
import { RESPONSE_CONTEXT, REQUEST_CONTEXT, type CodecContext } from './codec/fields.js';
import { DATATYPE_NAMES, DATATYPES, elementCount, type Datatype } from './datatypes.js';
import type { Tensor } from './tensor.js';

export const FRAME_INFER = 1;
export const FRAME_RESULT = 2;
export const FRAME_FAILED = 3;

/** The largest frame either side accepts (the replica's largest HTTP body, too). */
export const MAX_FRAME_BYTES = 1024 ** 3;

/** Bytes before the payload: length, id, kind. */
const HEAD = 9;

export interface Frame {
  id: number;
  kind: number;
  /** The whole frame, length field included; tensor offsets count from its start. */
  bytes: Buffer;
}

const DATATYPE_CODE = new Map<Datatype, number>(DATATYPE_NAMES.map((d, i) => [d, i]));

/**
 * A frame of tensors as buffers to write in order (one `writev`): a header buffer per
 * tensor and the tensor's data as a view, never copied.
 */
export function encodeTensorFrame(id: number, kind: typeof FRAME_INFER | typeof FRAME_RESULT, tensors: readonly Tensor[]): Buffer[] {
  if (tensors.length > 255) throw fail('ALOFT_INTERNAL', `a frame carries at most 255 tensors, not ${tensors.length}`);
  const parts: Buffer[] = [];
  const datas = tensors.map(tensorBytes);
  // The header of each tensor with its padding, then its data; offsets from the frame's start.
  let offset = HEAD + 1;
  const heads: Buffer[] = [];
  for (const [i, t] of tensors.entries()) {
    const name = Buffer.from(t.name, 'utf8');
    if (name.length > 255) throw fail('ALOFT_INTERNAL', `tensor name '${t.name.slice(0, 40)}…' is over 255 bytes`);
    if (t.shape.length > 255) throw fail('ALOFT_INTERNAL', `tensor '${t.name}' has rank ${t.shape.length}; a frame carries at most 255`);
    const fixed = 1 + 1 + name.length + 1 + 4 * t.shape.length + 4;
    const pad = (8 - ((offset + fixed) % 8)) % 8;
    const h = Buffer.alloc(fixed + pad);
    let p = 0;
    h[p++] = DATATYPE_CODE.get(t.datatype)!;
    h[p++] = name.length;
    name.copy(h, p);
    p += name.length;
    h[p++] = t.shape.length;
    for (const d of t.shape) { h.writeUInt32LE(d, p); p += 4; }
    h.writeUInt32LE(datas[i]!.length, p);
    heads.push(h);
    offset += h.length + datas[i]!.length;
  }
  if (offset - 4 > MAX_FRAME_BYTES) throw fail('ALOFT_PAYLOAD_TOO_LARGE', `the batch is ${offset} bytes; a replica frame holds at most ${MAX_FRAME_BYTES}`);
  const head = Buffer.allocUnsafe(HEAD + 1);
  head.writeUInt32LE(offset - 4, 0);
  head.writeUInt32LE(id >>> 0, 4);
  head[8] = kind;
  head[9] = tensors.length;
  parts.push(head);
  for (let i = 0; i < heads.length; i++) parts.push(heads[i]!, datas[i]!);
  // A small frame costs less as one copied buffer and one write() than as a writev of views.
  return offset <= SMALL_FRAME_BYTES ? [Buffer.concat(parts, offset)] : parts;
}

/** Frames up to this size are written as one buffer. */
const SMALL_FRAME_BYTES = 64 * 1024;

/** A failed frame: the error's code (ALOFT_REPLICA_FAILED for anything else) and message. */
export function encodeFailedFrame(id: number, err: unknown): Buffer {
  const code: ErrorCode = isAloftError(err) ? err.code : 'ALOFT_REPLICA_FAILED';
  const message = err instanceof Error ? err.message : String(err);
  const c = Buffer.from(code, 'utf8');
  const m = Buffer.from(message, 'utf8');
  const out = Buffer.allocUnsafe(HEAD + 2 + c.length + m.length);
  out.writeUInt32LE(out.length - 4, 0);
  out.writeUInt32LE(id >>> 0, 4);
  out[8] = FRAME_FAILED;
  out.writeUInt16LE(c.length, 9);
  c.copy(out, 11);
  m.copy(out, 11 + c.length);
  return out;
}

/** The code and message of a failed frame. */
export function decodeFailedFrame(f: Frame): { code: string; message: string } {
  const b = f.bytes;
  if (b.length < HEAD + 2) return { code: 'ALOFT_REPLICA_FAILED', message: 'the replica sent a truncated error' };
  const n = b.readUInt16LE(HEAD);
  return { code: b.toString('utf8', HEAD + 2, HEAD + 2 + n), message: b.toString('utf8', HEAD + 2 + n) };
}

/**
 * The tensors of an infer or result frame. Typed arrays are views on the frame where the
 * data is aligned, else copies. Throws the context's codes (a request frame's are the
 * caller's: 400; a result frame's are the replica's: 500) on any inconsistency.
 */
export function decodeTensorFrame(f: Frame, role: 'request' | 'response'): Tensor[] {
  const ctx: CodecContext = role === 'request' ? REQUEST_CONTEXT : RESPONSE_CONTEXT;
  const b = f.bytes;
  const bad = (why: string): never => { throw fail(ctx.malformed, `malformed replica frame: ${why}`); };
  let p = HEAD;
  if (p >= b.length) bad('no tensor count');
  const count = b[p++]!;
  const out: Tensor[] = [];
  for (let i = 0; i < count; i++) {
    if (p + 2 > b.length) bad(`tensor ${i} is cut off`);
    const dt = DATATYPE_NAMES[b[p++]!];
    if (dt === undefined) bad(`tensor ${i} has an unknown datatype code ${b[p - 1]}`);
    const nameLength = b[p++]!;
    if (p + nameLength + 1 > b.length) bad(`tensor ${i}'s name is cut off`);
    const name = b.toString('utf8', p, p + nameLength);
    p += nameLength;
    const rank = b[p++]!;
    if (p + 4 * rank + 4 > b.length) bad(`tensor '${name}''s shape is cut off`);
    const shape: number[] = [];
    for (let d = 0; d < rank; d++) { shape.push(b.readUInt32LE(p)); p += 4; }
    const size = b.readUInt32LE(p);
    p += 4;
    p += (8 - (p % 8)) % 8;
    if (p + size > b.length) bad(`tensor '${name}' declares ${size} bytes of data; ${Math.max(0, b.length - p)} remain`);
    const n = elementCount(shape);
    const fixed = DATATYPES[dt!].bytes;
    if (fixed > 0 && size !== n * fixed) {
      throw fail(ctx.invalid, `${ctx.role} '${name}': shape [${shape.join(',')}] needs ${n * fixed} bytes of ${dt} data, the frame has ${size}`);
    }
    out.push({ name, datatype: dt!, shape, data: decodeBinaryData(ctx, name, dt!, shape, n, b.subarray(p, p + size)) });
    p += size;
  }
  if (p !== b.length) bad(`${b.length - p} bytes after the last tensor`);
  return out;
}

/**
 * Cuts a byte stream into frames. Feed it what the socket reads; it calls `onFrame` for
 * each whole frame (a view on the chunk it arrived in, or one copy when it spans chunks)
 * and `onError` once if a frame declares more than MAX_FRAME_BYTES (the stream is then
 * unusable: close it).
 */
export class FrameReader {
  #chunks: Buffer[] = [];
  #buffered = 0;
  #need = -1;
  #broken = false;

  constructor(private readonly onFrame: (f: Frame) => void, private readonly onError: (e: Error) => void) {}

  push(chunk: Buffer): void {
    if (this.#broken) return;
    this.#chunks.push(chunk);
    this.#buffered += chunk.length;
    for (;;) {
      if (this.#need < 0) {
        if (this.#buffered < 4) return;
        const first = this.#chunks[0]!;
        const length = first.length >= 4 ? first.readUInt32LE(0) : this.#gather(4).readUInt32LE(0);
        if (length > MAX_FRAME_BYTES || length < HEAD - 4) {
          this.#broken = true;
          this.onError(fail('ALOFT_PAYLOAD_TOO_LARGE', `a replica frame declares ${length} bytes; frames are ${HEAD - 4} to ${MAX_FRAME_BYTES} bytes`));
          return;
        }
        this.#need = 4 + length;
      }
      if (this.#buffered < this.#need) return;
      const bytes = this.#take(this.#need);
      this.#need = -1;
      this.onFrame({ id: bytes.readUInt32LE(4), kind: bytes[8]!, bytes });
    }
  }

  /** The first `n` buffered bytes as one buffer, left buffered. */
  #gather(n: number): Buffer {
    const joined = Buffer.concat(this.#chunks);
    this.#chunks = [joined];
    return joined.subarray(0, n);
  }

  /** Remove and return the first `n` buffered bytes. */
  #take(n: number): Buffer {
    const first = this.#chunks[0]!;
    let out: Buffer;
    if (first.length >= n) {
      out = first.subarray(0, n);
      if (first.length === n) this.#chunks.shift();
      else this.#chunks[0] = first.subarray(n);
    } else {
      // A fresh buffer of its own, so the frame's 8-byte padding aligns its tensors' data.
      out = Buffer.allocUnsafeSlow(n);
      let p = 0;
      while (p < n) {
        const c = this.#chunks[0]!;
        const k = Math.min(c.length, n - p);
        c.copy(out, p, 0, k);
        p += k;
        if (k === c.length) this.#chunks.shift();
        else this.#chunks[0] = c.subarray(k);
      }
    }
    this.#buffered -= n;
    return out;
  }
}
