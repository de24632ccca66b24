/**
 * What a shadow rollout costs the version that answers (issue 13): the primary's
 * throughput and latency with shadowing off and on, in one run, at the same closed-loop
 * load. Starts Aloft as it ships (bench/systems/aloft.ts: the credit-risk deployment, 2
 * replica processes, batching on, authentication on), then for each pair:
 *
 *   off: only version 1 runs; measured.
 *   on:  `apply` moves the deployment to version 2 with `rollout: {strategy: shadow,
 *        shadow: {sample: S}}` (promotion by hand, so it stays shadowing); once its
 *        replicas are warm measured (the warm-up starts the copies); then `aloft rollout abort` ends it.
 *
 * Version 2 is the same network re-encoded with another producer name (another file, the
 * same answers), so the copies cost what the primary's requests cost and agree with them.
 * Pairs alternate off/on, so drift in the machine's speed falls on both sides.
 *
 *   npm run build && tsx bench/shadow.ts [--samples 0.1,1] [--connections 64] [--pairs 3] [--rate R]
 *                                        [--duration 5] [--warmup 1] [--write]
 *
 * `--write` puts the table into BENCHMARKS.md (between its shadow markers). Every request
 * goes to 127.0.0.1; the run is bounded (pairs × samples × (warm-up + duration)) and stops
 * its server.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import onnxProto from 'onnx-proto';
import { installCleanup, stopAll } from './child.js';
import type { LoadResult } from './load.js';
import { median, poll, startPaired, writeSection } from './paired.js';
import { loadWorkload } from './workload.js';

const { values } = parseArgs({
  options: {
    samples: { type: 'string', default: '0.1,1' },
    connections: { type: 'string', default: '64' },
    pairs: { type: 'string', default: '3' },
    duration: { type: 'string', default: '5' },
    warmup: { type: 'string', default: '1' },
    rate: { type: 'string' },
    write: { type: 'boolean', default: false },
  },
});
const SAMPLES = values.samples.split(',').map(Number);
const CONNECTIONS = Number(values.connections);
const PAIRS = Number(values.pairs);
const DURATION_MS = Number(values.duration) * 1000;
const WARMUP_MS = Number(values.warmup) * 1000;
/** A fixed load in requests/s (open-loop) instead of closed-loop connections. */
const RATE = values.rate === undefined ? undefined : Number(values.rate);
if (RATE !== undefined && !(RATE >= 1 && RATE <= 100_000)) throw new Error(`--rate must be 1 to 100000 requests/s, got ${values.rate}`);
if (SAMPLES.some((s) => !(s > 0 && s <= 1))) throw new Error(`--samples are shares in (0, 1], got ${values.samples}`);
for (const [name, n, max] of [['--connections', CONNECTIONS, 1024], ['--pairs', PAIRS, 20], ['--duration', DURATION_MS / 1000, 120], ['--warmup', WARMUP_MS / 1000, 60]] as const) {
  if (!Number.isFinite(n) || n < 0 || n > max || (name !== '--warmup' && n === 0)) throw new Error(`${name} must be a number from ${name === '--warmup' ? 0 : 1} to ${max}, got ${n}`);
}

interface Cell { sample: number; pair: number; off: LoadResult; on: LoadResult; copies: { compared: number; dropped: number; failed: number; agreement?: number } }

installCleanup();
const tmp = mkdtempSync(join(tmpdir(), 'aloft-shadow-bench-'));
const cells: Cell[] = [];
try {
  const w = await loadWorkload('credit-risk', tmp);
  const aloft = await startPaired(w, tmp, { connections: CONNECTIONS, warmupMs: WARMUP_MS, durationMs: DURATION_MS, ...(RATE !== undefined ? { rate: RATE } : {}) });
  const { server, admin, base, load } = aloft;
  // Version 2: the same graph under another producer name: another digest, the same answers.
  const model = onnxProto.onnx.ModelProto.decode(readFileSync(w.modelPath));
  model.producerName = 'aloft-bench-shadow';
  const v2Path = join(tmp, 'credit-risk-v2.onnx');
  writeFileSync(v2Path, onnxProto.onnx.ModelProto.encode(model).finish());
  for (let pair = 1; pair <= PAIRS; pair++) {
    for (const sample of SAMPLES) {
      const off = await load();
      const spec = structuredClone(base);
      spec.models[w.name] = { path: v2Path };
      spec.deployments[w.name] = { ...spec.deployments[w.name], rollout: { strategy: 'shadow', shadow: { sample } } };
      const revision = await aloft.apply(spec, false);
      await poll('the shadow to start', 120_000, async () => ((await admin.rollouts()).rollouts.find((r) => r.deployment === w.name && r.state === 'shadowing') ? true : undefined));
      const on = await load();
      const st = (await admin.rollouts()).rollouts.find((r) => r.deployment === w.name)!;
      await admin.rolloutCommand(w.name, 'abort');
      await aloft.settled(revision);
      const sh = st.shadow!;
      cells.push({ sample, pair, off, on, copies: { compared: sh.compared, dropped: sh.dropped, failed: sh.failed, ...(sh.agreement !== undefined ? { agreement: sh.agreement } : {}) } });
      const c = cells.at(-1)!;
      console.error(`pair ${pair}, sample ${sample}: off ${Math.round(off.rps)} req/s p50 ${off.p50.toFixed(2)} p99 ${off.p99.toFixed(2)} ms; on ${Math.round(on.rps)} req/s p50 ${on.p50.toFixed(2)} p99 ${on.p99.toFixed(2)} ms; copies compared ${c.copies.compared}, dropped ${c.copies.dropped}, failed ${c.copies.failed}`);
      if (off.errors + off.non2xx + on.errors + on.non2xx > 0) throw new Error(`failed requests: off ${off.errors + off.non2xx}, on ${on.errors + on.non2xx}`);
    }
  }
  await server.stop();
} finally {
  await stopAll();
  rmSync(tmp, { recursive: true, force: true });
}

const lines = [
  `Primary (version 1) with shadowing off and on, credit-risk, ${CONNECTIONS} connections${RATE !== undefined ? ` at a fixed ${RATE} requests/s` : ' closed-loop'}, ${PAIRS} alternating pairs of ${DURATION_MS / 1000} s windows, one run (\`tsx bench/shadow.ts --samples ${SAMPLES.join(',')} --connections ${CONNECTIONS} --pairs ${PAIRS}${RATE !== undefined ? ` --rate ${RATE}` : ''}\`). Ratios are on ÷ off, the median over pairs; copies are counted while shadowing.`,
  '',
  '| shadow.sample | off req/s | on req/s | req/s on/off | off p50 ms | on p50 ms | p50 on/off | off p99 ms | on p99 ms | p99 on/off | copies compared | dropped | agreement |',
  '| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
];
for (const sample of SAMPLES) {
  const cs = cells.filter((c) => c.sample === sample);
  const m = (f: (c: Cell) => number) => median(cs.map(f));
  lines.push(`| ${sample} | ${Math.round(m((c) => c.off.rps))} | ${Math.round(m((c) => c.on.rps))} | ${m((c) => c.on.rps / c.off.rps).toFixed(2)} | ${m((c) => c.off.p50).toFixed(2)} | ${m((c) => c.on.p50).toFixed(2)} | ${m((c) => c.on.p50 / c.off.p50).toFixed(2)} | ${m((c) => c.off.p99).toFixed(2)} | ${m((c) => c.on.p99).toFixed(2)} | ${m((c) => c.on.p99 / c.off.p99).toFixed(2)} | ${m((c) => c.copies.compared)} | ${m((c) => c.copies.dropped)} | ${cs.every((c) => c.copies.agreement !== undefined) ? `${(m((c) => c.copies.agreement!) * 100).toFixed(2)}%` : '-'} |`);
}
// The noise to judge the ratios by: each off window against the next off window (nothing changed between them).
const offs = cells.map((c) => c.off);
const spread = (f: (r: LoadResult) => number) => {
  const rs = offs.slice(1).map((r, i) => f(r) / f(offs[i]!));
  return rs.length === 0 ? '-' : `${Math.min(...rs).toFixed(2)}–${Math.max(...rs).toFixed(2)}`;
};
lines.push('', `Noise: one off window against the next (nothing changed between them) differs by p50 ×${spread((r) => r.p50)}, p99 ×${spread((r) => r.p99)}, req/s ×${spread((r) => r.rps)}, over ${Math.max(0, offs.length - 1)} consecutive pairs of off windows in this run.`);
const table = lines.join('\n');
console.log(table);
if (values.write) {
  writeSection(RATE === undefined ? 'shadow' : 'shadow-rate', RATE === undefined ? 'Shadow rollouts: what the copies cost the primary' : 'Shadow rollouts at a fixed load below capacity', table);
  console.error('wrote BENCHMARKS.md');
}
