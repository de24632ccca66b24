/**
 * End-to-end error handling of the gateway, against a real Aloft (registry, one replica
 * process, gateway on 127.0.0.1). Every error case checks the exact status, that the body
 * is exactly {"error": string} with a message naming what was wrong and what is expected,
 * that nothing internal leaks, and afterwards that the gateway still serves a correct
 * inference.
 *
 * The project has a 64 KiB body limit (for the 413 cases) and a second deployment,
 * `standby`, scaled to zero replicas with a 200 ms timeout (for the 503 cases).
 */
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { after, afterEach, before, describe, it } from 'node:test';
import { deflateSync, gzipSync } from 'node:zlib';
import { Client } from 'undici';
import { binaryBody, featuresInput, inferBody, inferOnce, rowBytes } from '../helpers/credit-risk.js';
import { assertError, assertNoLeak, call, type Answer, type CallOptions } from '../helpers/http.js';
import { startProject, type Project } from '../helpers/project.js';

const BODY_LIMIT = 64 * 1024;
const INFER = '/v2/models/credit-risk/infer';
const IHCL = 'inference-header-content-length';

let project: Project;
let base = '';
/** The probability the model gives ROW, taken once the server is up. */
let expected = 0;

before(async () => {
  project = await startProject({
    replicas: 1,
    yaml: [
      'server: { bodyLimit: 64KiB }',
      'deployments:',
      '  standby: { model: credit-risk, replicas: 0, timeout: 200ms }',
    ].join('\n'),
  });
  base = project.url;
  expected = await inferOnce(base);
});

after(async () => {
  await project?.close();
});

/** The gateway is alive and answers a valid inference with the same result as before. */
async function assertStillServing(): Promise<void> {
  await inferOnce(base, expected);
  const live = await call(`${base}/v2/health/live`);
  assert.equal(live.status, 200);
  assert.deepEqual(live.json, { live: true });
}

afterEach(async () => {
  await assertStillServing();
});

function send(path: string, opts: CallOptions = {}): Promise<Answer> {
  return call(`${base}${path}`, opts);
}

/** POST to the credit-risk infer endpoint: objects as JSON, strings/buffers as is. */
function infer(body: unknown, headers?: Record<string, string>, path = INFER): Promise<Answer> {
  const raw = typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body);
  return send(path, { method: 'POST', body: raw, ...(headers ? { headers } : {}) });
}

/** A request sent with its path exactly as written (undici's `request(url)` would normalize '..'). */
async function sendRawPath(path: string, method: 'GET' | 'POST', body?: string): Promise<Answer> {
  const client = new Client(base);
  try {
    const res = await client.request({ path, method, headers: project.headers, ...(body !== undefined ? { body } : {}) });
    const text = await res.body.text();
    let json: unknown;
    try { json = JSON.parse(text); } catch { json = undefined; }
    return { status: res.statusCode, headers: res.headers as Answer['headers'], text, json };
  } finally {
    await client.close();
  }
}

const validJson = JSON.stringify(inferBody());

describe('400: the body is not an inference request', () => {
  it('malformed JSON', async () => {
    assertError(await infer('{"inputs": [}'), 400, ['not valid JSON', 'position']);
  });
  it('truncated JSON', async () => {
    assertError(await infer(validJson.slice(0, Math.floor(validJson.length / 2))), 400, ['not valid JSON', 'end of input']);
  });
  it('empty body', async () => {
    assertError(await infer(''), 400, ['empty', 'inputs']);
  });
  it('empty body with Content-Type: application/json', async () => {
    assertError(await infer('', { 'content-type': 'application/json' }), 400, ['empty', 'inputs']);
  });
  it('body is a JSON array', async () => {
    assertError(await infer([inferBody()]), 400, ['JSON object', "'inputs'", 'array']);
  });
  it('body is a JSON number', async () => {
    assertError(await infer('42'), 400, ['JSON object', "'inputs'", '42']);
  });
  it('body is JSON null', async () => {
    assertError(await infer('null'), 400, ['JSON object', 'null']);
  });
  it('body is not UTF-8 JSON at all (binary garbage)', async () => {
    assertError(await infer(Buffer.from([0xff, 0xfe, 0x00, 0x01, 0x80])), 400, ['not valid JSON']);
  });
});

describe('400: request fields', () => {
  it('missing `inputs`', async () => {
    assertError(await infer({ id: 'x' }), 400, ["'inputs'", 'array', 'missing']);
  });
  it('`inputs` is an object, not an array', async () => {
    assertError(await infer({ inputs: featuresInput() }), 400, ["'inputs'", 'array', 'object']);
  });
  it('`inputs` is a string', async () => {
    assertError(await infer({ inputs: 'features' }), 400, ["'inputs'", 'array', 'string']);
  });
  it('an input is not an object', async () => {
    assertError(await infer({ inputs: [42] }), 400, ['inputs[0]', 'object']);
  });
  it('input without a name', async () => {
    assertError(await infer({ inputs: [featuresInput({ name: undefined })] }), 400, ['inputs[0]', "'name'", 'missing']);
  });
  it('input with an empty name', async () => {
    assertError(await infer({ inputs: [featuresInput({ name: '' })] }), 400, ['inputs[0]', "'name'"]);
  });
  it('input without a shape', async () => {
    assertError(await infer({ inputs: [featuresInput({ shape: undefined })] }), 400, ["'features'", "'shape'", 'missing']);
  });
  it('input without a datatype', async () => {
    assertError(await infer({ inputs: [featuresInput({ datatype: undefined })] }), 400, ["'features'", "'datatype'", 'FP32']);
  });
  it('input without data', async () => {
    assertError(await infer({ inputs: [featuresInput({ data: undefined })] }), 400, ["'features'", "'data'"]);
  });
  it('the same input twice', async () => {
    assertError(await infer({ inputs: [featuresInput(), featuresInput()] }), 400, ["'features'", 'more than once']);
  });
  it('`id` is a number, not a string', async () => {
    assertError(await infer(inferBody({ id: 7 })), 400, ["'id'", 'string', '7']);
  });
  it('`parameters` is not an object', async () => {
    assertError(await infer(inferBody({ parameters: [1] })), 400, ["'parameters'", 'object']);
  });
  it('unknown requested output', async () => {
    assertError(await infer(inferBody({ outputs: [{ name: 'prob' }] })), 400, ["'prob'", "'probability'"]);
  });
  it('`outputs` is not an array', async () => {
    assertError(await infer(inferBody({ outputs: { name: 'probability' } })), 400, ["'outputs'", 'array']);
  });
});

describe('400: inputs against the model signature', () => {
  it('unknown input name (lists the expected one)', async () => {
    assertError(await infer({ inputs: [featuresInput({ name: 'feature' })] }), 400, ["'feature'", "'features'", 'inputs are']);
  });
  it('missing required input', async () => {
    assertError(await infer({ inputs: [] }), 400, ['missing input', "'features'"]);
  });
  it('wrong datatype (FP64 where FP32 is expected)', async () => {
    assertError(await infer({ inputs: [featuresInput({ datatype: 'FP64' })] }), 400, ["'features'", 'FP64', 'expects FP32']);
  });
  it("unknown datatype string ('FLOAT32')", async () => {
    assertError(await infer({ inputs: [featuresInput({ datatype: 'FLOAT32' })] }), 400, ["'features'", 'FLOAT32', 'not supported', 'FP32']);
  });
  it("lowercase datatype ('fp32') is unknown (datatypes are case-sensitive)", async () => {
    assertError(await infer({ inputs: [featuresInput({ datatype: 'fp32' })] }), 400, ["'features'", 'fp32', 'case-sensitive']);
  });
  it('shape of the wrong rank', async () => {
    assertError(await infer({ inputs: [featuresInput({ shape: [22] })] }), 400, ["'features'", 'rank 1', 'rank 2', '[-1, 22]']);
  });
  it('fixed dimension mismatch (21 vs 22)', async () => {
    const data = featuresInput().data as number[];
    assertError(await infer({ inputs: [featuresInput({ shape: [1, 21], data: data.slice(0, 21) })] }), 400,
      ['dimension 1', "'features'", '21', 'expects 22']);
  });
  it('element count differs from the product of the shape', async () => {
    assertError(await infer({ inputs: [featuresInput({ shape: [2, 22] })] }), 400, ["'features'", '22 elements', '44']);
  });
  it('huge but valid shape with tiny data is refused without allocating', async () => {
    assertError(await infer({ inputs: [featuresInput({ shape: [1_000_000_000, 22] })] }), 400, ["'features'", '22 elements', '22000000000']);
  });
  it('nested data that does not follow the shape', async () => {
    assertError(await infer({ inputs: [featuresInput({ shape: [2, 22], data: [[1, 2], [3, 4]] })] }), 400, ["'features'", 'nested', '[2, 22]']);
  });
});

describe('400: element values', () => {
  const withElement = (v: unknown) => {
    const data = [...(featuresInput().data as unknown[])];
    data[4] = v;
    return { inputs: [featuresInput({ data })] };
  };
  it('NaN (not valid JSON)', async () => {
    assertError(await infer(JSON.stringify(withElement(0)).replace(',0,', ',NaN,')), 400, ['not valid JSON', 'position']);
  });
  it('Infinity literal (not valid JSON)', async () => {
    assertError(await infer(JSON.stringify(withElement(0)).replace(',0,', ',Infinity,')), 400, ['not valid JSON', 'position']);
  });
  it('a number that overflows to Infinity (1e999)', async () => {
    assertError(await infer(JSON.stringify(withElement(0)).replace(',0,', ',1e999,')), 400, ["'features'", 'element 4', 'Infinity', 'finite']);
  });
  it('a number out of the FP32 range (1e39)', async () => {
    assertError(await infer(withElement(1e39)), 400, ["'features'", 'element 4', 'FP32 range']);
  });
  it('a numeric string ("1.5")', async () => {
    assertError(await infer(withElement('1.5')), 400, ["'features'", 'element 4', '"1.5"', 'FP32', 'numbers']);
  });
  it('null', async () => {
    assertError(await infer(withElement(null)), 400, ["'features'", 'element 4', 'null', 'finite numbers']);
  });
  it('a boolean', async () => {
    assertError(await infer(withElement(true)), 400, ["'features'", 'element 4', 'true']);
  });
  it('BYTES where numbers are expected', async () => {
    const data = (featuresInput().data as number[]).map(String);
    assertError(await infer({ inputs: [featuresInput({ datatype: 'BYTES', data })] }), 400, ["'features'", 'BYTES', 'expects FP32']);
  });
  it('FP16 in JSON', async () => {
    assertError(await infer({ inputs: [featuresInput({ datatype: 'FP16' })] }), 400, ["'features'", 'FP16', 'JSON', 'binary']);
  });
});

describe('400: shapes', () => {
  it('negative dimension', async () => {
    assertError(await infer({ inputs: [featuresInput({ shape: [-1, 22] })] }), 400, ["'features'", 'dimension 0', '-1', 'non-negative integers']);
  });
  it('non-integer dimension', async () => {
    assertError(await infer({ inputs: [featuresInput({ shape: [1.5, 22] })] }), 400, ["'features'", 'dimension 0', '1.5', 'non-negative integers']);
  });
  it('string dimension', async () => {
    assertError(await infer({ inputs: [featuresInput({ shape: ['1', 22] })] }), 400, ["'features'", 'dimension 0', '"1"', 'non-negative integers']);
  });
  it('shape whose element count overflows ([2^40, 2^40])', async () => {
    assertError(await infer({ inputs: [featuresInput({ shape: [2 ** 40, 2 ** 40] })] }), 400, ["'features'", '2^53']);
  });
  it('shape is not an array', async () => {
    assertError(await infer({ inputs: [featuresInput({ shape: 22 })] }), 400, ["'features'", "'shape'", 'array']);
  });
});

describe('400: binary tensor data framing', () => {
  const header = { inputs: [featuresInput({ data: undefined, parameters: { binary_data_size: 88 } })] };
  it('Inference-Header-Content-Length is not a number', async () => {
    const { body } = binaryBody(header, rowBytes());
    assertError(await infer(body, { [IHCL]: 'abc' }), 400, ['Inference-Header-Content-Length', "'abc'", 'integer']);
  });
  it('Inference-Header-Content-Length is negative', async () => {
    const { body } = binaryBody(header, rowBytes());
    assertError(await infer(body, { [IHCL]: '-5' }), 400, ['Inference-Header-Content-Length', "'-5'", 'non-negative']);
  });
  it('Inference-Header-Content-Length is larger than the body', async () => {
    const { body } = binaryBody(header, rowBytes());
    assertError(await infer(body, { [IHCL]: String(body.length + 1000) }), 400,
      ['Inference-Header-Content-Length', String(body.length + 1000), `${body.length} bytes`]);
  });
  it('Inference-Header-Content-Length cuts the JSON short', async () => {
    const { body, headerLength } = binaryBody(header, rowBytes());
    assertError(await infer(body, { [IHCL]: String(headerLength - 5) }), 400, ['not valid JSON', 'Inference-Header-Content-Length']);
  });
  it('binary input with too few bytes', async () => {
    const { body, headerLength } = binaryBody(header, rowBytes().subarray(0, 80));
    assertError(await infer(body, { [IHCL]: String(headerLength) }), 400, ["'features'", 'binary_data_size is 88', 'only 80 bytes']);
  });
  it('binary input with too many bytes', async () => {
    const { body, headerLength } = binaryBody(header, Buffer.concat([rowBytes(), Buffer.alloc(8)]));
    assertError(await infer(body, { [IHCL]: String(headerLength) }), 400, ['unexpected additional input data', '8 bytes']);
  });
  it('binary_data_size disagrees with the shape', async () => {
    const h = { inputs: [featuresInput({ data: undefined, parameters: { binary_data_size: 84 } })] };
    const { body, headerLength } = binaryBody(h, rowBytes().subarray(0, 84));
    assertError(await infer(body, { [IHCL]: String(headerLength) }), 400, ["'features'", 'binary_data_size is 84', '[1, 22]', '88 bytes']);
  });
  it('binary_data_size and data both present', async () => {
    assertError(await infer({ inputs: [featuresInput({ parameters: { binary_data_size: 88 } })] }), 400, ["'features'", "'data'", 'binary_data_size', 'exactly one']);
  });
  it('binary_data_size without Inference-Header-Content-Length (JSON part only)', async () => {
    assertError(await infer(header), 400, ["'features'", 'binary_data_size', 'Inference-Header-Content-Length']);
  });
  it('JSON followed by binary bytes without Inference-Header-Content-Length', async () => {
    const { body } = binaryBody(header, rowBytes());
    assertError(await infer(body), 400, ['not valid JSON', 'after the end of the JSON value']);
  });
  it('binary_data_size is not an integer', async () => {
    const h = { inputs: [featuresInput({ data: undefined, parameters: { binary_data_size: 'big' } })] };
    const { body, headerLength } = binaryBody(h, rowBytes());
    assertError(await infer(body, { [IHCL]: String(headerLength) }), 400, ["'features'", 'binary_data_size', 'non-negative integer']);
  });
});

describe('404: what the request addresses does not exist', () => {
  it('unknown model (suggests the right one)', async () => {
    assertError(await infer(inferBody(), undefined, '/v2/models/credit-risc/infer'), 404, ["'credit-risc'", "did you mean 'credit-risk'"]);
  });
  it('unknown model on metadata, ready and stats', async () => {
    for (const path of ['/v2/models/credit-risc', '/v2/models/credit-risc/ready', '/v2/models/credit-risc/stats']) {
      assertError(await send(path), 404, ["'credit-risc'", "'credit-risk'"]);
    }
  });
  it('unknown version (/versions/9)', async () => {
    assertError(await infer(inferBody(), undefined, '/v2/models/credit-risk/versions/9/infer'), 404, ["'credit-risk'", "'9'", 'version 1']);
  });
  it('non-numeric version', async () => {
    assertError(await infer(inferBody(), undefined, '/v2/models/credit-risk/versions/latest/infer'), 404, ["'credit-risk'", "'latest'", 'version 1']);
  });
  it('negative version', async () => {
    assertError(await send('/v2/models/credit-risk/versions/-1'), 404, ["'-1'", 'version 1']);
  });
  it('unknown route (GET /v2/foo)', async () => {
    assertError(await send('/v2/foo'), 404, ['/v2/foo', 'GET /v2']);
  });
  it('unknown route (POST /v2/models/credit-risk/predict)', async () => {
    assertError(await infer(inferBody(), undefined, '/v2/models/credit-risk/predict'), 404, ['/v2/models/credit-risk/predict']);
  });
  it('path traversal with encoded slashes (..%2F..%2Fetc%2Fpasswd)', async () => {
    const res = await infer(inferBody(), undefined, '/v2/models/..%2F..%2Fetc%2Fpasswd/infer');
    assertError(res, 404, ['not served', 'credit-risk']);
    assert.doesNotMatch(res.text, /root:/);
  });
  it('path traversal with literal ../ segments', async () => {
    const res = await sendRawPath('/v2/models/../../etc/passwd/infer', 'POST', validJson);
    assertError(res, 404, ['no route']);
    assert.doesNotMatch(res.text, /root:/);
  });
  it('encoded dot segments (%2e%2e)', async () => {
    assertError(await sendRawPath('/v2/models/%2e%2e/infer', 'POST', validJson), 404, ['not served']);
  });
  it('NUL byte in the model name', async () => {
    assertError(await infer(inferBody(), undefined, '/v2/models/%00/infer'), 404, ['not served']);
  });
  it('non-ASCII model name', async () => {
    assertError(await infer(inferBody(), undefined, '/v2/models/cr%C3%A9dit-risk/infer'), 404, ['crédit-risk', 'not served']);
  });
  it('quotes and angle brackets in the model name', async () => {
    const res = await infer(inferBody(), undefined, '/v2/models/%3Cscript%3E%22x/infer');
    assertError(res, 404, ['not served']);
  });
  // Fastify's frameworkErrors are not routed through the gateway's error shape (see report).
  it('invalid percent-encoding in the path answers 400 {"error"}', async () => {
    assertError(await infer(inferBody(), undefined, '/v2/models/%E0%A4%A/infer'), 400, ['URL']);
  });
  it('model name over the router\'s 256-character limit answers 414 {"error"}', async () => {
    assertError(await infer(inferBody(), undefined, `/v2/models/${'a'.repeat(300)}/infer`), 414, []);
  });
});

describe('405: known path, wrong method', () => {
  it('GET on /infer (Allow: POST)', async () => {
    const res = await send(INFER);
    assertError(res, 405, ['GET', 'POST']);
    assert.equal(res.headers.allow, 'POST');
  });
  it('PUT on a versioned /infer (Allow: POST)', async () => {
    const res = await send('/v2/models/credit-risk/versions/1/infer', { method: 'PUT', body: validJson });
    assertError(res, 405, ['PUT', 'POST']);
    assert.equal(res.headers.allow, 'POST');
  });
  it('POST on /v2/health/live (Allow: GET)', async () => {
    const res = await send('/v2/health/live', { method: 'POST', body: '{}' });
    assertError(res, 405, ['POST', 'GET']);
    assert.equal(res.headers.allow, 'GET');
  });
  it('DELETE on model metadata (Allow: GET)', async () => {
    const res = await send('/v2/models/credit-risk', { method: 'DELETE' });
    assertError(res, 405, ['DELETE', 'GET']);
    assert.equal(res.headers.allow, 'GET');
  });
  it('GET on /v2/repository/index (Allow: POST)', async () => {
    const res = await send('/v2/repository/index');
    assertError(res, 405, ['GET', 'POST']);
    assert.equal(res.headers.allow, 'POST');
  });
});

describe('413: body over the limit (64 KiB)', () => {
  it('raw body over the limit (with Content-Length)', async () => {
    assertError(await infer(Buffer.alloc(BODY_LIMIT + 1, 0x20)), 413, [String(BODY_LIMIT), 'body limit']);
  });
  it('raw body over the limit (chunked, no Content-Length)', async () => {
    const chunk = Buffer.alloc(16 * 1024, 0x20);
    const body = Readable.from(Array.from({ length: 8 }, () => chunk));
    assertError(await send(INFER, { method: 'POST', body }), 413, [String(BODY_LIMIT), 'body limit']);
  });
  it('gzip decompression bomb (50 MB of zeros in ~50 KB)', async () => {
    const bomb = gzipSync(Buffer.alloc(50_000_000));
    assert.ok(bomb.length < BODY_LIMIT, 'the compressed bomb itself is under the limit');
    assertError(await infer(bomb, { 'content-encoding': 'gzip' }), 413, [String(BODY_LIMIT), 'decompression']);
  });
  it('deflate decompression bomb', async () => {
    const bomb = deflateSync(Buffer.alloc(50_000_000));
    assertError(await infer(bomb, { 'content-encoding': 'deflate' }), 413, [String(BODY_LIMIT)]);
  });
});

describe('415 / 400: Content-Encoding', () => {
  it('Content-Encoding: br', async () => {
    assertError(await infer(validJson, { 'content-encoding': 'br' }), 415, ["'br'", 'gzip', 'deflate']);
  });
  it('Content-Encoding: xyz', async () => {
    assertError(await infer(validJson, { 'content-encoding': 'xyz' }), 415, ["'xyz'", 'gzip', 'deflate']);
  });
  it('invalid gzip data', async () => {
    assertError(await infer(Buffer.from('this is not gzip'), { 'content-encoding': 'gzip' }), 400, ['Content-Encoding']);
  });
  it('truncated gzip data', async () => {
    const gz = gzipSync(validJson);
    assertError(await infer(gz.subarray(0, gz.length - 12), { 'content-encoding': 'gzip' }), 400, ['Content-Encoding']);
  });
  it('invalid deflate data', async () => {
    assertError(await infer(Buffer.from('this is not deflate'), { 'content-encoding': 'deflate' }), 400, ['Content-Encoding']);
  });
});

describe('503: a deployment declared with no replicas (standby: replicas 0, timeout 200ms)', () => {
  it('infer answers 503 at once, saying it has replicas: 0 (nothing will start, so it does not wait for the deadline)', async () => {
    const msg = assertError(await infer(inferBody(), undefined, '/v2/models/standby/infer'), 503, ["'standby'", 'replicas: 0', 'serves nothing']);
    assert.doesNotMatch(msg, /deadline/, 'refused before queueing, not after waiting for the deadline');
  });
  it('model ready answers 503 naming the deployment', async () => {
    assertError(await send('/v2/models/standby/ready'), 503, ["'standby'", 'not ready', 'replicas: 0']);
  });
  it('server ready stays 200: a deployment that serves nothing on purpose does not take the healthy one out of a load balancer', async () => {
    const res = await send('/v2/health/ready');
    assert.equal(res.status, 200, res.text);
    const ready = await send('/v2/models/credit-risk/ready');
    assert.equal(ready.status, 200);
    assert.deepEqual(ready.json, { name: 'credit-risk', ready: true });
  });
  it('the repository index shows standby UNAVAILABLE and credit-risk READY', async () => {
    const res = await send('/v2/repository/index', { method: 'POST', body: '{}' });
    assert.equal(res.status, 200);
    const list = res.json as { name: string; state: string }[];
    assert.equal(list.find((m) => m.name === 'standby')?.state, 'UNAVAILABLE');
    assert.equal(list.find((m) => m.name === 'credit-risk')?.state, 'READY');
    assertNoLeak(res.text);
  });
});

describe('every error answer of the infer path carries a request id', () => {
  it('one it assigns, or the x-request-id the request gave', async () => {
    const assigned = await infer({ inputs: 5 });
    assert.equal(assigned.status, 400);
    assert.match(String(assigned.headers['x-request-id']), /^[0-9a-f]{10}-[0-9a-z]+$/);
    const given = await infer({ inputs: 5 }, { 'x-request-id': 'trace-42' });
    assert.equal(given.headers['x-request-id'], 'trace-42');
    const standby = await infer(inferBody(), { 'x-request-id': 'trace-43' }, '/v2/models/standby/infer');
    assert.deepEqual([standby.status, standby.headers['x-request-id']], [503, 'trace-43']);
    const other = await infer({ inputs: 5 });
    assert.notEqual(other.headers['x-request-id'], assigned.headers['x-request-id'], 'each answer its own');
  });
});

describe('400: other endpoints', () => {
  it('repository index with invalid JSON', async () => {
    assertError(await send('/v2/repository/index', { method: 'POST', body: '{' }), 400, ['not valid JSON']);
  });
  it("repository index with a non-boolean 'ready'", async () => {
    assertError(await send('/v2/repository/index', { method: 'POST', body: '{"ready":"yes"}' }), 400, ["'ready'", 'true or false']);
  });
});
