/**
 * Concatenating requests' tensors along the batch dimension and splitting a batch's
 * outputs back per request. Row-major layout makes both a matter of contiguous ranges:
 * concat copies each request's elements once; split hands out zero-copy views.
 */
import { fail } from '../errors.js';
import type { TensorData } from '../runtime/datatypes.js';
import type { Tensor } from '../runtime/tensor.js';

function rowSize(shape: readonly number[]): number {
  let n = 1;
  for (let i = 1; i < shape.length; i++) n *= shape[i]!;
  return n;
}

/**
 * Join the i-th input of every request into one tensor whose dim 0 is the sum of theirs.
 * All parts share the datatype and the non-batch dimensions (the batcher groups by them).
 */
export function concatRows(parts: readonly Tensor[]): Tensor {
  const first = parts[0]!;
  if (parts.length === 1) return first;
  let rows = 0;
  for (const p of parts) rows += p.shape[0]!;
  const shape = [rows, ...first.shape.slice(1)];
  if (Array.isArray(first.data)) {
    const out: Buffer[] = [];
    for (const p of parts) for (const b of p.data as Buffer[]) out.push(b);
    return { name: first.name, datatype: first.datatype, shape, data: out };
  }
  const data = first.data as Exclude<TensorData, Buffer[]>;
  const Ctor = data.constructor as new (n: number) => Exclude<TensorData, Buffer[]>;
  const out = new Ctor(rows * rowSize(first.shape));
  let offset = 0;
  for (const p of parts) {
    const d = p.data as Exclude<TensorData, Buffer[]>;
    // Same constructor by construction; the cast only satisfies TypeScript's union.
    (out as Float32Array).set(d as Float32Array, offset);
    offset += d.length;
  }
  return { name: first.name, datatype: first.datatype, shape, data: out };
}

/**
 * Cut an output of a batch into per-request pieces by row counts. Throws
 * ALOFT_REPLICA_FAILED when the model did not keep the batch dimension.
 */
export function splitRows(output: Tensor, rowCounts: readonly number[]): Tensor[] {
  let total = 0;
  for (const r of rowCounts) total += r;
  if (output.shape.length === 0 || output.shape[0] !== total) {
    throw fail('ALOFT_REPLICA_FAILED',
      `model output '${output.name}' has shape [${output.shape.join(', ')}]; a batch of ${total} rows needs dimension 0 = ${total}`);
  }
  if (rowCounts.length === 1) return [output];
  const per = rowSize(output.shape);
  const rest = output.shape.slice(1);
  const pieces: Tensor[] = [];
  let row = 0;
  for (const r of rowCounts) {
    const start = row * per;
    const end = (row + r) * per;
    const data = Array.isArray(output.data)
      ? (output.data as Buffer[]).slice(start, end)
      : (output.data as Float32Array).subarray(start, end);
    pieces.push({ name: output.name, datatype: output.datatype, shape: [r, ...rest], data });
    row += r;
  }
  return pieces;
}

/** A key that is equal for requests whose tensors can share a batch. */
export function batchKey(inputs: readonly Tensor[]): string {
  let key = '';
  for (const t of inputs) {
    key += t.datatype;
    for (let i = 1; i < t.shape.length; i++) key += `,${t.shape[i]}`;
    key += ';';
  }
  return key;
}
