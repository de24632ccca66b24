/**
 * End-to-end positive protocol checks that go with the error tests: what a well-behaved
 * client relies on (id echo, compressed bodies, no Content-Type, health and metadata
 * bodies, repository index, statistics, binary tensor data). One real Aloft, one replica.
 */
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { deflateSync, gzipSync } from 'node:zlib';
import { Client } from 'undici';
import { binaryBody, featuresInput, inferBody, inferOnce, rowBytes } from '../helpers/credit-risk.js';
import { assertNoLeak, call, type Answer } from '../helpers/http.js';
import { startProject, type Project } from '../helpers/project.js';

const INFER = '/v2/models/credit-risk/infer';
const IHCL = 'inference-header-content-length';

let project: Project;
let base = '';
let expected = 0;

before(async () => {
  project = await startProject({ replicas: 1 });
  base = project.url;
  expected = await inferOnce(base);
});

after(async () => {
  await project?.close();
});

type Output = { name: string; datatype: string; shape: number[]; data?: number[]; parameters?: Record<string, unknown> };
type InferResponse = { id?: string; model_name: string; model_version: string; outputs: Output[] };

/** Assert a 200 JSON inference answer for ROW and return it. */
function assertInferOk(res: Answer): InferResponse {
  assert.equal(res.status, 200, `expected 200, got ${res.status}: ${res.text.slice(0, 500)}`);
  const body = res.json as InferResponse;
  assert.equal(body.model_name, 'credit-risk');
  assert.equal(body.model_version, '1');
  assert.deepEqual(body.outputs.map((o) => [o.name, o.datatype, o.shape]), [['probability', 'FP32', [1, 1]]]);
  assert.deepEqual(body.outputs[0]!.data, [expected]);
  return body;
}

/** Split a binary-extension response into its JSON header and the bytes after it. */
function splitBinary(raw: Buffer, headerLength: number): { json: InferResponse; rest: Buffer } {
  return { json: JSON.parse(raw.subarray(0, headerLength).toString('utf8')) as InferResponse, rest: raw.subarray(headerLength) };
}

async function rawCall(path: string, body: Buffer, headers: Record<string, string> = {}): Promise<{ status: number; headers: Record<string, unknown>; body: Buffer }> {
  const client = new Client(base);
  try {
    const res = await client.request({ path, method: 'POST', body, headers: { ...project.headers, ...headers } });
    return { status: res.statusCode, headers: res.headers, body: Buffer.from(await res.body.arrayBuffer()) };
  } finally {
    await client.close();
  }
}

const validJson = JSON.stringify(inferBody());

describe('inference requests', () => {
  it('echoes the request id', async () => {
    const body = assertInferOk(await call(`${base}${INFER}`, { method: 'POST', body: JSON.stringify(inferBody({ id: 'req-42 ✓' })) }));
    assert.equal(body.id, 'req-42 ✓');
  });
  it('gets an id assigned when the request has none, the same in the body and X-Request-Id', async () => {
    const res = await call(`${base}${INFER}`, { method: 'POST', body: validJson });
    const body = assertInferOk(res);
    assert.match(String(body.id), /^[0-9a-f]{10}-[0-9a-z]+$/);
    assert.equal(res.headers['x-request-id'], body.id);
  });
  it('versioned infer path works', async () => {
    assertInferOk(await call(`${base}/v2/models/credit-risk/versions/1/infer`, { method: 'POST', body: validJson }));
  });
  it('nested data following the shape works', async () => {
    const data = [featuresInput().data as number[]];
    assertInferOk(await call(`${base}${INFER}`, { method: 'POST', body: JSON.stringify({ inputs: [featuresInput({ data })] }) }));
  });
  it('works without a Content-Type header', async () => {
    const res = await rawCall(INFER, Buffer.from(validJson));
    assert.equal(res.status, 200, res.body.toString());
    assert.deepEqual((JSON.parse(res.body.toString()) as InferResponse).outputs[0]!.data, [expected]);
  });
  it('works whatever the Content-Type (text/plain, octet-stream)', async () => {
    for (const ct of ['text/plain', 'application/octet-stream', 'application/x-www-form-urlencoded']) {
      assertInferOk(await call(`${base}${INFER}`, { method: 'POST', body: validJson, headers: { 'content-type': ct } }));
    }
  });
  it('Content-Encoding: identity works', async () => {
    assertInferOk(await call(`${base}${INFER}`, { method: 'POST', body: validJson, headers: { 'content-encoding': 'identity' } }));
  });
  it('gzip-compressed body, chunked (no Content-Length)', async () => {
    const body = Readable.from([gzipSync(validJson)]);
    assertInferOk(await call(`${base}${INFER}`, { method: 'POST', body, headers: { 'content-encoding': 'gzip' } }));
  });
  it('gzip-compressed body with Content-Length', async () => {
    assertInferOk(await call(`${base}${INFER}`, { method: 'POST', body: gzipSync(validJson), headers: { 'content-encoding': 'gzip' } }));
  });
  it('x-gzip-compressed body with Content-Length', async () => {
    assertInferOk(await call(`${base}${INFER}`, { method: 'POST', body: gzipSync(validJson), headers: { 'content-encoding': 'x-gzip' } }));
  });
  it('deflate-compressed body with Content-Length', async () => {
    assertInferOk(await call(`${base}${INFER}`, { method: 'POST', body: deflateSync(validJson), headers: { 'content-encoding': 'deflate' } }));
  });
  it('binary tensor data request, JSON response', async () => {
    const header = { inputs: [featuresInput({ data: undefined, parameters: { binary_data_size: 88 } })] };
    const { body, headerLength } = binaryBody(header, rowBytes());
    const res = await rawCall(INFER, body, { [IHCL]: String(headerLength), 'content-type': 'application/octet-stream' });
    assert.equal(res.status, 200, res.body.toString());
    assert.equal(res.headers['content-type'], 'application/json');
    assert.deepEqual((JSON.parse(res.body.toString()) as InferResponse).outputs[0]!.data, [expected]);
  });
  it('binary_data_output: the output comes back as binary with Inference-Header-Content-Length', async () => {
    const res = await rawCall(INFER, Buffer.from(JSON.stringify(inferBody({ parameters: { binary_data_output: true } }))));
    assert.equal(res.status, 200, res.body.toString());
    assert.equal(res.headers['content-type'], 'application/octet-stream');
    const headerLength = Number(res.headers[IHCL]);
    assert.ok(Number.isInteger(headerLength) && headerLength > 0 && headerLength < res.body.length);
    const { json, rest } = splitBinary(res.body, headerLength);
    const out = json.outputs[0]!;
    assert.equal(out.data, undefined);
    assert.equal(out.parameters?.binary_data_size, 4);
    assert.equal(rest.length, 4);
    assert.equal(rest.readFloatLE(0), expected);
  });
  it('raw binary request (Inference-Header-Content-Length: 0)', async () => {
    const res = await rawCall(INFER, rowBytes(), { [IHCL]: '0' });
    assert.equal(res.status, 200, res.body.toString());
    const { rest } = splitBinary(res.body, Number(res.headers[IHCL]));
    assert.equal(rest.readFloatLE(0), expected);
  });
});

describe('health, metadata, repository, statistics', () => {
  it('GET /v2/health/live → {"live":true}', async () => {
    const res = await call(`${base}/v2/health/live`);
    assert.equal(res.status, 200);
    assert.deepEqual(res.json, { live: true });
  });
  it('GET /v2/health/ready → {"ready":true}', async () => {
    const res = await call(`${base}/v2/health/ready`);
    assert.equal(res.status, 200);
    assert.deepEqual(res.json, { ready: true });
  });
  it('GET /v2/models/credit-risk/ready (and versioned) → {"name","ready":true}', async () => {
    for (const path of ['/v2/models/credit-risk/ready', '/v2/models/credit-risk/versions/1/ready']) {
      const res = await call(`${base}${path}`);
      assert.equal(res.status, 200);
      assert.deepEqual(res.json, { name: 'credit-risk', ready: true });
    }
  });
  it('GET /v2 (and /v2/) server metadata: name, version, extensions incl. binary_tensor_data', async () => {
    for (const path of ['/v2', '/v2/']) {
      const res = await call(`${base}${path}`);
      assert.equal(res.status, 200);
      const meta = res.json as { name: unknown; version: unknown; extensions: unknown };
      assert.equal(meta.name, 'aloft');
      assert.equal(typeof meta.version, 'string');
      assert.match(meta.version as string, /^\d+\.\d+\.\d+/);
      assert.ok(Array.isArray(meta.extensions));
      for (const ext of ['binary_tensor_data', 'model_repository', 'statistics']) {
        assert.ok((meta.extensions as string[]).includes(ext), `extensions include ${ext}`);
      }
    }
  });
  it('GET /v2/models/credit-risk model metadata: the signature', async () => {
    const res = await call(`${base}/v2/models/credit-risk`);
    assert.equal(res.status, 200);
    const meta = res.json as Record<string, unknown>;
    assert.equal(meta.name, 'credit-risk');
    assert.deepEqual(meta.versions, ['1']);
    assert.deepEqual(meta.inputs, [{ name: 'features', datatype: 'FP32', shape: [-1, 22] }]);
    assert.deepEqual(meta.outputs, [{ name: 'probability', datatype: 'FP32', shape: [-1, 1] }]);
    assertNoLeak(res.text);
  });
  it('GET /v2/models lists the deployment', async () => {
    const res = await call(`${base}/v2/models`);
    assert.equal(res.status, 200);
    assert.deepEqual(res.json, { models: ['credit-risk'] });
  });
  it('POST /v2/repository/index lists the model READY (empty body, {} and {"ready":true})', async () => {
    for (const body of ['', '{}', '{"ready":true}']) {
      const res = await call(`${base}/v2/repository/index`, { method: 'POST', body });
      assert.equal(res.status, 200, res.text);
      assert.deepEqual(res.json, [{ name: 'credit-risk', version: '1', state: 'READY' }]);
    }
  });
  it('statistics count the inferences', async () => {
    const stats = async (path: string) => {
      const res = await call(`${base}${path}`);
      assert.equal(res.status, 200, res.text);
      const list = (res.json as { model_stats: { name: string; version: string; inference_count: number; execution_count: number }[] }).model_stats;
      const s = list.find((m) => m.name === 'credit-risk' && m.version === '1');
      assert.ok(s, `stats for credit-risk 1 in ${res.text.slice(0, 300)}`);
      return s;
    };
    const before = await stats('/v2/models/credit-risk/stats');
    for (let i = 0; i < 3; i++) await inferOnce(base, expected);
    // A rejected request does not count as an inference.
    assert.equal((await call(`${base}${INFER}`, { method: 'POST', body: '{' })).status, 400);
    const afterAll = await stats('/v2/models/stats');
    const afterOne = await stats('/v2/models/credit-risk/stats');
    const afterVersioned = await stats('/v2/models/credit-risk/versions/1/stats');
    assert.equal(afterOne.inference_count, before.inference_count + 3);
    assert.equal(afterAll.inference_count, afterOne.inference_count);
    assert.equal(afterVersioned.inference_count, afterOne.inference_count);
    assert.ok(afterOne.execution_count >= before.execution_count + 1);
  });
});
