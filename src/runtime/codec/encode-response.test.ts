import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Tensor } from '../tensor.js';
import { decodeInferResponse } from './decode-response.js';
import { encodeInferResponse } from './encode-response.js';
import type { EncodedBody, RequestedOutput } from './types.js';

const a: Tensor = { name: 'a', datatype: 'FP32', shape: [2], data: new Float32Array([1, 2]) };
const b: Tensor = { name: 'b', datatype: 'INT64', shape: [1, 2], data: new BigInt64Array([3n, -4n]) };
const res = { modelName: 'm', modelVersion: '1', outputs: [a, b] };

interface Header { outputs: { name: string; parameters?: { binary_data_size?: number }; data?: unknown[] }[] }

/** Which outputs came back, in order, and which of them as binary. */
function shape(enc: EncodedBody): { names: string[]; binary: string[] } {
  const header = JSON.parse(enc.body.toString('utf8', 0, enc.headerLength ?? enc.body.length)) as Header;
  return {
    names: header.outputs.map((o) => o.name),
    binary: header.outputs.filter((o) => o.parameters?.binary_data_size !== undefined).map((o) => o.name),
  };
}

function out(name: string, binaryData?: boolean): RequestedOutput {
  return binaryData === undefined ? { name } : { name, parameters: { binary_data: binaryData } };
}

describe('encodeInferResponse: which outputs, JSON or binary', () => {
  it('returns every output as JSON by default', () => {
    const enc = encodeInferResponse(res);
    assert.equal(enc.contentType, 'application/json');
    assert.equal(enc.headerLength, undefined);
    assert.equal(
      enc.body.toString(),
      '{"model_name":"m","model_version":"1","outputs":[{"name":"a","datatype":"FP32","shape":[2],"data":[1,2]},' +
        '{"name":"b","datatype":"INT64","shape":[1,2],"data":[3,-4]}]}',
    );
  });

  it('returns every output as binary with binary_data_output', () => {
    const enc = encodeInferResponse(res, { binaryOutput: true });
    assert.equal(enc.contentType, 'application/octet-stream');
    assert.deepEqual(shape(enc), { names: ['a', 'b'], binary: ['a', 'b'] });
    assert.equal(enc.body.length, enc.headerLength! + 8 + 16);
    assert.deepEqual(decodeInferResponse(enc.body, enc.headerLength).outputs, [a, b]);
  });

  it('returns only the requested outputs, in the requested order', () => {
    assert.deepEqual(shape(encodeInferResponse(res, { outputs: [out('b'), out('a')] })), { names: ['b', 'a'], binary: [] });
    assert.deepEqual(shape(encodeInferResponse(res, { outputs: [out('b')] })), { names: ['b'], binary: [] });
  });

  it('lets per-output binary_data override binary_data_output (the spec, not Triton)', () => {
    assert.deepEqual(shape(encodeInferResponse(res, { outputs: [out('a', true), out('b')] })), { names: ['a', 'b'], binary: ['a'] });
    assert.deepEqual(shape(encodeInferResponse(res, { binaryOutput: true, outputs: [out('a', false), out('b')] })), { names: ['a', 'b'], binary: ['b'] });
    // Triton would return 'a' as JSON here; the extension's text says the request default applies.
    assert.deepEqual(shape(encodeInferResponse(res, { binaryOutput: true, outputs: [out('a')] })), { names: ['a'], binary: ['a'] });
    assert.deepEqual(shape(encodeInferResponse(res, { binaryOutput: false, outputs: [out('a', true)] })), { names: ['a'], binary: ['a'] });
  });

  it('puts binary bytes after the JSON in output order, mixed with JSON outputs', () => {
    const enc = encodeInferResponse(res, { outputs: [out('b', true), out('a', false)] });
    assert.deepEqual(enc.body.subarray(enc.headerLength!), Buffer.from(new BigInt64Array([3n, -4n]).buffer));
    assert.deepEqual(decodeInferResponse(enc.body, enc.headerLength).outputs, [b, a]);
  });

  it('frames zero-element binary outputs as binary', () => {
    const empty: Tensor = { name: 'e', datatype: 'FP32', shape: [0, 4], data: new Float32Array(0) };
    const enc = encodeInferResponse({ modelName: 'm', outputs: [empty] }, { binaryOutput: true });
    assert.equal(enc.contentType, 'application/octet-stream');
    assert.equal(enc.body.length, enc.headerLength);
    assert.match(enc.body.toString(), /"parameters":\{"binary_data_size":0\}/);
  });

  it('echoes id and writes BOOL and BYTES as JSON values', () => {
    const flags: Tensor = { name: 'f', datatype: 'BOOL', shape: [2], data: new Uint8Array([1, 0]) };
    const labels: Tensor = { name: 'l', datatype: 'BYTES', shape: [2], data: [Buffer.from('yes'), Buffer.from('"no"')] };
    const enc = encodeInferResponse({ modelName: 'm', id: 'req-7', outputs: [flags, labels] });
    const body = JSON.parse(enc.body.toString()) as Record<string, unknown>;
    assert.equal(body.id, 'req-7');
    assert.equal(body.model_version, undefined);
    assert.deepEqual((body.outputs as { data: unknown }[]).map((o) => o.data), [[true, false], ['yes', '"no"']]);
  });

  it('rejects an unknown requested output with 400', () => {
    assert.throws(() => encodeInferResponse(res, { outputs: [out('zzz')] }), { code: 'ALOFT_BAD_REQUEST', status: 400, message: /unknown output 'zzz'; the model returns 'a', 'b'/ });
  });

  it('refuses a tensor whose data disagrees with its shape', () => {
    const bad: Tensor = { name: 'x', datatype: 'FP32', shape: [3], data: new Float32Array(2) };
    assert.throws(() => encodeInferResponse({ modelName: 'm', outputs: [bad] }), { code: 'ALOFT_INTERNAL' });
  });
});

describe('decodeInferResponse errors', () => {
  it('reports malformed responses as replica failures', () => {
    assert.throws(() => decodeInferResponse(Buffer.from('{"outputs":[]}')), { code: 'ALOFT_REPLICA_FAILED', status: 500, message: /no string 'model_name'/ });
    assert.throws(() => decodeInferResponse(Buffer.from('<html>')), { code: 'ALOFT_REPLICA_FAILED', message: /inference response body is not valid JSON/ });
    const enc = encodeInferResponse(res, { binaryOutput: true });
    assert.throws(() => decodeInferResponse(enc.body.subarray(0, enc.body.length - 1), enc.headerLength), { code: 'ALOFT_REPLICA_FAILED', message: /only 15 bytes of binary data remain/ });
  });
});
