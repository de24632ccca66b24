import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { InferenceSession, Tensor as OrtTensor } from 'onnxruntime-node';
import { request } from 'undici';
import { mlp } from '../onnx/mlp.js';
import { decodeInferResponse, encodeInferRequest } from './codec/index.js';
import { replicaEntry } from './entry.js';
import { startReplica, type RunningReplica } from './replica.js';
import { parseReplicaArgs } from './replica-spec.js';
import type { Tensor } from './tensor.js';

function seeded(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 31 - 1;
  }
  return out;
}

const modelBytes = mlp([
  { weights: seeded(16 * 8, 1), bias: seeded(8, 2), in: 16, out: 8 },
  { weights: seeded(8 * 3, 3), bias: seeded(3, 4), in: 8, out: 3 },
], { activation: 'softmax', outputName: 'probabilities' });
const sha256 = createHash('sha256').update(modelBytes).digest('hex');

let dir: string;
let modelPath: string;
let direct: InferenceSession;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'aloft-replica-'));
  modelPath = join(dir, 'model.onnx');
  await writeFile(modelPath, modelBytes);
  direct = await InferenceSession.create(modelBytes, { intraOpNumThreads: 1 });
});
after(async () => {
  await direct.release();
  await rm(dir, { recursive: true, force: true });
});

async function expected(x: Float32Array, rows: number): Promise<Float32Array> {
  const out = await direct.run({ features: new OrtTensor('float32', x, [rows, 16]) });
  return out.probabilities!.data as Float32Array;
}

function assertClose(got: ArrayLike<number>, want: ArrayLike<number>): void {
  assert.equal(got.length, want.length);
  for (let i = 0; i < got.length; i++) assert.ok(Math.abs(got[i]! - want[i]!) <= 1e-6, `element ${i}: ${got[i]} vs ${want[i]}`);
}

async function call(base: string, method: string, path: string, body?: Buffer | string, headers: Record<string, string> = {}) {
  const res = await request(`${base}${path}`, { method: method as 'GET', headers, ...(body !== undefined ? { body } : {}) });
  const buf = Buffer.from(await res.body.arrayBuffer());
  return { status: res.statusCode, headers: res.headers, body: buf, json: () => JSON.parse(buf.toString()) as Record<string, unknown> };
}

interface Spawned {
  child: ChildProcess;
  /** The first IPC message: `{ type: 'ready', port, pid }` or `{ type: 'error', code, message }`. */
  first: Promise<Record<string, unknown>>;
  exit: Promise<number | null>;
  stdout: () => string;
}

function spawnReplica(args: string[]): Spawned {
  const { command, args: pre } = replicaEntry();
  const child = spawn(command, [...pre, ...args], { stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
  let out = '';
  child.stdout!.on('data', (c: Buffer) => { out += c.toString(); });
  child.stderr!.resume();
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const first = new Promise<Record<string, unknown>>((resolve, reject) => {
    child.once('message', (m) => resolve(m as Record<string, unknown>));
    void exit.then((code) => reject(new Error(`replica exited with ${code} before reporting; stdout: ${out}`)));
  });
  first.catch(() => undefined);
  return { child, first, exit, stdout: () => out };
}

describe('replica process', () => {
  it('reports ready, answers JSON and binary requests like ONNX Runtime, and exits 0 on SIGTERM', async () => {
    const r = spawnReplica(['--model', modelPath, '--sha256', sha256, '--name', 'credit', '--version', '3', '--intra-op-threads', '1']);
    try {
      const ready = await r.first;
      assert.equal(ready.type, 'ready');
      assert.equal(ready.pid, r.child.pid);
      assert.equal(typeof ready.port, 'number');
      const line = JSON.parse(r.stdout().trim().split('\n').pop()!) as { startup: Record<string, number> };
      assert.deepEqual({ ...line, startup: undefined }, { event: 'ready', port: ready.port, pid: r.child.pid, startup: undefined });
      // Where the start went, each part a duration.
      assert.deepEqual(Object.keys(line.startup).sort(), ['bootMs', 'listenMs', 'loadMs', 'verifyMs', 'warmUpMs']);
      for (const [k, v] of Object.entries(line.startup)) assert.ok(v >= 0 && v < 60_000, `${k} ${v}`);
      const base = `http://127.0.0.1:${ready.port as number}`;

      const live = await call(base, 'GET', '/v2/health/live');
      assert.deepEqual([live.status, live.json()], [200, { live: true }]);
      const readyRes = await call(base, 'GET', '/v2/health/ready');
      assert.deepEqual([readyRes.status, readyRes.json()], [200, { ready: true }]);
      const meta = await call(base, 'GET', '/v2/models/credit');
      assert.deepEqual(meta.json(), {
        name: 'credit', versions: ['3'], platform: 'onnxruntime_onnx',
        inputs: [{ name: 'features', datatype: 'FP32', shape: [-1, 16] }],
        outputs: [{ name: 'probabilities', datatype: 'FP32', shape: [-1, 3] }],
      });

      // JSON in, JSON out (nested data).
      const x1 = seeded(16, 11);
      const rows = [Array.from(x1)];
      const j = await call(base, 'POST', '/v2/models/credit/infer', JSON.stringify({ id: 'q1', inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 16], data: rows }] }));
      assert.equal(j.status, 200);
      assert.equal(j.headers['content-type'], 'application/json');
      const jb = j.json() as { id: string; model_name: string; model_version: string; outputs: { name: string; shape: number[]; data: number[] }[] };
      assert.deepEqual([jb.id, jb.model_name, jb.model_version, jb.outputs[0]!.name, jb.outputs[0]!.shape], ['q1', 'credit', '3', 'probabilities', [1, 3]]);
      assertClose(jb.outputs[0]!.data, await expected(x1, 1));

      // Binary in, binary out: the gateway's batch path, on the versioned route.
      const x4 = seeded(4 * 16, 12);
      const batch: Tensor = { name: 'features', datatype: 'FP32', shape: [4, 16], data: x4 };
      const enc = encodeInferRequest([batch], { binaryOutput: true });
      const b = await call(base, 'POST', '/v2/models/credit/versions/3/infer', enc.body, {
        'content-type': enc.contentType, 'inference-header-content-length': String(enc.headerLength),
      });
      assert.equal(b.status, 200);
      assert.equal(b.headers['content-type'], 'application/octet-stream');
      const res = decodeInferResponse(b.body, Number(b.headers['inference-header-content-length']));
      assert.deepEqual(res.outputs[0]!.shape, [4, 3]);
      assertClose(res.outputs[0]!.data as Float32Array, await expected(x4, 4));

      // Errors keep the {"error"} shape and the registry's status.
      const bad = await call(base, 'POST', '/v2/models/credit/infer', JSON.stringify({ inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 15], data: Array(15).fill(0) }] }));
      assert.deepEqual([bad.status, bad.json()], [400, { error: "dimension 1 of input 'features' is 15; the model expects 16 (shape [-1, 16])", code: 'ALOFT_INVALID_INPUT' }]);

      r.child.kill('SIGTERM');
      assert.equal(await r.exit, 0);
    } finally {
      r.child.kill('SIGKILL');
    }
  });

  it('refuses a model file that does not match --sha256: exits 1 with ALOFT_ARTIFACT_CORRUPT', async () => {
    const corrupt = Buffer.from(modelBytes);
    corrupt[corrupt.length >> 1]! ^= 0x01;
    const path = join(dir, 'corrupt.onnx');
    await writeFile(path, corrupt);
    const r = spawnReplica(['--model', path, '--sha256', sha256, '--name', 'credit', '--version', '3']);
    try {
      const msg = await r.first;
      assert.equal(msg.type, 'error');
      assert.equal(msg.code, 'ALOFT_ARTIFACT_CORRUPT');
      assert.equal(await r.exit, 1);
      const line = JSON.parse(r.stdout().trim()) as Record<string, unknown>;
      assert.equal(line.event, 'error');
      assert.equal(line.code, 'ALOFT_ARTIFACT_CORRUPT');
      assert.match(String(line.message), /sha256/);
    } finally {
      r.child.kill('SIGKILL');
    }
  });

  it('exits 1 with ALOFT_USAGE on bad flags', async () => {
    const r = spawnReplica(['--model', modelPath, '--name', 'credit']);
    try {
      assert.equal((await r.first).code, 'ALOFT_USAGE');
      assert.equal(await r.exit, 1);
    } finally {
      r.child.kill('SIGKILL');
    }
  });
});

describe('replica server', () => {
  let replica: RunningReplica;
  let base: string;
  before(async () => {
    replica = await startReplica({ modelPath, modelName: 'credit', modelVersion: '3', intraOpThreads: 1, onError: () => undefined });
    base = `http://127.0.0.1:${replica.port}`;
  });
  after(async () => {
    await replica.close();
  });

  it('maps routes, methods and models to 404 / 405 with {"error"}', async () => {
    const cases: [string, string, number, RegExp][] = [
      ['GET', '/v2/nothing', 404, /no route/],
      ['GET', '/v2/models/other', 404, /serves model 'credit', not 'other'/],
      ['POST', '/v2/models/credit/versions/2/infer', 404, /serves version 3 of 'credit', not 2/],
      ['GET', '/v2/models/credit/infer', 405, /GET is not allowed on \/v2\/models\/credit\/infer; use POST/],
      ['POST', '/v2/health/live', 405, /use GET/],
    ];
    for (const [method, path, status, message] of cases) {
      const r = await call(base, method, path, method === 'POST' ? '{}' : undefined);
      assert.equal(r.status, status, `${method} ${path}`);
      assert.match(String(r.json().error), message);
    }
    const ready = await call(base, 'GET', '/v2/models/credit/versions/3/ready');
    assert.deepEqual([ready.status, ready.json()], [200, { name: 'credit', ready: true }]);
  });

  it('answers request errors with 400 and keeps serving', async () => {
    const broken = await call(base, 'POST', '/v2/models/credit/infer', '{"inputs": [');
    assert.equal(broken.status, 400);
    assert.match(String(broken.json().error), /request body is not valid JSON: unexpected end of input/);
    const header = await call(base, 'POST', '/v2/models/credit/infer', '{}', { 'inference-header-content-length': 'abc' });
    assert.equal(header.status, 400);
    const gz = await call(base, 'POST', '/v2/models/credit/infer', '{}', { 'content-encoding': 'gzip' });
    assert.equal(gz.status, 415);
    const unknownOut = await call(base, 'POST', '/v2/models/credit/infer', JSON.stringify({
      inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 16], data: Array(16).fill(0) }], outputs: [{ name: 'nope' }],
    }));
    assert.deepEqual([unknownOut.status, unknownOut.json()], [400, { error: "unknown output 'nope'; the model's outputs are 'probabilities'", code: 'ALOFT_BAD_REQUEST' }]);
    const ok = await call(base, 'POST', '/v2/models/credit/infer', JSON.stringify({
      inputs: [{ name: 'features', datatype: 'FP32', shape: [2, 16], data: Array(32).fill(0.5) }],
      outputs: [{ name: 'probabilities', parameters: { binary_data: true } }],
    }));
    assert.equal(ok.status, 200);
    const res = decodeInferResponse(ok.body, Number(ok.headers['inference-header-content-length']));
    assertClose(res.outputs[0]!.data as Float32Array, await expected(new Float32Array(32).fill(0.5), 2));
  });

  it('serves concurrent requests one run at a time, each with its own answer', async () => {
    const inputs = Array.from({ length: 12 }, (_, i) => seeded(16 * (1 + (i % 3)), 100 + i));
    const answers = await Promise.all(inputs.map(async (x) => {
      const rows = x.length / 16;
      const enc = encodeInferRequest([{ name: 'features', datatype: 'FP32', shape: [rows, 16], data: x }], { binaryOutput: true });
      const r = await call(base, 'POST', '/v2/models/credit/infer', enc.body, { 'inference-header-content-length': String(enc.headerLength) });
      return decodeInferResponse(r.body, Number(r.headers['inference-header-content-length'])).outputs[0]!;
    }));
    for (let i = 0; i < inputs.length; i++) assertClose(answers[i]!.data as Float32Array, await expected(inputs[i]!, inputs[i]!.length / 16));
  });
});

describe('replica close', () => {
  it('finishes with idle keep-alive connections open, then refuses connections', async () => {
    const replica = await startReplica({ modelPath, modelName: 'm', modelVersion: '1', intraOpThreads: 1, drainTimeoutMs: 600_000 });
    const base = `http://127.0.0.1:${replica.port}`;
    assert.equal((await call(base, 'GET', '/v2/health/ready')).status, 200);
    await replica.close();
    await assert.rejects(call(base, 'GET', '/v2/health/live'), { code: 'ECONNREFUSED' });
  });
});

describe('replica flags and entry', () => {
  it('parses every flag', () => {
    assert.deepEqual(parseReplicaArgs([
      '--model', 'm.onnx', '--name', 'credit', '--version', '3', '--sha256', 'A'.repeat(64), '--host', '0.0.0.0', '--port', '8001',
      '--intra-op-threads', '2', '--inter-op-threads', '1', '--graph-optimization', 'basic', '--execution-mode', 'parallel',
      '--allow-spinning', 'on',
    ]), {
      modelPath: 'm.onnx', modelName: 'credit', modelVersion: '3', sha256: 'A'.repeat(64), host: '0.0.0.0', port: 8001,
      intraOpThreads: 2, interOpThreads: 1, graphOptimization: 'basic', executionMode: 'parallel', allowSpinning: true,
    });
    assert.equal(parseReplicaArgs(['--model', 'm', '--name', 'n', '--version', '1', '--allow-spinning', 'off']).allowSpinning, false);
    assert.throws(() => parseReplicaArgs(['--model', 'm', '--name', 'n', '--version', '1', '--allow-spinning', 'yes']), { code: 'ALOFT_USAGE', message: /--allow-spinning must be one of on, off/ });
    assert.throws(() => parseReplicaArgs(['--model', 'm', '--name', 'n', '--version', '1', '--port', '-1']), { code: 'ALOFT_USAGE' });
    assert.throws(() => parseReplicaArgs(['--model', 'm', '--name', 'n', '--version', '1', '--graph-optimization', 'max']), { code: 'ALOFT_USAGE', message: /one of all, extended, basic, disabled/ });
    assert.throws(() => parseReplicaArgs(['--model', 'm', '--name', 'n', '--version', '1', '--bogus']), { code: 'ALOFT_USAGE' });
  });

  it('starts the TypeScript entry through tsx when running from source', () => {
    const e = replicaEntry();
    assert.equal(e.command, process.execPath);
    assert.equal(e.args[0], '--import');
    assert.match(e.args[1]!, /^file:.*tsx/);
    assert.match(e.args[2]!, /replica-main\.ts$/);
  });
});
