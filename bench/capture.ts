/**
 * What prediction capture costs (issue 14): throughput and latency with capture off and at
 * sampleRate 1.0, in one run, at the same closed-loop load, alternating pairs (bench/
 * paired.ts); then the gateway's memory when the sink stalls.
 *
 *   off:    the deployment as it ships, no capture section.
 *   on:     `capture: {sampleRate: 1.0, redact: […], key: …}` with the store sink (the
 *           default; SQLite in the state folder), applied live.
 *   stall:  the same with `sinks: [nats]` pointed at a TCP server that accepts and never
 *           answers, so every write waits for its timeout: the queue fills to
 *           capture.buffer and the rest is dropped; the gateway's peak RSS is measured
 *           against capture off.
 *
 *   npm run build && tsx bench/capture.ts [--connections 64] [--pairs 3] [--duration 5] [--warmup 1] [--write]
 *
 * Every request goes to 127.0.0.1; the run is bounded and stops its servers.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { installCleanup, stopAll } from './child.js';
import type { LoadResult } from './load.js';
import { median, startPaired, writeSection } from './paired.js';
import { cpuMs, peakRssKiB, resetPeakRss, threadCpuMs } from './rss.js';
import { loadWorkload } from './workload.js';

const { values } = parseArgs({
  options: {
    connections: { type: 'string', default: '64' },
    pairs: { type: 'string', default: '3' },
    rates: { type: 'string', default: '1,0.1' },
    duration: { type: 'string', default: '5' },
    warmup: { type: 'string', default: '1' },
    write: { type: 'boolean', default: false },
  },
});
const CONNECTIONS = Number(values.connections);
const PAIRS = Number(values.pairs);
const DURATION_MS = Number(values.duration) * 1000;
const WARMUP_MS = Number(values.warmup) * 1000;
const RATES = values.rates.split(',').map(Number);
if (RATES.length === 0 || RATES.some((r) => !(r > 0 && r <= 1))) throw new Error(`--rates takes sample rates in (0, 1], comma-separated, got ${values.rates}`);
for (const [name, n, max] of [['--connections', CONNECTIONS, 1024], ['--pairs', PAIRS, 20], ['--duration', DURATION_MS / 1000, 120], ['--warmup', WARMUP_MS / 1000, 60]] as const) {
  if (!Number.isFinite(n) || n < 0 || n > max || (name !== '--warmup' && n === 0)) throw new Error(`${name} must be a number from ${name === '--warmup' ? 0 : 1} to ${max}, got ${n}`);
}

installCleanup();
const tmp = mkdtempSync(join(tmpdir(), 'aloft-capture-bench-'));
// A "NATS server" that accepts connections and never says a word: the stalled sink.
const held: Socket[] = [];
const blackhole = createServer((s) => { held.push(s); s.on('error', () => undefined); });
await new Promise<void>((r) => blackhole.listen(0, '127.0.0.1', r));
const stallPort = (blackhole.address() as { port: number }).port;
type Run = LoadResult & { cpuUsPerAnswer: number; split: CpuSplit; writtenInWindow: number };
/** CPU µs per answer: the gateway's main thread, its other threads (the capture thread among them), the replicas, the load generator. */
interface CpuSplit { main: number; threads: number; replicas: number; loadgen: number }
const pairs: { rate: number; off: Run; on: Run; written: number }[] = [];
let stall: { offPeakMiB: number; stallPeakMiB: number; off: LoadResult; on: LoadResult; dropped: number; queued: number } | undefined;
try {
  const w = await loadWorkload('credit-risk', tmp);
  const aloft = await startPaired(w, tmp, { connections: CONNECTIONS, warmupMs: WARMUP_MS, durationMs: DURATION_MS });
  const { server, base } = aloft;
  const key = randomBytes(32).toString('base64');
  const features = Array.from({ length: w.width }, (_, i) => `f${i}`);
  const captured = (capture: Record<string, unknown>) => {
    const spec = structuredClone(base);
    spec.deployments[w.name] = { ...spec.deployments[w.name], features, capture: { sampleRate: 1, redact: ['f1'], key, ...capture } };
    return spec;
  };
  const metric = async (name: string): Promise<number> => {
    const text = await (await fetch(`${server.url}/metrics`, { headers: server.headers })).text();
    return text.split('\n').filter((l) => l.startsWith(name)).reduce((n, l) => n + Number(l.split(' ').at(-1)), 0);
  };
  for (const rate of RATES) for (let pair = 1; pair <= PAIRS; pair++) {
    await aloft.apply(base);
    const off = await load();
    await aloft.apply(captured({ sampleRate: rate }));
    const before = await metric('aloft_capture_records_total');
    const on = await load();
    const written = (await metric('aloft_capture_records_total')) - before;
    pairs.push({ rate, off, on, written });
    console.error(`sampleRate ${rate}, pair ${pair}: off ${Math.round(off.rps)} req/s p50 ${off.p50.toFixed(2)} p99 ${off.p99.toFixed(2)} ms ${off.cpuUsPerAnswer.toFixed(1)} CPU µs/answer; on ${Math.round(on.rps)} req/s p50 ${on.p50.toFixed(2)} p99 ${on.p99.toFixed(2)} ms ${on.cpuUsPerAnswer.toFixed(1)} CPU µs/answer; ${written} records written; CPU µs/answer off → on: ${(['main', 'threads', 'replicas', 'loadgen'] as const).map((k) => `${k} ${off.split[k].toFixed(1)} → ${on.split[k].toFixed(1)}`).join(', ')}`);
    if (off.errors + off.non2xx + on.errors + on.non2xx > 0) throw new Error(`failed requests: off ${off.errors + off.non2xx}, on ${on.errors + on.non2xx}`);
  }
  // The stalled sink: peak RSS against capture off, at the same load.
  await aloft.apply(base);
  resetPeakRss(server.pid);
  const off = await load();
  const offPeak = peakRssKiB(server.pid) ?? NaN;
  await aloft.apply(captured({ sinks: ['nats'], nats: { url: `nats://127.0.0.1:${stallPort}` } }));
  resetPeakRss(server.pid);
  const on = await load();
  const stallPeak = peakRssKiB(server.pid) ?? NaN;
  stall = { offPeakMiB: Math.round(offPeak / 1024), stallPeakMiB: Math.round(stallPeak / 1024), off, on, dropped: await metric('aloft_capture_dropped_total'), queued: await metric('aloft_capture_queued') };
  console.error(`stalled sink: peak RSS ${stall.stallPeakMiB} MiB against ${stall.offPeakMiB} MiB with capture off; ${stall.dropped} dropped, ${stall.queued} queued; ${Math.round(on.rps)} req/s against ${Math.round(off.rps)}`);
  if (on.errors + on.non2xx > 0) throw new Error(`failed requests with the sink stalled: ${on.errors + on.non2xx}`);
  await server.stop();

  /** A run, with the CPU time of the gateway process (every thread, the capture thread included) and of the replicas in its window, per answer. */
  async function load(): Promise<Run> {
    // [all, gateway main thread, gateway's other threads, replicas, this process (the load generator)]
    const cpu = () => {
      const gateway = cpuMs(server.pid) ?? Number.NaN;
      const main = threadCpuMs(server.pid, server.pid) ?? Number.NaN;
      const replicas = server.replicaPids.reduce((n, p) => n + (cpuMs(p) ?? Number.NaN), 0);
      const self = process.cpuUsage();
      return [gateway + replicas, main, gateway - main, replicas, (self.user + self.system) / 1000];
    };
    let from: number[] = [];
    let to: number[] = [];
    let first: Promise<number> = Promise.resolve(0);
    let last: Promise<number> = Promise.resolve(0);
    const r = await aloft.load({
      onWindowStart: () => { from = cpu(); first = metric('aloft_capture_records_total'); },
      onWindowEnd: () => { to = cpu(); last = metric('aloft_capture_records_total'); },
    });
    const per = (i: number) => ((to[i]! - from[i]!) * 1000) / r.count;
    return { ...r, cpuUsPerAnswer: per(0), split: { main: per(1), threads: per(2), replicas: per(3), loadgen: per(4) }, writtenInWindow: (await last) - (await first) };
  }
} finally {
  for (const s of held) s.destroy();
  blackhole.close();
  await stopAll();
  rmSync(tmp, { recursive: true, force: true });
}

const lines = [
  `Capture off and on (store sink, SQLite; one feature redacted), credit-risk, ${CONNECTIONS} connections, ${PAIRS} alternating pairs of ${DURATION_MS / 1000} s windows per sample rate, one run (\`tsx bench/capture.ts --connections ${CONNECTIONS} --pairs ${PAIRS} --rates ${RATES.join(',')}\`). Ratios are on ÷ off, the median over pairs. CPU is the gateway process's (every thread, its capture thread included) plus the replicas', per answer in the window.`,
  '',
  '| sampleRate | off req/s | on req/s | req/s on/off | off p50 ms | on p50 ms | off p99 ms | on p99 ms | p99 on/off | off CPU µs/answer | on CPU µs/answer | CPU added per record, µs | records written ÷ answers |',
  '| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ...RATES.map((rate) => {
    const ps = pairs.filter((p) => p.rate === rate);
    const m = (f: (p: (typeof pairs)[number]) => number) => median(ps.map(f));
    const perRecord = m((p) => (p.on.cpuUsPerAnswer - p.off.cpuUsPerAnswer) / Math.max(1e-9, p.on.writtenInWindow / p.on.count));
    return `| ${rate} | ${Math.round(m((p) => p.off.rps))} | ${Math.round(m((p) => p.on.rps))} | ${m((p) => p.on.rps / p.off.rps).toFixed(2)} | ${m((p) => p.off.p50).toFixed(2)} | ${m((p) => p.on.p50).toFixed(2)} | ${m((p) => p.off.p99).toFixed(2)} | ${m((p) => p.on.p99).toFixed(2)} | ${m((p) => p.on.p99 / p.off.p99).toFixed(2)} | ${m((p) => p.off.cpuUsPerAnswer).toFixed(1)} | ${m((p) => p.on.cpuUsPerAnswer).toFixed(1)} | ${perRecord.toFixed(1)} | ${m((p) => p.on.writtenInWindow / p.on.count).toFixed(2)} |`;
  }),
  '',
  stall ? `Stalled sink (\`sinks: [nats]\` at a server that never answers, sampleRate 1.0): gateway peak RSS ${stall.stallPeakMiB} MiB against ${stall.offPeakMiB} MiB with capture off; ${Math.round(stall.on.rps)} req/s against ${Math.round(stall.off.rps)}; ${stall.dropped} samples dropped and counted, ${stall.queued} queued (capture.buffer 10000); 0 failed requests.` : '',
];
const table = lines.join('\n');
console.log(table);
if (values.write) {
  writeSection('capture', 'Prediction capture: what it costs the answers', table);
  console.error('wrote BENCHMARKS.md');
}
