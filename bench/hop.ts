/**
 * What a hop to a thread replica costs by itself: the round trip of a message between the
 * main thread and a worker thread, back to back and after an idle gap (the worker has gone
 * to sleep and must be woken, as at 1 connection), and with a worker that spins on shared
 * memory instead of sleeping (no wake-up on the way out; what ONNX Runtime's own thread
 * pool does, at the price of a busy core). No model, no HTTP; prints µs per round trip.
 *
 *   tsx bench/hop.ts [--count 2000] [--gap-ms 1]
 */
import { parseArgs } from 'node:util';
import { Worker } from 'node:worker_threads';

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
process.exit(0);
