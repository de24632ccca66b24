/**
 * The node front (src/gateway/fronts/node.ts) must answer exactly as Fastify's infer routes
 * do (both run the pipeline, src/gateway/pipeline.ts). Two gateways are assembled the same
 * way (real auth with keys in SQLite, real memory rate limiter, real metrics, stub
 * replicas), one with the node front on and one without; every request below goes to both
 * over real HTTP, and status, the headers that matter and the body must be equal. A
 * Fastify hook counts what reaches Fastify, which proves which requests the node front
 * took (every infer request with plain names, whatever its body's framing or encoding)
 * and which it left to Fastify (names that need decoding, query strings, other methods).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { Readable } from 'node:stream';
import { ManualClock } from '../../src/clock.js';
import { registerKeyRoutes } from '../../src/control/admin-keys.js';
import { inferPath } from '../../src/gateway/pipeline.js';
import { MemoryRateLimiter } from '../../src/gateway/ratelimit/index.js';
import { createGateway, type Gateway } from '../../src/gateway/server.js';
import { GatewayMetrics } from '../../src/monitor/metrics.js';
import { encodeInferRequest } from '../../src/runtime/codec/index.js';
import { Authenticator } from '../../src/security/authenticator.js';
import { generateKey, hashSecret } from '../../src/security/keys.js';
import { KeyRepository } from '../../src/store/keys.js';
import { call, type CallOptions } from '../helpers/http.js';
import { keyStore, type KeyStore } from '../helpers/key-store.js';
import { stubRoutes } from '../helpers/stub-routes.js';

const PUBLIC = new Set(['demo']);
const LIMITED = 'limited'; // deployment limit: burst 1, so its second request gets 429
const NAMES = ['credit-risk', 'fraud', 'demo', LIMITED];
const BODY_LIMIT = 4096;

interface Side {
  gateway: Gateway;
  metrics: GatewayMetrics;
  url: string;
  /** Requests that reached Fastify. */
  fastify: number;
}

const json = (data: number[]) => JSON.stringify({ inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 2], data }] });
const binary = encodeInferRequest([{ name: 'x', datatype: 'FP32', shape: [1, 2], data: new Float32Array([3, 4]) }], { binary: true, binaryOutput: true });

describe('node front', () => {
  const clock = new ManualClock(0, Date.UTC(2026, 0, 1));
  let ks: KeyStore;
  let lean: Side;
  let plain: Side;
  const key = new Map<string, string>();

  async function side(withLean: boolean, keys: KeyRepository): Promise<Side> {
    const metrics = new GatewayMetrics(undefined, { defaultMetrics: false });
    const authenticator = new Authenticator({ keys, clock });
    await authenticator.load();
    const gateway = createGateway({
      ...stubRoutes(NAMES), bodyLimit: BODY_LIMIT, clock, metrics, info: { name: 'aloft', version: 'test', extensions: [] },
      auth: { authenticator, policy: { enabled: true, isPublic: (d) => PUBLIC.has(d) } },
      limits: {
        limiter: new MemoryRateLimiter({ clock }),
        deploymentLimit: (name) => (name === LIMITED ? { rate: 0.001, burst: 1 } : undefined),
      },
      nodeFront: withLean, wire: withLean,
    });
    const s: Side = { gateway, metrics, url: '', fastify: 0 };
    gateway.app.addHook('onRequest', async () => { s.fastify++; });
    registerKeyRoutes(gateway.app, { keys, authenticator, clock });
    s.url = await gateway.app.listen({ host: '127.0.0.1', port: 0 });
    return s;
  }

  before(async () => {
    ks = await keyStore(clock);
    const keys = ks.keys;
    key.set('admin', ks.admin);
    const scoped = generateKey();
    await keys.create({ id: scoped.id, name: 'app', role: 'predictor', scopes: ['credit-*'], secretHash: hashSecret(scoped.secret) });
    key.set('scoped', scoped.token);
    lean = await side(true, keys);
    plain = await side(false, keys);
  });

  after(async () => {
    await lean?.gateway.app.close();
    await plain?.gateway.app.close();
    await ks?.close();
  });

  const auth = (who: string): Record<string, string> => ({ authorization: `Bearer ${key.get(who)}` });
  const HEADERS = ['content-type', 'inference-header-content-length', 'www-authenticate', 'retry-after'];

  interface Case {
    name: string;
    path: string;
    opts: () => CallOptions;
    status: number;
    /** Whether the lean path answers it (else Fastify does). */
    lean: boolean;
  }

  const cases: Case[] = [
    { name: 'JSON infer', path: '/v2/models/credit-risk/infer', opts: () => ({ body: json([1, 2]), headers: { ...auth('admin'), 'content-type': 'application/json' } }), status: 200, lean: true },
    { name: 'JSON infer, no Content-Type', path: '/v2/models/credit-risk/infer', opts: () => ({ body: json([1, 2]), headers: auth('admin') }), status: 200, lean: true },
    { name: 'binary infer', path: '/v2/models/credit-risk/infer', opts: () => ({ body: binary.body, headers: { ...auth('admin'), 'content-type': binary.contentType, 'inference-header-content-length': String(binary.headerLength) } }), status: 200, lean: true },
    { name: 'versioned infer', path: '/v2/models/credit-risk/versions/1/infer', opts: () => ({ body: json([5, 6]), headers: auth('admin') }), status: 200, lean: true },
    { name: 'unknown version', path: '/v2/models/credit-risk/versions/9/infer', opts: () => ({ body: json([5, 6]), headers: auth('admin') }), status: 404, lean: true },
    { name: 'unknown model (names only what the scopes cover)', path: '/v2/models/credit-rsk/infer', opts: () => ({ body: json([1, 2]), headers: auth('scoped') }), status: 404, lean: true },
    { name: 'no credentials', path: '/v2/models/credit-risk/infer', opts: () => ({ body: json([1, 2]) }), status: 401, lean: true },
    { name: 'wrong key', path: '/v2/models/credit-risk/infer', opts: () => ({ body: json([1, 2]), headers: { authorization: `Bearer aloft_${'0'.repeat(12)}_${'A'.repeat(43)}` } }), status: 401, lean: true },
    { name: 'out of scope', path: '/v2/models/fraud/infer', opts: () => ({ body: json([1, 2]), headers: auth('scoped') }), status: 403, lean: true },
    { name: 'public deployment, anonymous', path: '/v2/models/demo/infer', opts: () => ({ body: json([1, 2]) }), status: 200, lean: true },
    { name: 'invalid JSON', path: '/v2/models/credit-risk/infer', opts: () => ({ body: '{"inputs": [', headers: auth('admin') }), status: 400, lean: true },
    { name: 'empty body', path: '/v2/models/credit-risk/infer', opts: () => ({ body: '', headers: auth('admin') }), status: 400, lean: true },
    { name: 'wrong shape', path: '/v2/models/credit-risk/infer', opts: () => ({ body: json([1, 2, 3]), headers: auth('admin') }), status: 400, lean: true },
    { name: 'bad Inference-Header-Content-Length', path: '/v2/models/credit-risk/infer', opts: () => ({ body: json([1, 2]), headers: { ...auth('admin'), 'inference-header-content-length': 'x' } }), status: 400, lean: true },
    { name: 'deployment limit: first request', path: `/v2/models/${LIMITED}/infer`, opts: () => ({ body: json([1, 2]), headers: auth('admin') }), status: 200, lean: true },
    { name: 'deployment limit: second request', path: `/v2/models/${LIMITED}/infer`, opts: () => ({ body: json([1, 2]), headers: auth('admin') }), status: 429, lean: true },
    { name: 'over the body limit', path: '/v2/models/credit-risk/infer', opts: () => ({ body: 'x'.repeat(BODY_LIMIT + 1), headers: auth('admin') }), status: 413, lean: true },
    { name: 'gzip body', path: '/v2/models/credit-risk/infer', opts: () => ({ body: gzipSync(json([1, 2])), headers: { ...auth('admin'), 'content-encoding': 'gzip' } }), status: 200, lean: true },
    { name: 'unsupported Content-Encoding', path: '/v2/models/credit-risk/infer', opts: () => ({ body: json([1, 2]), headers: { ...auth('admin'), 'content-encoding': 'br' } }), status: 415, lean: true },
    { name: 'chunked body', path: '/v2/models/credit-risk/infer', opts: () => ({ body: Readable.from([Buffer.from(json([1, 2]))]), headers: auth('admin') }), status: 200, lean: true },
    { name: 'other Content-Type', path: '/v2/models/credit-risk/infer', opts: () => ({ body: json([1, 2]), headers: { ...auth('admin'), 'content-type': 'text/plain' } }), status: 200, lean: true },
    { name: 'percent-encoded name', path: '/v2/models/credit%2Drisk/infer', opts: () => ({ body: json([1, 2]), headers: auth('admin') }), status: 200, lean: false },
    { name: 'query string', path: '/v2/models/credit-risk/infer?x=1', opts: () => ({ body: json([1, 2]), headers: auth('admin') }), status: 200, lean: false },
    { name: 'GET on an infer path', path: '/v2/models/credit-risk/infer', opts: () => ({ method: 'GET', headers: auth('admin') }), status: 405, lean: false },
  ];

  test('every request gets the same answer with and without the lean path, and the lean path takes exactly the common ones', async () => {
    const mismatches: string[] = [];
    for (const c of cases) {
      const before = { lean: lean.fastify, plain: plain.fastify };
      const a = await call(`${lean.url}${c.path}`, c.opts());
      const b = await call(`${plain.url}${c.path}`, c.opts());
      if (a.status !== c.status) mismatches.push(`${c.name}: lean path answered ${a.status}, want ${c.status} (${a.text.slice(0, 120)})`);
      if (a.status !== b.status) mismatches.push(`${c.name}: status ${a.status} vs ${b.status}`);
      // Assigned request ids differ between the two servers (a per-process prefix and a counter).
      const same = (t: string) => t.replace(/"id":"[0-9a-f]{10}-[0-9a-z]+"/g, '"id":"<id>"');
      if (same(a.text) !== same(b.text)) mismatches.push(`${c.name}: body ${a.text.slice(0, 120)} vs ${b.text.slice(0, 120)}`);
      for (const h of HEADERS) if (a.headers[h] !== b.headers[h]) mismatches.push(`${c.name}: header ${h} ${String(a.headers[h])} vs ${String(b.headers[h])}`);
      if (a.status >= 400) assert.equal(typeof (a.json as { error?: unknown }).error, 'string', `${c.name}: errors are {"error": "..."}`);
      const reachedFastify = lean.fastify - before.lean;
      if (reachedFastify !== (c.lean ? 0 : 1)) mismatches.push(`${c.name}: ${c.lean ? 'should be taken by the lean path' : 'should be left to Fastify'}, reached Fastify ${reachedFastify}×`);
      if (plain.fastify - before.plain !== 1) mismatches.push(`${c.name}: the gateway without the lean path should send it to Fastify`);
    }
    assert.deepEqual(mismatches, []);
  });

  test('the answers are counted in the metrics alike (errors of known deployments included)', async () => {
    const counts = async (s: Side) => (await s.metrics.render()).split('\n').filter((l) => l.startsWith('aloft_requests_total')).sort();
    const a = await counts(lean);
    assert.ok(a.length > 0, 'requests were counted');
    assert.deepEqual(a, await counts(plain));
  });

  test('a client that leaves mid-body costs nothing and the gateway keeps serving', async () => {
    const { connect } = await import('node:net');
    const u = new URL(lean.url);
    await new Promise<void>((resolve, reject) => {
      const sock = connect(Number(u.port), u.hostname, () => {
        sock.write(`POST /v2/models/credit-risk/infer HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${key.get('admin')}\r\ncontent-length: 100\r\n\r\n{"inputs":`);
        setImmediate(() => { sock.destroy(); resolve(); });
      });
      sock.on('error', reject);
    });
    const r = await call(`${lean.url}/v2/models/credit-risk/infer`, { body: json([1, 2]), headers: auth('admin') });
    assert.equal(r.status, 200);
    assert.deepEqual((r.json as { outputs: { data: number[] }[] }).outputs[0]!.data, [3]);
  });

  test('inferPath takes only plain names', () => {
    assert.deepEqual(inferPath('/v2/models/a-b.c_1/infer'), { name: 'a-b.c_1', version: undefined });
    assert.deepEqual(inferPath('/v2/models/m/versions/3/infer'), { name: 'm', version: '3' });
    for (const url of ['/v2/models//infer', '/v2/models/a/b/infer', '/v2/models/a%20b/infer', '/v2/models/a/infer/', '/v2/models/a/infer?x', '/v2/models/a/versions//infer', '/v2/models/a', '/v2/model/a/infer', `/v2/models/${'a'.repeat(257)}/infer`]) {
      assert.equal(inferPath(url), undefined, url);
    }
  });
});
