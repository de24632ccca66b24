/**
 * Tensors and model signatures: the shapes every part of Aloft agrees on.
 */
import type { Datatype, TensorData } from './datatypes.js';

/** A named tensor with its elements in a typed array, row-major. */
export interface Tensor {
  name: string;
  datatype: Datatype;
  /** Concrete dimensions (no -1). `[]` is a scalar. */
  shape: number[];
  data: TensorData;
}

/** One input or output as the model declares it. -1 marks a dynamic dimension. */
export interface TensorSpec {
  name: string;
  datatype: Datatype;
  shape: number[];
  /** Symbolic names of dynamic dimensions where the model gives one (e.g. "batch"). */
  dimNames?: (string | null)[];
}

/** What a model accepts and returns, read from the ONNX file at registration. */
export interface ModelSignature {
  inputs: TensorSpec[];
  outputs: TensorSpec[];
  /**
   * True when the first dimension of every input and output is dynamic, so requests can
   * be concatenated along it. A model that is not batchable is served one request per run.
   */
  batchable: boolean;
}

/** Decide batchability from the specs (rank ≥ 1 and dim 0 dynamic everywhere). */
export function isBatchable(inputs: readonly TensorSpec[], outputs: readonly TensorSpec[]): boolean {
  if (inputs.length === 0 || outputs.length === 0) return false;
  return [...inputs, ...outputs].every((t) => t.shape.length >= 1 && t.shape[0] === -1);
}
