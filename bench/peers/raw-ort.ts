/**
 * The floor: ONNX Runtime called in-process, batch 1, one `session.run` after another
 * (no HTTP, no JSON). Runs in its own process so its peak RSS is its own.
 *
 * Usage: node --import tsx bench/peers/raw-ort.ts --model <file.onnx> --input <name>
 *   --output <name> --rows <file of float32 rows> --width <N> --warmup <ms> --duration <ms>
 * Prints one line `{"event":"result", calls, seconds, rps, mean, p50, p99, max, cpuUsPerCall,
 * peakRssKiB, outputs}` where `outputs` holds the model's answer for each row (for the correctness check).
 */
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { InferenceSession, Tensor } from 'onnxruntime-node';
import { summarize } from '../load.js';
import { peakRssKiB } from '../rss.js';

const { values } = parseArgs({
  options: {
    model: { type: 'string' }, input: { type: 'string' }, output: { type: 'string' }, rows: { type: 'string' },
    width: { type: 'string' }, warmup: { type: 'string', default: '1000' }, duration: { type: 'string', default: '5000' },
  },
});
if (!values.model || !values.input || !values.output || !values.rows || !values.width) {
  throw new Error('usage: raw-ort.ts --model F --input NAME --output NAME --rows FILE --width N [--warmup MS] [--duration MS]');
}
const width = Number(values.width);
const bytes = readFileSync(values.rows);
const all = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
const inputName = values.input;
const outputName = values.output;
const feeds = Array.from({ length: all.length / width }, (_, i) => ({
  [inputName]: new Tensor('float32', all.slice(i * width, (i + 1) * width), [1, width]),
}));

// Default session options: what the plain server (and a user) gets.
const session = await InferenceSession.create(values.model);

const outputs: number[][] = [];
for (const f of feeds) outputs.push(Array.from((await session.run(f, [outputName]))[outputName]!.data as Float32Array));

async function loop(ms: number, record: number[] | undefined): Promise<void> {
  const end = performance.now() + ms;
  let i = 0;
  for (;;) {
    const t = performance.now();
    if (t >= end) return;
    await session.run(feeds[i]!, [outputName]);
    record?.push(performance.now() - t);
    if (++i === feeds.length) i = 0;
  }
}

await loop(Number(values.warmup), undefined);
const latencies: number[] = [];
const cpu0 = process.cpuUsage();
const t0 = performance.now();
await loop(Number(values.duration), latencies);
const seconds = (performance.now() - t0) / 1000;
const cpu = process.cpuUsage(cpu0);
const s = summarize(latencies);
process.stdout.write(`${JSON.stringify({
  event: 'result', calls: s.count, seconds, rps: s.count / seconds, mean: s.mean, p50: s.p50, p99: s.p99, max: s.max,
  cpuUsPerCall: (cpu.user + cpu.system) / s.count, peakRssKiB: peakRssKiB(process.pid), outputs,
})}\n`);
await session.release();
