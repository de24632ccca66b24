import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Worker } from 'node:worker_threads';
import type { Tensor } from '../../runtime/tensor.js';
import { replicaOptionsOf } from '../../runtime/replica-spec.js';
import { movableBuffers, threadReplicaWorker } from '../../runtime/thread-entry.js';
import { ThreadTransport } from './thread.js';
import { runTransportSuite } from './transport.case.js';

/** A stand-in replica thread that doubles its input and says how many bytes arrived. */
const DOUBLER = `
const { parentPort } = require('node:worker_threads');
parentPort.on('message', (m) => {
  const x = m.inputs[0];
  const y = Float32Array.from(x.data, (v) => v * 2);
  parentPort.postMessage({ type: 'result', id: m.id, outputs: [{ name: 'y', datatype: 'FP32', shape: x.shape, data: y }, { name: 'bytes', datatype: 'INT32', shape: [1], data: Int32Array.of(x.data.byteLength) }] }, [y.buffer]);
});`;

const fp32 = (data: Float32Array, rows: number): Tensor => ({ name: 'x', datatype: 'FP32', shape: [rows, data.length / rows], data });

test('movableBuffers takes typed arrays that span their own buffer, never views, shared memory or BYTES', () => {
  const whole = new Float32Array(8);
  const pooled = Buffer.from('a small Buffer sits in a shared 8 KB pool');
  const view = new Float32Array(new ArrayBuffer(64), 16, 4);
  const shared = new Float32Array(new SharedArrayBuffer(16));
  const tensors: Tensor[] = [
    fp32(whole, 2),
    { name: 'again', datatype: 'FP32', shape: [2, 4], data: whole },
    { name: 'view', datatype: 'FP32', shape: [1, 4], data: view },
    { name: 'shared', datatype: 'FP32', shape: [1, 4], data: shared },
    { name: 'u8', datatype: 'UINT8', shape: [pooled.length], data: pooled },
    { name: 'text', datatype: 'BYTES', shape: [1], data: [Buffer.from('abc')] },
  ];
  const moved = movableBuffers(tensors);
  assert.equal(moved.length, 1, 'one buffer, listed once even when two tensors share it');
  assert.equal(moved[0], whole.buffer);
});

test('a batch the batcher owns is moved to the worker; a request\'s own tensor is copied and stays intact', async () => {
  const worker = new Worker(DOUBLER, { eval: true });
  const transport = new ThreadTransport(worker);
  try {
    const owned = Float32Array.of(1, 2, 3, 4);
    const out = await transport.infer([fp32(owned, 2)], true);
    assert.deepEqual([...(out[0]!.data as Float32Array)], [2, 4, 6, 8]);
    assert.equal((out[1]!.data as Int32Array)[0], 16, 'the worker received all 16 bytes');
    assert.equal(owned.byteLength, 0, 'moved: the sender no longer holds the memory');

    const kept = Float32Array.of(5, 6);
    const again = await transport.infer([fp32(kept, 1)]);
    assert.deepEqual([...(again[0]!.data as Float32Array)], [10, 12]);
    assert.deepEqual([...kept], [5, 6], 'not owned: copied, so a retry can send it again');
  } finally {
    await transport.close();
    await worker.terminate();
  }
});

runTransportSuite('thread (replica thread)', {
  async start(spec) {
    const how = threadReplicaWorker();
    const worker = new Worker(how.entry, { workerData: replicaOptionsOf(spec), eval: how.eval });
    await new Promise<void>((resolve, reject) => {
      worker.on('message', (m: { type?: string; message?: string }) => {
        if (m.type === 'ready') resolve();
        if (m.type === 'error') reject(new Error(m.message));
      });
      worker.once('exit', (code) => reject(new Error(`the replica thread exited (${code}) before it was ready`)));
    });
    const transport = new ThreadTransport(worker);
    return { transport, kill: async () => { await worker.terminate(); }, close: async () => { await transport.close(); await worker.terminate(); } };
  },
}, 'thread');
