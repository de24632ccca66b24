/**
 * Microbenchmark of the request decoder on the benchmark's own MNIST JSON bodies (the
 * figures quoted for json-fast.ts): decodeInferRequest against JSON.parse plus the typed
 * array a hand-written server builds. Single thread, no HTTP; prints µs per request.
 *
 *   tsx bench/decode.ts [--iterations 20000]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { decodeInferRequest } from '../src/runtime/codec/index.js';
import { loadWorkload } from './workload.js';

const { values } = parseArgs({ options: { iterations: { type: 'string', default: '20000' } } });
const iterations = Number(values.iterations);
if (!Number.isInteger(iterations) || iterations < 100 || iterations > 10_000_000) throw new Error('--iterations takes a whole number 100..10000000');

const tmp = mkdtempSync(join(tmpdir(), 'aloft-decode-'));
try {
  const w = await loadWorkload('mnist', tmp);
  const bodies = w.bodies.json!.map((r) => r.body);
  const time = (label: string, fn: (b: Buffer) => unknown) => {
    for (let i = 0; i < 2000; i++) fn(bodies[i % bodies.length]!);
    const t0 = performance.now();
    for (let i = 0; i < iterations; i++) fn(bodies[i % bodies.length]!);
    const us = ((performance.now() - t0) * 1000) / iterations;
    console.log(`${label.padEnd(58)} ${us.toFixed(2)} µs/request`);
  };
  console.log(`MNIST JSON bodies: ${bodies.length} distinct rows, ${Math.round(bodies.reduce((a, b) => a + b.length, 0) / bodies.length)} bytes on average; ${iterations} iterations`);
  time('decodeInferRequest (Aloft: fast path into Float32Array)', (b) => decodeInferRequest(b));
  time('JSON.parse + Float32Array.from (what a plain server does)', (b) => {
    const j = JSON.parse(b.toString('utf8')) as { inputs: { data: number[] }[] };
    return Float32Array.from(j.inputs[0]!.data);
  });
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
