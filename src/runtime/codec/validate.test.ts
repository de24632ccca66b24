import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ModelSignature } from '../tensor.js';
import type { InferInput } from './types.js';
import { checkRequestedOutputs, validateInputs } from './validate.js';

const sig: ModelSignature = {
  inputs: [
    { name: 'features', datatype: 'FP32', shape: [-1, 16] },
    { name: 'mask', datatype: 'BOOL', shape: [-1, 16] },
  ],
  outputs: [
    { name: 'score', datatype: 'FP32', shape: [-1, 1] },
    { name: 'label', datatype: 'INT64', shape: [-1] },
  ],
  batchable: true,
};

function features(shape = [2, 16], datatype: InferInput['datatype'] = 'FP32'): InferInput {
  return { name: 'features', datatype, shape, data: new Float32Array(shape.reduce((x, y) => x * y, 1)) };
}
function mask(shape = [2, 16]): InferInput {
  return { name: 'mask', datatype: 'BOOL', shape, data: new Uint8Array(shape.reduce((x, y) => x * y, 1)) };
}

function invalid(inputs: InferInput[], message: string | RegExp): void {
  assert.throws(() => validateInputs(inputs, sig), (e: unknown) => {
    const err = e as { code: string; status: number; message: string };
    assert.equal(err.code, 'ALOFT_INVALID_INPUT');
    assert.equal(err.status, 400);
    if (typeof message === 'string') assert.equal(err.message, message);
    else assert.match(err.message, message);
    return true;
  });
}

describe('validateInputs', () => {
  it('returns tensors in signature order', () => {
    const out = validateInputs([mask(), features()], sig);
    assert.deepEqual(out.map((t) => t.name), ['features', 'mask']);
    assert.deepEqual(out[0]!.shape, [2, 16]);
  });

  it('names missing and unexpected inputs', () => {
    invalid([features()], "missing input 'mask'; the model expects 'features', 'mask'");
    invalid([], "missing inputs 'features', 'mask'; the model expects 'features', 'mask'");
    invalid([features(), mask(), { ...mask(), name: 'extra' }], "unexpected input 'extra'; the model's inputs are 'features', 'mask'");
  });

  it('checks datatype, rank and fixed dimensions', () => {
    invalid([features([2, 16], 'FP64'), mask()], "input 'features' has datatype FP64; the model expects FP32");
    invalid([features([32]), mask()], "input 'features' has shape [32] (rank 1); the model expects rank 2, shape [-1, 16] (-1 = any size)");
    invalid([features([2, 15]), mask()], "dimension 1 of input 'features' is 15; the model expects 16 (shape [-1, 16])");
  });

  it('requires one batch size across inputs of a batchable model', () => {
    invalid([features([2, 16]), mask([3, 16])], /inputs disagree on the batch size \(dimension 0\): 'features' has 2, 'mask' has 3/);
    assert.doesNotThrow(() => validateInputs([features([2, 16]), mask([3, 16])], { ...sig, batchable: false }));
  });
});

describe('checkRequestedOutputs', () => {
  it('returns requested names, or undefined for all', () => {
    assert.equal(checkRequestedOutputs(undefined, sig), undefined);
    assert.deepEqual(checkRequestedOutputs([{ name: 'label' }, { name: 'score' }], sig), ['label', 'score']);
  });

  it('rejects unknown outputs with 400, listing the model outputs', () => {
    assert.throws(() => checkRequestedOutputs([{ name: 'prob' }], sig), {
      code: 'ALOFT_BAD_REQUEST', status: 400, message: "unknown output 'prob'; the model's outputs are 'score', 'label'",
    });
  });
});
