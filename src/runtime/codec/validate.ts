/**
 * Check decoded inputs against a model's signature, and requested outputs against its
 * outputs. Messages name the input and say what the model expects.
 */
import { fail } from '../../errors.js';
import type { ModelSignature, Tensor, TensorSpec } from '../tensor.js';
import { shapeText } from './fields.js';
import type { InferInput, RequestedOutput } from './types.js';

function names(specs: readonly TensorSpec[]): string {
  return specs.map((s) => `'${s.name}'`).join(', ');
}

/**
 * Validate inputs and return them as tensors in the signature's input order.
 *
 * @throws AloftError ALOFT_INVALID_INPUT (400) for a missing or unexpected input, a wrong
 *   datatype or rank, a fixed dimension that differs, or (batchable model) inputs that
 *   disagree on dimension 0.
 * @example
 *   validateInputs(req.inputs, sig) // [{ name: 'features', datatype: 'FP32', shape: [4, 16], data }]
 */
export function validateInputs(inputs: readonly InferInput[], sig: ModelSignature): Tensor[] {
  const byName = new Map<string, InferInput>();
  for (const input of inputs) byName.set(input.name, input);
  for (const input of inputs) {
    if (!sig.inputs.some((s) => s.name === input.name)) {
      throw fail('ALOFT_INVALID_INPUT', `unexpected input '${input.name}'; the model's inputs are ${names(sig.inputs)}`);
    }
  }
  const missing = sig.inputs.filter((s) => !byName.has(s.name));
  if (missing.length > 0) {
    throw fail('ALOFT_INVALID_INPUT', `missing input${missing.length > 1 ? 's' : ''} ${names(missing)}; the model expects ${names(sig.inputs)}`);
  }
  const out: Tensor[] = [];
  let batch: { name: string; size: number } | undefined;
  for (const spec of sig.inputs) {
    const input = byName.get(spec.name)!;
    if (input.datatype !== spec.datatype) {
      throw fail('ALOFT_INVALID_INPUT', `input '${spec.name}' has datatype ${input.datatype}; the model expects ${spec.datatype}`);
    }
    if (input.shape.length !== spec.shape.length) {
      throw fail('ALOFT_INVALID_INPUT', `input '${spec.name}' has shape ${shapeText(input.shape)} (rank ${input.shape.length}); the model expects rank ${spec.shape.length}, shape ${shapeText(spec.shape)} (-1 = any size)`);
    }
    for (let d = 0; d < spec.shape.length; d++) {
      const want = spec.shape[d]!;
      if (want >= 0 && input.shape[d] !== want) {
        throw fail('ALOFT_INVALID_INPUT', `dimension ${d} of input '${spec.name}' is ${input.shape[d]}; the model expects ${want} (shape ${shapeText(spec.shape)})`);
      }
    }
    if (sig.batchable) {
      const size = input.shape[0]!;
      if (batch === undefined) batch = { name: spec.name, size };
      else if (batch.size !== size) {
        throw fail('ALOFT_INVALID_INPUT', `inputs disagree on the batch size (dimension 0): '${batch.name}' has ${batch.size}, '${spec.name}' has ${size}; all inputs must have the same first dimension`);
      }
    }
    out.push({ name: input.name, datatype: input.datatype, shape: input.shape, data: input.data });
  }
  return out;
}

/**
 * Check that every requested output exists; returns their names (undefined: all outputs).
 *
 * @throws AloftError ALOFT_BAD_REQUEST (400) naming the unknown output and listing the model's.
 */
export function checkRequestedOutputs(requested: readonly RequestedOutput[] | undefined, sig: ModelSignature): string[] | undefined {
  if (requested === undefined) return undefined;
  for (const r of requested) {
    if (!sig.outputs.some((s) => s.name === r.name)) {
      throw fail('ALOFT_BAD_REQUEST', `unknown output '${r.name}'; the model's outputs are ${names(sig.outputs)}`);
    }
  }
  return requested.map((r) => r.name);
}
