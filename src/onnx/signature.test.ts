import { test } from 'node:test';
import assert from 'node:assert/strict';
import onnxProto from 'onnx-proto';
import { readModelInfo, readSignature } from './signature.js';
import { isAloftError } from '../errors.js';

const { onnx } = onnxProto;
const FLOAT = 1;
const INT64 = 7;

type Dim = number | string | null;

function vi(name: string, elemType: number, dims: Dim[] | undefined): onnxProto.onnx.IValueInfoProto {
  const shape = dims === undefined ? undefined : {
    dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : typeof d === 'string' ? { dimParam: d } : {})),
  };
  return { name, type: { tensorType: { elemType, ...(shape ? { shape } : {}) } } };
}

/** A hand-written Identity model: y = x. Independent of the builder on purpose. */
function model(graph: Partial<onnxProto.onnx.IGraphProto>, extra: Partial<onnxProto.onnx.IModelProto> = {}): Uint8Array {
  return onnx.ModelProto.encode({
    irVersion: 8,
    opsetImport: [{ domain: '', version: 17 }],
    producerName: 'test',
    producerVersion: '1.2.3',
    docString: 'a test model',
    graph: {
      name: 'g',
      node: [{ opType: 'Identity', input: ['x'], output: ['y'], name: 'id' }],
      input: [vi('x', FLOAT, ['batch', 4])],
      output: [vi('y', FLOAT, ['batch', 4])],
      ...graph,
    },
    ...extra,
  }).finish();
}

function assertInvalid(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(isAloftError(e), 'an AloftError');
    assert.equal(e.code, 'ALOFT_MODEL_INVALID');
    assert.match(e.message, pattern);
    return true;
  });
}

test('named dynamic batch dim: -1 with dimNames, batchable', () => {
  const sig = readSignature(model({}));
  assert.deepEqual(sig, {
    inputs: [{ name: 'x', datatype: 'FP32', shape: [-1, 4], dimNames: ['batch', null] }],
    outputs: [{ name: 'y', datatype: 'FP32', shape: [-1, 4], dimNames: ['batch', null] }],
    batchable: true,
  });
});

test('unnamed dynamic dims are -1 without dimNames; fixed dims are numbers', () => {
  const sig = readSignature(model({
    input: [vi('x', INT64, [null, 3, 2])],
    output: [vi('y', INT64, [null, 3, 2])],
  }));
  assert.deepEqual(sig.inputs, [{ name: 'x', datatype: 'INT64', shape: [-1, 3, 2] }]);
  assert.equal(sig.batchable, true);
});

test('a model whose first dim is fixed is not batchable', () => {
  const sig = readSignature(model({ input: [vi('x', FLOAT, [1, 4])], output: [vi('y', FLOAT, [1, 4])] }));
  assert.deepEqual(sig.inputs[0]?.shape, [1, 4]);
  assert.equal(sig.batchable, false);
});

test('a scalar input (rank 0) is not batchable', () => {
  const sig = readSignature(model({ input: [vi('x', FLOAT, [])], output: [vi('y', FLOAT, [])] }));
  assert.deepEqual(sig.inputs[0]?.shape, []);
  assert.equal(sig.batchable, false);
});

test('inputs that are also initializers are excluded', () => {
  const sig = readSignature(model({
    node: [{ opType: 'Add', input: ['x', 'b'], output: ['y'], name: 'add' }],
    input: [vi('x', FLOAT, ['n', 4]), vi('b', FLOAT, [4])],
    initializer: [{ name: 'b', dataType: FLOAT, dims: [4], floatData: [1, 2, 3, 4] }],
  }));
  assert.deepEqual(sig.inputs.map((i) => i.name), ['x']);
});

test('STRING maps to BYTES', () => {
  const sig = readSignature(model({ input: [vi('x', 8, [null])], output: [vi('y', 8, ['n'])] }));
  assert.equal(sig.inputs[0]?.datatype, 'BYTES');
});

test('readModelInfo reads the header', () => {
  assert.deepEqual(readModelInfo(model({})), {
    irVersion: 8, opsetVersion: 17, producerName: 'test', producerVersion: '1.2.3', graphName: 'g', docString: 'a test model',
  });
});

test('garbage bytes are refused with ALOFT_MODEL_INVALID', () => {
  const garbage = new TextEncoder().encode('this is definitely not an onnx model\n');
  assertInvalid(() => readSignature(garbage), /not a readable ONNX model|no ONNX graph|ir_version/);
  assertInvalid(() => readModelInfo(garbage), /ONNX/);
  assertInvalid(() => readSignature(new Uint8Array(0)), /empty/);
  // bytes that happen to decode as an empty protobuf message have no graph
  assertInvalid(() => readSignature(new Uint8Array([0x08, 0x08])), /no ONNX graph/);
});

test('truncated bytes are refused with ALOFT_MODEL_INVALID', () => {
  const bytes = model({});
  // every prefix of a valid model is refused: mid-field cuts fail to decode, cuts at a
  // field boundary lose the graph or the opset imports
  for (let cut = 1; cut < bytes.length; cut++) {
    assertInvalid(() => readSignature(bytes.subarray(0, cut)), /not a readable ONNX model|truncated|no ONNX graph|ir_version/);
  }
});

test('unsupported element type names the input', () => {
  assertInvalid(() => readSignature(model({ input: [vi('z_complex', 14, ['n'])] })), /input 'z_complex'.*COMPLEX64/);
});

test('non-tensor outputs and unknown-rank inputs name the value', () => {
  assertInvalid(
    () => readSignature(model({ output: [{ name: 'probs', type: { sequenceType: { elemType: { tensorType: { elemType: FLOAT } } } } }] })),
    /output 'probs' is a sequence/,
  );
  assertInvalid(() => readSignature(model({ input: [vi('x', FLOAT, undefined)] })), /input 'x' declares no shape/);
});

test('a graph without outputs is refused', () => {
  assertInvalid(() => readSignature(model({ output: [] })), /no outputs/);
});
