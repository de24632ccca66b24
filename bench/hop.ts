/**
 * What a hop to a thread replica costs by itself: the round trip of a message between the
 * main thread and a worker thread, back to back and after an idle gap (the worker has gone
 * to sleep and must be woken, as at 1 connection), and with a worker that spins on shared
 * memory instead of sleeping (no wake-up on the way out; what ONNX Runtime's own thread
 * pool does, at the price of a busy core). Then what the sender pays to post one batch
 * message, with the tensor's memory copied (structured clone) or moved (transfer list, as
 * the thread transport does for the batches it builds). No model, no HTTP.
 *
 *   tsx bench/hop.ts [--count 2000] [--gap-ms 1]
 */
import { parseArgs } from 'node:util';
import { Worker } from 'node:worker_threads';
import { movableBuffers } from '../src/runtime/thread-entry.js';
import type { Tensor } from '../src/runtime/tensor.js';

const { values } = parseArgs({ options: { count: { type: 'string', default: '2000' }, 'gap-ms': { type: 'string', default: '1' } } });
const count = Number(values.count);
const gapMs = Number(values['gap-ms']);
if (!Number.isInteger(count) || count < 100 || count > 1_000_000) throw new Error('--count takes a whole number 100..1000000');
if (!(gapMs >= 1 && gapMs <= 100)) throw new Error('--gap-ms takes a number of milliseconds in [1, 100]');

const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const flag = new Int32Array(workerData.sab);
if (workerData.mode === 'message') {
  parentPort.on('message', (m) => parentPort.postMessage(m));
} else {
  let seen = 0;
  for (;;) {
    const t0 = performance.now();
    let v;
    while ((v = Atomics.load(flag, 0)) === seen && performance.now() - t0 < 5) {}
    if (v === seen) { Atomics.wait(flag, 0, seen); v = Atomics.load(flag, 0); }
    if (v < 0) break;
    seen = v;
    parentPort.postMessage(v);
  }
}`;

async function roundTrips(mode: 'message' | 'spin', gap: number): Promise<{ p50: number; p90: number }> {
  const sab = new SharedArrayBuffer(4);
  const flag = new Int32Array(sab);
  const worker = new Worker(WORKER, { eval: true, workerData: { sab, mode } });
  const rtts: number[] = [];
  let sent = 0;
  let t0 = 0n;
  const ping = () => {
    t0 = process.hrtime.bigint();
    sent++;
    if (mode === 'message') worker.postMessage(sent);
    else { Atomics.store(flag, 0, sent); Atomics.notify(flag, 0); }
  };
  await new Promise<void>((resolve) => {
    worker.on('message', () => {
      rtts.push(Number(process.hrtime.bigint() - t0) / 1000);
      if (rtts.length >= count) return resolve();
      if (gap === 0) setImmediate(ping);
      else setTimeout(ping, gap);
    });
    setTimeout(ping, 50);
  });
  Atomics.store(flag, 0, -1);
  Atomics.notify(flag, 0);
  await worker.terminate();
  rtts.sort((a, b) => a - b);
  return { p50: rtts[Math.floor(count / 2)]!, p90: rtts[Math.floor(count * 0.9)]! };
}

console.log(`Round trip main thread → worker → main thread, ${count} each, µs`);
for (const [label, mode, gap] of [
  ['message, back to back', 'message', 0], [`message, ${gapMs} ms idle between`, 'message', gapMs],
  ['spinning worker, back to back', 'spin', 0], [`spinning worker, ${gapMs} ms idle between`, 'spin', gapMs],
] as const) {
  const r = await roundTrips(mode, gap);
  console.log(`${label.padEnd(40)} p50 ${r.p50.toFixed(1).padStart(6)}   p90 ${r.p90.toFixed(1).padStart(6)}`);
}

/** µs the sender spends in postMessage per batch message, median of 3 runs, with up to 4 messages in flight. */
async function postCost(bytes: number, move: boolean): Promise<number> {
  const worker = new Worker(`require('node:worker_threads').parentPort.on('message', (m) => require('node:worker_threads').parentPort.postMessage(m.id));`, { eval: true });
  let inFlight = 0;
  let drained: (() => void) | undefined;
  worker.on('message', () => { if (--inFlight === 0) drained?.(); });
  const runs: number[] = [];
  const n = Math.max(200, Math.floor(count / 2));
  for (let run = 0; run < 3; run++) {
    let spent = 0n;
    for (let i = 0; i < n; i++) {
      const inputs: Tensor[] = [{ name: 'input', datatype: 'FP32', shape: [1, bytes / 4], data: new Float32Array(bytes / 4) }];
      const msg = { type: 'infer', id: i, inputs };
      const t = process.hrtime.bigint();
      if (move) worker.postMessage(msg, movableBuffers(inputs));
      else worker.postMessage(msg);
      spent += process.hrtime.bigint() - t;
      if (++inFlight >= 4) await new Promise<void>((resolve) => { drained = resolve; });
    }
    if (inFlight > 0) await new Promise<void>((resolve) => { drained = resolve; });
    runs.push(Number(spent) / n / 1000);
  }
  await worker.terminate();
  return runs.sort((a, b) => a - b)[1]!;
}

console.log('\nSender\'s cost of posting one batch message, µs (median of 3 runs)');
for (const bytes of [1024, 16_384, 78_400, 262_144]) {
  const copy = await postCost(bytes, false);
  const moved = await postCost(bytes, true);
  const label = bytes === 78_400 ? `${bytes} B (25 MNIST rows)` : `${bytes} B`;
  console.log(`${label.padEnd(40)} copied ${copy.toFixed(1).padStart(6)}   moved ${moved.toFixed(1).padStart(6)}`);
}
process.exit(0);
