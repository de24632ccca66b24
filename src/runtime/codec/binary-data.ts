/**
 * Tensor elements in the binary tensor data extension: little-endian, row-major, native
 * size; BOOL one byte (0 or 1); BYTES elements as a uint32 LE length then the bytes.
 * Typed arrays are read in place (a view on the body) when the bytes are aligned, else
 * copied once; they are written without copying. Typed arrays are used as the wire
 * format directly, which assumes a little-endian host (every platform Node ships for).
 */
import { fail } from '../../errors.js';
import { DATATYPES, type Datatype, type TensorData } from '../datatypes.js';
import type { Tensor } from '../tensor.js';
import { shapeText, type CodecContext } from './fields.js';

/** Byte size of `count` elements of a fixed-size datatype; undefined for BYTES. */
export function fixedByteSize(dt: Datatype, count: number): number | undefined {
  const b = DATATYPES[dt].bytes;
  return b === 0 ? undefined : count * b;
}

/**
 * Decode one tensor's binary data. `bytes` is exactly the tensor's region of the body.
 * For fixed-size types the caller has checked `bytes.length === count × element size`.
 */
export function decodeBinaryData(
  ctx: CodecContext, name: string, dt: Datatype, shape: readonly number[], count: number, bytes: Buffer,
): TensorData {
  const info = DATATYPES[dt];
  const ctor = info.array;
  if (ctor === null) return decodeBytesElements(ctx, name, shape, count, bytes);
  let out: Exclude<TensorData, Buffer[]>;
  if (bytes.byteOffset % info.bytes === 0) {
    out = new ctor(bytes.buffer as ArrayBuffer, bytes.byteOffset, count);
  } else {
    out = new ctor(count);
    new Uint8Array(out.buffer, out.byteOffset, out.byteLength).set(bytes);
  }
  if (dt === 'BOOL') {
    const b = out as Uint8Array;
    for (let i = 0; i < b.length; i++) {
      if (b[i]! > 1) {
        throw fail(ctx.invalid, `${ctx.role} '${name}': BOOL element ${i} is the byte ${b[i]}; binary BOOL elements must be 0 or 1`);
      }
    }
  }
  return out;
}

function decodeBytesElements(ctx: CodecContext, name: string, shape: readonly number[], count: number, bytes: Buffer): Buffer[] {
  const where = `${ctx.role} '${name}'`;
  if (count > bytes.length / 4) {
    throw fail(ctx.malformed, `${where}: shape ${shapeText(shape)} has ${count} BYTES elements but its ${bytes.length} bytes of binary data cannot hold that many (each element needs a 4-byte length)`);
  }
  const out = new Array<Buffer>(count);
  let pos = 0;
  for (let k = 0; k < count; k++) {
    if (pos + 4 > bytes.length) {
      throw fail(ctx.malformed, `${where}: binary BYTES data ends after ${k} of ${count} elements (shape ${shapeText(shape)})`);
    }
    const n = bytes.readUInt32LE(pos);
    pos += 4;
    if (pos + n > bytes.length) {
      throw fail(ctx.malformed, `${where}: BYTES element ${k} declares ${n} bytes but only ${bytes.length - pos} remain in its binary data`);
    }
    out[k] = bytes.subarray(pos, pos + n);
    pos += n;
  }
  if (pos !== bytes.length) {
    throw fail(ctx.malformed, `${where}: binary BYTES data has ${bytes.length - pos} bytes after its ${count} elements (shape ${shapeText(shape)}); check binary_data_size`);
  }
  return out;
}

/** The wire bytes of a tensor: a view on its typed array, or (BYTES) one length-prefixed buffer. */
export function tensorBytes(t: Tensor): Buffer {
  const d = t.data;
  if (!Array.isArray(d)) return Buffer.from(d.buffer, d.byteOffset, d.byteLength);
  let total = 0;
  for (let i = 0; i < d.length; i++) total += 4 + d[i]!.length;
  const out = Buffer.allocUnsafe(total);
  let pos = 0;
  for (let i = 0; i < d.length; i++) {
    const b = d[i]!;
    out.writeUInt32LE(b.length, pos);
    b.copy(out, pos + 4);
    pos += 4 + b.length;
  }
  return out;
}

/** Throw if a tensor's element count disagrees with its shape (a bug upstream, not a client error). */
export function checkTensor(t: Tensor): void {
  let n = 1;
  for (const d of t.shape) n *= d;
  if (t.data.length !== n) {
    throw fail('ALOFT_INTERNAL', `tensor '${t.name}' has ${t.data.length} elements but shape ${shapeText(t.shape)} needs ${n}`);
  }
}
