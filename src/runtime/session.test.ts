import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { InferenceSession, Tensor as OrtTensor } from 'onnxruntime-node';
import { GraphBuilder } from '../onnx/builder.js';
import { mlp } from '../onnx/mlp.js';
import { fp16FromNumber } from './codec/float16.js';
import { ModelSession, ortSessionOptions } from './session.js';

/** Deterministic pseudo-random numbers in [-1, 1). */
function seeded(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 31 - 1;
  }
  return out;
}

/** A 16 → 8 → 3 softmax MLP. */
function testMlp(): Uint8Array {
  return mlp([
    { weights: seeded(16 * 8, 1), bias: seeded(8, 2), in: 16, out: 8 },
    { weights: seeded(8 * 3, 3), bias: seeded(3, 4), in: 8, out: 3 },
  ], { activation: 'softmax', outputName: 'probabilities' });
}

/** Identity over several datatypes, to check conversions in and out of ONNX Runtime. */
function identityModel(): Uint8Array {
  const g = new GraphBuilder({ name: 'identities' });
  for (const [name, dt] of [['flags', 'BOOL'], ['ids', 'INT64'], ['words', 'BYTES'], ['halves', 'FP16']] as const) {
    g.output(g.identity(g.input(name, dt, ['batch', 2])), `${name}_out`, dt, ['batch', 2]);
  }
  return g.toBytes();
}

let dir: string;
let mlpPath: string;
let mlpBytes: Uint8Array;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'aloft-session-'));
  mlpBytes = testMlp();
  mlpPath = join(dir, 'mlp.onnx');
  await writeFile(mlpPath, mlpBytes);
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('ONNX Runtime session options', () => {
  it('keep ONNX Runtime\'s threads from spinning unless asked', () => {
    const spin = (o: ReturnType<typeof ortSessionOptions>) => (o.extra as { session: Record<string, { allow_spinning: string }> }).session;
    const off = spin(ortSessionOptions({ intraOpThreads: 2 }));
    assert.equal(off.intra_op!.allow_spinning, '0');
    assert.equal(off.inter_op!.allow_spinning, '0');
    const on = spin(ortSessionOptions({ intraOpThreads: 2, allowSpinning: true }));
    assert.equal(on.intra_op!.allow_spinning, '1');
    assert.equal(on.inter_op!.allow_spinning, '1');
    assert.deepEqual(
      { ...ortSessionOptions({ intraOpThreads: 3, interOpThreads: 2, graphOptimization: 'basic', executionMode: 'parallel' }), extra: undefined },
      { intraOpNumThreads: 3, interOpNumThreads: 2, graphOptimizationLevel: 'basic', executionMode: 'parallel', extra: undefined },
    );
  });
});

describe('ModelSession', () => {
  it('reads the signature and matches ONNX Runtime called directly', async () => {
    const session = await ModelSession.open(mlpPath, { intraOpThreads: 1 });
    const direct = await InferenceSession.create(mlpBytes, { intraOpNumThreads: 1 });
    try {
      assert.deepEqual(session.signature.inputs.map((i) => [i.name, i.datatype, i.shape]), [['features', 'FP32', [-1, 16]]]);
      assert.deepEqual(session.signature.outputs.map((o) => [o.name, o.datatype, o.shape]), [['probabilities', 'FP32', [-1, 3]]]);
      assert.equal(session.signature.batchable, true);
      await session.warmUp();
      const x = seeded(5 * 16, 99);
      const [y] = await session.run([{ name: 'features', datatype: 'FP32', shape: [5, 16], data: x }]);
      const want = (await direct.run({ features: new OrtTensor('float32', x, [5, 16]) })).probabilities!;
      assert.equal(y!.name, 'probabilities');
      assert.equal(y!.datatype, 'FP32');
      assert.deepEqual(y!.shape, [5, 3]);
      const got = y!.data as Float32Array;
      const exp = want.data as Float32Array;
      assert.equal(got.length, 15);
      for (let i = 0; i < got.length; i++) assert.ok(Math.abs(got[i]! - exp[i]!) <= 1e-6, `element ${i}: ${got[i]} vs ${exp[i]}`);
    } finally {
      await session.close();
      await direct.release();
    }
  });

  it('accepts a typed array that is a view at an offset (decoded binary bodies)', async () => {
    const session = await ModelSession.open(mlpPath, { intraOpThreads: 1 });
    try {
      const x = seeded(16, 5);
      const view = new Float32Array(new ArrayBuffer(4 + 64), 4, 16);
      view.set(x);
      const [a] = await session.run([{ name: 'features', datatype: 'FP32', shape: [1, 16], data: x }]);
      const [b] = await session.run([{ name: 'features', datatype: 'FP32', shape: [1, 16], data: view }]);
      assert.deepEqual(b!.data, a!.data);
    } finally {
      await session.close();
    }
  });

  it('converts BOOL, INT64, BYTES and FP16 in and out, and returns requested outputs in order', async () => {
    const path = join(dir, 'identities.onnx');
    await writeFile(path, identityModel());
    const session = await ModelSession.open(path, { intraOpThreads: 1, graphOptimization: 'basic' });
    try {
      await session.warmUp();
      const flags = new Uint8Array([1, 0]);
      const ids = new BigInt64Array([-(2n ** 63n), 2n ** 63n - 1n]);
      const words = [Buffer.from('héllo'), Buffer.from('')];
      const halves = new Uint16Array([fp16FromNumber(1.5), fp16FromNumber(-2)]);
      const out = await session.run([
        { name: 'words', datatype: 'BYTES', shape: [1, 2], data: words },
        { name: 'flags', datatype: 'BOOL', shape: [1, 2], data: flags },
        { name: 'ids', datatype: 'INT64', shape: [1, 2], data: ids },
        { name: 'halves', datatype: 'FP16', shape: [1, 2], data: halves },
      ], ['words_out', 'ids_out', 'flags_out', 'halves_out']);
      assert.deepEqual(out.map((t) => [t.name, t.datatype, t.shape]), [
        ['words_out', 'BYTES', [1, 2]], ['ids_out', 'INT64', [1, 2]], ['flags_out', 'BOOL', [1, 2]], ['halves_out', 'FP16', [1, 2]],
      ]);
      assert.deepEqual(out[0]!.data, words);
      assert.deepEqual(out[1]!.data, ids);
      assert.deepEqual(Array.from(out[2]!.data as Uint8Array), [1, 0]);
      assert.deepEqual(Array.from(out[3]!.data as Uint16Array), Array.from(halves));
    } finally {
      await session.close();
    }
  });

  it('turns ONNX Runtime failures into ALOFT_REPLICA_FAILED', async () => {
    const session = await ModelSession.open(mlpPath, { intraOpThreads: 1 });
    try {
      await assert.rejects(session.run([{ name: 'features', datatype: 'FP32', shape: [1, 15], data: new Float32Array(15) }]), {
        code: 'ALOFT_REPLICA_FAILED', message: /the model failed to run: /,
      });
    } finally {
      await session.close();
    }
  });

  it('loads a file whose sha256 matches and refuses one that does not', async () => {
    const sha = createHash('sha256').update(mlpBytes).digest('hex');
    const ok = await ModelSession.open(mlpPath, { expectedSha256: sha.toUpperCase(), intraOpThreads: 1 });
    await ok.close();
    const corrupt = Buffer.from(mlpBytes);
    corrupt[corrupt.length - 10]! ^= 0xff;
    const path = join(dir, 'corrupt.onnx');
    await writeFile(path, corrupt);
    await assert.rejects(ModelSession.open(path, { expectedSha256: sha }), {
      code: 'ALOFT_ARTIFACT_CORRUPT', message: new RegExp(`has sha256 [0-9a-f]{64} but ${sha} was recorded`),
    });
  });

  it('reports a missing file and bytes that are not a model', async () => {
    await assert.rejects(ModelSession.open(join(dir, 'nope.onnx')), { code: 'ALOFT_ARTIFACT_MISSING' });
    const junk = join(dir, 'junk.onnx');
    await writeFile(junk, 'not a model at all');
    await assert.rejects(ModelSession.open(junk), { code: 'ALOFT_MODEL_INVALID' });
  });
});
