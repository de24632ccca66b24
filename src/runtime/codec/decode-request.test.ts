import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ErrorCode } from '../../errors.js';
import type { ModelSignature } from '../tensor.js';
import { decodeInferRequest, MAX_REQUEST_ID } from './decode-request.js';

function json(v: unknown): Buffer {
  return Buffer.from(typeof v === 'string' ? v : JSON.stringify(v), 'utf8');
}

/** A JSON header followed by binary chunks, with the header length. */
function framed(header: unknown, ...chunks: Buffer[]): [Buffer, number] {
  const h = json(header);
  return [Buffer.concat([h, ...chunks]), h.length];
}

function input(over: Record<string, unknown>): Record<string, unknown> {
  return { name: 'x', datatype: 'FP32', shape: [2], data: [1, 2], ...over };
}

function rejects(body: Buffer, headerLength: number | undefined, code: ErrorCode, message: RegExp): void {
  assert.throws(() => decodeInferRequest(body, headerLength), (e: unknown) => {
    const err = e as { code?: string; status?: number; message?: string };
    assert.equal(err.code, code, `code for: ${err.message}`);
    assert.equal(err.status, 400);
    assert.match(err.message ?? '', message);
    return true;
  });
}

function rejectsInput(over: Record<string, unknown>, code: ErrorCode, message: RegExp): void {
  rejects(json({ inputs: [input(over)] }), undefined, code, message);
}

function f32(...v: number[]): Buffer {
  return Buffer.from(new Float32Array(v).buffer);
}

describe('decodeInferRequest: JSON', () => {
  it('decodes id, parameters, outputs and typed data', () => {
    const req = decodeInferRequest(json({
      id: 'r1',
      parameters: { binary_data_output: true, priority: 2 },
      inputs: [input({ shape: [2, 2], data: [[1, 2], [3, 4]] })],
      outputs: [{ name: 'y', parameters: { binary_data: false } }],
    }));
    assert.equal(req.id, 'r1');
    assert.equal(req.binaryOutput, true);
    assert.deepEqual(req.parameters, { binary_data_output: true, priority: 2 });
    assert.deepEqual(req.outputs, [{ name: 'y', parameters: { binary_data: false } }]);
    assert.deepEqual(req.inputs[0], { name: 'x', datatype: 'FP32', shape: [2, 2], data: new Float32Array([1, 2, 3, 4]) });
  });

  it('accepts flat and nested data for the same shape', () => {
    const flat = decodeInferRequest(json({ inputs: [input({ datatype: 'INT32', shape: [2, 3, 2], data: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12] })] }));
    const nested = decodeInferRequest(json({
      inputs: [input({ datatype: 'INT32', shape: [2, 3, 2], data: [[[1, 2], [3, 4], [5, 6]], [[7, 8], [9, 10], [11, 12]]] })],
    }));
    assert.deepEqual(nested.inputs[0]!.data, flat.inputs[0]!.data);
    assert.deepEqual(flat.inputs[0]!.data, Int32Array.from({ length: 12 }, (_, i) => i + 1));
  });

  it('accepts zero-size tensors and scalars', () => {
    assert.equal(decodeInferRequest(json({ inputs: [input({ shape: [0, 16], data: [] })] })).inputs[0]!.data.length, 0);
    assert.deepEqual(decodeInferRequest(json({ inputs: [input({ shape: [], data: [7] })] })).inputs[0]!.data, new Float32Array([7]));
    assert.deepEqual(decodeInferRequest(json({ inputs: [input({ shape: [], data: 7 })] })).inputs[0]!.data, new Float32Array([7]));
  });

  it('reads BOOL as true/false or 0/1, and INT64 from numbers or decimal strings', () => {
    const req = decodeInferRequest(json({
      inputs: [
        input({ name: 'b', datatype: 'BOOL', shape: [4], data: [true, false, 1, 0] }),
        input({ name: 'i', datatype: 'INT64', shape: [3], data: [-9007199254740991, '-9223372036854775808', '9223372036854775807'] }),
        input({ name: 'u', datatype: 'UINT64', shape: [1], data: ['18446744073709551615'] }),
        input({ name: 's', datatype: 'BYTES', shape: [2], data: ['héllo', ''] }),
      ],
    }));
    assert.deepEqual(req.inputs[0]!.data, new Uint8Array([1, 0, 1, 0]));
    assert.deepEqual(req.inputs[1]!.data, new BigInt64Array([-9007199254740991n, -(2n ** 63n), 2n ** 63n - 1n]));
    assert.deepEqual(req.inputs[2]!.data, new BigUint64Array([2n ** 64n - 1n]));
    assert.deepEqual(req.inputs[3]!.data, [Buffer.from('héllo'), Buffer.alloc(0)]);
  });

  it('rejects malformed framing and JSON', () => {
    rejects(json({ inputs: [] }), -1, 'ALOFT_BAD_REQUEST', /Inference-Header-Content-Length is -1; it must be an integer from 0 to the body length/);
    rejects(json({ inputs: [] }), 1000, 'ALOFT_BAD_REQUEST', /Inference-Header-Content-Length is 1000/);
    rejects(json({ inputs: [] }), 1.5, 'ALOFT_BAD_REQUEST', /Inference-Header-Content-Length is 1.5/);
    rejects(Buffer.alloc(0), undefined, 'ALOFT_BAD_REQUEST', /request body is empty/);
    rejects(json('{"inputs":[}'), undefined, 'ALOFT_BAD_REQUEST', /^request body is not valid JSON: unexpected character "}"; expected a value at position 11$/);
    rejects(json('{"inputs":['), undefined, 'ALOFT_BAD_REQUEST', /not valid JSON: unexpected end of input; expected a value at position 11/);
    rejects(json('{"inputs":[]} x'), undefined, 'ALOFT_BAD_REQUEST', /not valid JSON: unexpected character "x" after the end of the JSON value at position 14/);
    rejects(json('{inputs:[]}'), undefined, 'ALOFT_BAD_REQUEST', /expected a double-quoted property name at position 1/);
    rejects(json('[1]'), undefined, 'ALOFT_BAD_REQUEST', /must be a JSON object with an 'inputs' array, got an array/);
    rejects(json({}), undefined, 'ALOFT_BAD_REQUEST', /must have an 'inputs' array, got missing/);
    // The JSON part ends where the header says, even if the rest looks like JSON.
    rejects(json('{"inputs":[]}'), 5, 'ALOFT_BAD_REQUEST', /not valid JSON: .* at position 5 \(the JSON part is the first 5 bytes/);
  });

  it('survives deeply nested JSON', () => {
    const deep = 200_000;
    const data = `${'['.repeat(deep)}${']'.repeat(deep)}`;
    rejects(json(`{"inputs":[{"name":"x","datatype":"FP32","shape":[1,1],"data":${data}}]}`), undefined, 'ALOFT_INVALID_INPUT', /'data' is nested but does not match shape \[1, 1\]: at data\[0\]\[0\] expected a scalar, got an array/);
    rejects(json(`{"inputs":[${'['.repeat(deep)}`), undefined, 'ALOFT_BAD_REQUEST', /unexpected end of input; expected a value at position/);
  });

  it('rejects bad request fields', () => {
    rejects(json({ id: 5, inputs: [] }), undefined, 'ALOFT_BAD_REQUEST', /request 'id' must be a string, got 5/);
    rejects(json({ id: 'x'.repeat(MAX_REQUEST_ID + 1), inputs: [] }), undefined, 'ALOFT_BAD_REQUEST', /request 'id' is 1025 characters long; the most is 1024 \(feedback names a prediction by it\)/);
    assert.equal(decodeInferRequest(json({ id: 'x'.repeat(MAX_REQUEST_ID), inputs: [] })).id?.length, MAX_REQUEST_ID, 'the longest id is kept');
    assert.equal(decodeInferRequest(json({ id: '', inputs: [] })).id, undefined, 'an empty id names nothing: the request is given one, as without an id');
    rejects(json({ parameters: { a: { b: 1 } }, inputs: [] }), undefined, 'ALOFT_BAD_REQUEST', /parameter 'a' is an object; parameter values must be strings, numbers or booleans/);
    rejects(json({ parameters: [], inputs: [] }), undefined, 'ALOFT_BAD_REQUEST', /'parameters' must be an object, got an array/);
    rejects(json({ parameters: { binary_data_output: 'yes' }, inputs: [] }), undefined, 'ALOFT_BAD_REQUEST', /'binary_data_output' must be true or false/);
    rejects(json({ outputs: {}, inputs: [] }), undefined, 'ALOFT_BAD_REQUEST', /'outputs' must be an array/);
    rejects(json({ outputs: [{}], inputs: [] }), undefined, 'ALOFT_BAD_REQUEST', /outputs\[0\] must be an object with a non-empty string 'name'/);
    rejects(json({ outputs: [{ name: 'y' }, { name: 'y' }], inputs: [] }), undefined, 'ALOFT_BAD_REQUEST', /output 'y' is requested more than once/);
    rejects(json({ outputs: [{ name: 'y', parameters: { binary_data: 1 } }], inputs: [] }), undefined, 'ALOFT_BAD_REQUEST', /output 'y': parameter 'binary_data' must be true or false/);
    rejects(json({ inputs: [5] }), undefined, 'ALOFT_BAD_REQUEST', /inputs\[0\] must be an object, got 5/);
    rejects(json({ inputs: [input({ name: '' })] }), undefined, 'ALOFT_BAD_REQUEST', /inputs\[0\] must have a non-empty string 'name'/);
    rejects(json({ inputs: [input({}), input({})] }), undefined, 'ALOFT_BAD_REQUEST', /input 'x' appears more than once/);
  });

  it('rejects bad datatypes and shapes, naming the input', () => {
    rejectsInput({ datatype: 'fp32' }, 'ALOFT_UNSUPPORTED_DATATYPE', /input 'x': datatype "fp32" is not supported; use one of BOOL, .*FP32.* \(case-sensitive\)/);
    rejectsInput({ datatype: undefined }, 'ALOFT_BAD_REQUEST', /input 'x': 'datatype' must be a string/);
    rejectsInput({ shape: 2 }, 'ALOFT_BAD_REQUEST', /input 'x': 'shape' must be an array of non-negative integers, got 2/);
    rejectsInput({ shape: [-1] }, 'ALOFT_BAD_REQUEST', /input 'x': dimension 0 of 'shape' is -1; dimensions must be non-negative integers/);
    rejectsInput({ shape: [1, 1.5] }, 'ALOFT_BAD_REQUEST', /dimension 1 of 'shape' is 1.5/);
    rejectsInput({ shape: [2 ** 53] }, 'ALOFT_BAD_REQUEST', /dimension 0 of 'shape' is 9007199254740992/);
    rejectsInput({ shape: [2 ** 30, 2 ** 30, 2 ** 30] }, 'ALOFT_BAD_REQUEST', /shape \[1073741824, 1073741824, 1073741824\] has more than 2\^53-1 elements/);
    rejectsInput({ datatype: 'FP16', data: [1, 2] }, 'ALOFT_UNSUPPORTED_DATATYPE', /input 'x' has datatype FP16, which cannot be sent as JSON; send FP16 as binary/);
    rejectsInput({ datatype: 'BF16', data: [1, 2] }, 'ALOFT_UNSUPPORTED_DATATYPE', /send BF16 as binary/);
  });

  it('rejects data that does not fit the shape', () => {
    rejectsInput({ data: undefined }, 'ALOFT_BAD_REQUEST', /input 'x' has no 'data'/);
    rejectsInput({ data: [1, 2], parameters: { binary_data_size: 8 } }, 'ALOFT_BAD_REQUEST', /input 'x' has both 'data' and parameters.binary_data_size; send exactly one/);
    rejectsInput({ data: { a: 1 } }, 'ALOFT_BAD_REQUEST', /input 'x': 'data' must be an array, got an object/);
    rejectsInput({ shape: [2, 2], data: [1, 2, 3] }, 'ALOFT_INVALID_INPUT', /input 'x' has 3 elements in 'data'; shape \[2, 2\] needs 4/);
    rejectsInput({ shape: [2, 2], data: [[1, 2], [3]] }, 'ALOFT_INVALID_INPUT', /input 'x': 'data' is nested but does not match shape \[2, 2\]: at data\[1\] expected an array of 2 items, got an array of 1 items/);
    rejectsInput({ shape: [2, 2], data: [[1, 2], 3] }, 'ALOFT_INVALID_INPUT', /at data\[1\] expected an array of 2 items, got 3/);
    rejectsInput({ shape: [3, 2], data: [[1, 2], [3, 4]] }, 'ALOFT_INVALID_INPUT', /nested but its outer array has 2 items; shape \[3, 2\] needs 3/);
    rejectsInput({ shape: [2], data: [[1], [2]] }, 'ALOFT_INVALID_INPUT', /nested but does not match shape \[2\]: at data\[0\] expected a scalar/);
    rejectsInput({ shape: [2, 2], data: [[1, [2]], [3, 4]] }, 'ALOFT_INVALID_INPUT', /at data\[0\]\[1\] expected a scalar, got an array of 1 items/);
    rejectsInput({ shape: [4], data: [1, 2, [3], 4] }, 'ALOFT_INVALID_INPUT', /element 2 is an array \(data must be flat, or nested exactly as the shape\)/);
    rejectsInput({ shape: [2, 3], data: [[1], [2]] }, 'ALOFT_INVALID_INPUT', /at data\[0\] expected an array of 3 items, got an array of 1 items/);
    // A huge shape with little data is refused before allocating.
    rejectsInput({ shape: [2, 1e9], data: [[1], [2]] }, 'ALOFT_INVALID_INPUT', /shape \[2, 1000000000\] has 2000000000 elements, more than its 'data' can hold/);
  });

  it('rejects element values that do not fit the datatype, naming input and index', () => {
    rejectsInput({ shape: [3], data: [1, 2, null] }, 'ALOFT_INVALID_INPUT', /input 'x': element 2 is null; FP32 elements must be finite numbers within the FP32 range/);
    rejectsInput({ data: ['1', 2] }, 'ALOFT_INVALID_INPUT', /element 0 is the string "1"; FP32 elements must be finite numbers/);
    rejectsInput({ data: [1, 1e39] }, 'ALOFT_INVALID_INPUT', /element 1 is 1e\+39; FP32 elements must be finite numbers within the FP32 range/);
    rejectsInput({ datatype: 'FP64', data: [1, true] }, 'ALOFT_INVALID_INPUT', /element 1 is true; FP64 elements must be finite numbers/);
    rejectsInput({ datatype: 'INT8', data: [1, 128] }, 'ALOFT_INVALID_INPUT', /element 1 is 128; INT8 elements must be integers from -128 to 127/);
    rejectsInput({ datatype: 'UINT8', data: [-1, 1] }, 'ALOFT_INVALID_INPUT', /element 0 is -1; UINT8 elements must be integers from 0 to 255/);
    rejectsInput({ datatype: 'INT32', data: [1.5, 1] }, 'ALOFT_INVALID_INPUT', /element 0 is 1.5; INT32 elements must be integers/);
    rejectsInput({ datatype: 'UINT32', data: [4294967296, 1] }, 'ALOFT_INVALID_INPUT', /element 0 is 4294967296; UINT32 elements must be integers from 0 to 4294967295/);
    rejectsInput({ datatype: 'INT64', data: [1, 2 ** 53] }, 'ALOFT_INVALID_INPUT', /element 1 is 9007199254740992; INT64 elements must be integers within ±\(2\^53-1\) as JSON numbers, or decimal strings/);
    rejectsInput({ datatype: 'INT64', data: ['9223372036854775808', 1] }, 'ALOFT_INVALID_INPUT', /element 0 is the string "9223372036854775808"/);
    rejectsInput({ datatype: 'INT64', data: ['12a', 1] }, 'ALOFT_INVALID_INPUT', /element 0 is the string "12a"/);
    rejectsInput({ datatype: 'UINT64', data: [-1, 1] }, 'ALOFT_INVALID_INPUT', /element 0 is -1; UINT64 elements must be integers from 0/);
    rejectsInput({ datatype: 'BOOL', data: [true, 2] }, 'ALOFT_INVALID_INPUT', /element 1 is 2; BOOL elements must be true or false \(0 and 1 are accepted\)/);
    rejectsInput({ datatype: 'BOOL', data: ['true', 1] }, 'ALOFT_INVALID_INPUT', /element 0 is the string "true"/);
    rejectsInput({ datatype: 'BYTES', data: ['a', 1] }, 'ALOFT_INVALID_INPUT', /element 1 is 1; BYTES elements must be strings/);
  });
});

describe('decodeInferRequest: binary', () => {
  it('reads binary inputs in order, aligned or not', () => {
    for (const pad of [0, 1, 2, 3]) {
      const header = { inputs: [
        { name: 'a', datatype: 'FP32', shape: [2], parameters: { binary_data_size: 8 } },
        { name: 'b', datatype: 'INT64', shape: [1], parameters: { binary_data_size: 8 } },
        { name: 'c', datatype: 'FP32', shape: [1], data: [9] },
      ] };
      const h = Buffer.from(JSON.stringify(header) + ' '.repeat(pad));
      const body = Buffer.concat([h, f32(1.5, -2), Buffer.from(new BigInt64Array([-5n]).buffer)]);
      const req = decodeInferRequest(body, h.length);
      assert.deepEqual(req.inputs.map((i) => i.data), [new Float32Array([1.5, -2]), new BigInt64Array([-5n]), new Float32Array([9])]);
    }
  });

  it('reads BYTES elements and BOOL bytes', () => {
    const bytes = Buffer.concat([Buffer.from([2, 0, 0, 0]), Buffer.from('hi'), Buffer.from([0, 0, 0, 0])]);
    const [body, hl] = framed({ inputs: [
      { name: 's', datatype: 'BYTES', shape: [2], parameters: { binary_data_size: bytes.length } },
      { name: 'b', datatype: 'BOOL', shape: [3], parameters: { binary_data_size: 3 } },
    ] }, bytes, Buffer.from([1, 0, 1]));
    const req = decodeInferRequest(body, hl);
    assert.deepEqual(req.inputs[0]!.data, [Buffer.from('hi'), Buffer.alloc(0)]);
    assert.deepEqual(req.inputs[1]!.data, new Uint8Array([1, 0, 1]));
  });

  it('rejects wrong sizes, missing header and extra bytes', () => {
    const bin = (shape: number[], size: unknown, datatype = 'FP32'): Record<string, unknown> => ({ inputs: [{ name: 'x', datatype, shape, parameters: { binary_data_size: size } }] });
    rejects(json(bin([2], 8)), undefined, 'ALOFT_BAD_REQUEST', /input 'x' is sent as binary \(parameters.binary_data_size\) but the request has no Inference-Header-Content-Length header/);
    rejects(...framed(bin([4], 12), f32(1, 2, 3)), 'ALOFT_BAD_REQUEST', /input 'x': binary_data_size is 12 but shape \[4\] of FP32 needs 16 bytes \(4 elements × 4 bytes\)/);
    rejects(...framed(bin([4], 16), f32(1, 2)), 'ALOFT_BAD_REQUEST', /input 'x': binary_data_size is 16 but only 8 bytes of binary data remain in the body/);
    rejects(...framed(bin([2], 8), f32(1, 2, 3)), 'ALOFT_BAD_REQUEST', /unexpected additional input data: 4 bytes follow the last binary input/);
    rejects(...framed({ inputs: [input({})] }, f32(1)), 'ALOFT_BAD_REQUEST', /unexpected additional input data: 4 bytes/);
    rejects(...framed(bin([2], -8), f32(1, 2)), 'ALOFT_BAD_REQUEST', /'binary_data_size' is -8; it must be a non-negative integer byte count/);
    rejects(...framed(bin([2], 2, 'BOOL'), Buffer.from([1, 2])), 'ALOFT_INVALID_INPUT', /input 'x': BOOL element 1 is the byte 2; binary BOOL elements must be 0 or 1/);
    const one = Buffer.concat([Buffer.from([1, 0, 0, 0]), Buffer.from('a')]);
    const cut = Buffer.concat([one, Buffer.from([0, 0, 0])]);
    rejects(...framed(bin([2], cut.length, 'BYTES'), cut), 'ALOFT_BAD_REQUEST', /input 'x': binary BYTES data ends after 1 of 2 elements/);
    rejects(...framed(bin([1], one.length + 2, 'BYTES'), one, Buffer.from([0, 0])), 'ALOFT_BAD_REQUEST', /input 'x': binary BYTES data has 2 bytes after its 1 elements/);
    const long = Buffer.concat([Buffer.from([9, 0, 0, 0]), Buffer.from('a')]);
    rejects(...framed(bin([1], long.length, 'BYTES'), long), 'ALOFT_BAD_REQUEST', /BYTES element 0 declares 9 bytes but only 1 remain/);
    rejects(...framed(bin([1000], 8, 'BYTES'), Buffer.alloc(8)), 'ALOFT_BAD_REQUEST', /1000 BYTES elements but its 8 bytes of binary data cannot hold that many/);
  });

  it('decodes a raw binary request with the signature, and refuses one without', () => {
    const sig: ModelSignature = {
      inputs: [{ name: 'features', datatype: 'FP32', shape: [-1, 3] }],
      outputs: [{ name: 'y', datatype: 'FP32', shape: [-1, 1] }],
      batchable: true,
    };
    const req = decodeInferRequest(f32(1, 2, 3), 0, { signature: sig });
    assert.deepEqual(req.inputs[0]!.shape, [1, 3]);
    assert.deepEqual(req.inputs[0]!.data, new Float32Array([1, 2, 3]));
    assert.equal(req.binaryOutput, true);
    const varLen: ModelSignature = { ...sig, inputs: [{ name: 'seq', datatype: 'FP32', shape: [-1, -1] }] };
    assert.deepEqual(decodeInferRequest(f32(1, 2, 3, 4), 0, { signature: varLen }).inputs[0]!.shape, [1, 4]);
    assert.throws(() => decodeInferRequest(f32(1, 2), 0, { signature: sig }), /8 bytes, but shape \[1, 3\] of FP32 needs 12/);
    rejects(f32(1, 2, 3), 0, 'ALOFT_BAD_REQUEST', /raw binary request/);
  });
});
