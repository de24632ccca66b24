/**
 * Overload (issue 15): Aloft's capacity is measured closed-loop, then it is offered three
 * times that, open-loop (autocannon's overallRate over many connections), for a bounded
 * time: once with admission control as it ships (`admission: {limit: adaptive}`), once
 * with it off (`admission: {limit: off, refuseLate: false}`: only batching.maxQueueSize
 * bounds the queue). For each: goodput (2xx per second) against capacity, the admitted
 * answers' p50/p99, how many were refused with 503 and how fast, timeouts, the gateway's
 * peak RSS, and whether a refusal carries Retry-After.
 *
 *   npm run build && tsx bench/overload.ts [--duration 8] [--connections 512] [--factor 3] [--timeout 2s] [--split-cores] [--write]
 *
 * --split-cores gives the replicas cores of their own (every replica process on cores
 * 0..n-2, the gateway and this process, the load generator, on the last one, through
 * taskset's sched_setaffinity), as when replicas run on their own machines or pods: the
 * CPU the gateway spends taking and refusing three times the load is then not taken from
 * the model. Capacity is measured the same way.
 *
 * The deployment's timeout is set to --timeout so that, without admission control, a
 * request queued too long ends as a 504 within the run. Everything is on 127.0.0.1 and
 * the run stops its servers.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { mlp, type DenseLayer } from '../src/onnx/mlp.js';
import { installCleanup, stopAll } from './child.js';
import { runLoad, type LoadResult } from './load.js';
import { startPaired, writeSection } from './paired.js';
import { childPids, peakRssKiB, resetPeakRss } from './rss.js';
import { loadWorkload } from './workload.js';

const { values } = parseArgs({
  options: {
    duration: { type: 'string', default: '8' },
    connections: { type: 'string', default: '512' },
    factor: { type: 'string', default: '3' },
    timeout: { type: 'string', default: '2s' },
    width: { type: 'string', default: '3072' },
    'capacity-connections': { type: 'string', default: '256' },
    layers: { type: 'string', default: '8' },
    open: { type: 'boolean', default: false },
    'split-cores': { type: 'boolean', default: false },
    write: { type: 'boolean', default: false },
  },
});
const DURATION_MS = Number(values.duration) * 1000;
const SPLIT = values['split-cores'] === true;
/** The cores this process may use before --split-cores narrows them. */
const CORES = availableParallelism();
const CONNECTIONS = Number(values.connections);
const FACTOR = Number(values.factor);
for (const [name, n, max] of [['--duration', DURATION_MS / 1000, 120], ['--connections', CONNECTIONS, 4096], ['--factor', FACTOR, 20]] as const) {
  if (!Number.isFinite(n) || n <= 0 || n > max) throw new Error(`${name} must be a number above 0 and at most ${max}, got ${n}`);
}

installCleanup();
const tmp = mkdtempSync(join(tmpdir(), 'aloft-overload-bench-'));
interface Cell { mode: string; r: LoadResult; peakMiB: number; retryAfter: string | null; refusedBody: string }
const cells: Cell[] = [];
let capacity: LoadResult | undefined;
try {
  const w = await loadWorkload('credit-risk', tmp);
  const aloft = await startPaired(w, tmp, { connections: Number(values['capacity-connections']), warmupMs: 1000, durationMs: DURATION_MS });
  const { server, base } = aloft;
  // The model's compute, not the gateway, is what runs out: an MLP with the credit-risk
  // signature and --layers hidden layers of --width (about width² × layers multiply-adds a row).
  const heavy = join(tmp, 'heavy.onnx');
  writeFileSync(heavy, heavyModel(w.width, Number(values.width), Number(values.layers)));
  const spec = (admission: Record<string, unknown>) => {
    const s = structuredClone(base);
    s.models[w.name] = { ...s.models[w.name], path: heavy };
    s.deployments[w.name] = { ...s.deployments[w.name], timeout: values.timeout, admission };
    return s;
  };
  await aloft.apply(spec({}));
  if (SPLIT) splitCores(server.pid);
  capacity = await aloft.load();
  console.error(`capacity (closed loop, ${values['capacity-connections']} connections): ${Math.round(capacity.rps)} req/s, p50 ${capacity.p50.toFixed(2)} p99 ${capacity.p99.toFixed(2)} ms`);
  const offered = Math.round(capacity.rps * FACTOR);
  const requests = w.bodies.json!.map((b) => ({ body: b.body, headers: { ...b.headers, ...server.headers } }));
  const modes: [string, Record<string, unknown>][] = [
    ['as it ships (limit off, refuseLate)', {}],
    ['adaptive limit', { limit: 'adaptive' }],
    ['no admission control (queue bound only)', { limit: 'off', refuseLate: false }],
  ];
  for (const [mode, admission] of modes) {
    await aloft.apply(spec(admission));
    if (SPLIT) splitCores(server.pid);
    resetPeakRss(server.pid);
    // One refusal seen from the side, for its headers: sent while the load runs.
    let retryAfter: string | null = null;
    let refusedBody = '';
    const probe = (async () => {
      await new Promise((r) => setTimeout(r, 2000));
      for (let i = 0; i < 200 && retryAfter === null; i++) {
        const res = await fetch(`${server.url}/v2/models/${w.name}/infer`, { method: 'POST', body: requests[0]!.body, headers: requests[0]!.headers }).catch(() => undefined);
        const text = await res?.text();
        if (res?.status === 503) { retryAfter = res.headers.get('retry-after'); refusedBody = text ?? ''; }
      }
    })();
    const r = await runLoad({ url: server.url, path: `/v2/models/${w.name}/infer`, connections: CONNECTIONS, warmupMs: 1000, durationMs: DURATION_MS, ...(values.open ? { rate: offered } : {}), requests });
    await probe;
    const peakMiB = Math.round((peakRssKiB(server.pid) ?? NaN) / 1024);
    cells.push({ mode, r, peakMiB, retryAfter, refusedBody });
    const s = r.byStatus;
    console.error(`${mode}: offered ${offered}/s; 200 ${s[200]?.count ?? 0} (p50 ${s[200]?.p50.toFixed(2)} p99 ${s[200]?.p99.toFixed(2)} ms), 503 ${s[503]?.count ?? 0} (p99 ${s[503]?.p99.toFixed(2)} ms), 504 ${s[504]?.count ?? 0}; errors ${r.errors}; peak RSS ${peakMiB} MiB; Retry-After ${retryAfter}`);
  }
  await server.stop();
} finally {
  await stopAll();
  rmSync(tmp, { recursive: true, force: true });
}

/**
 * The replica processes under `gateway` on cores 0..n-2; the gateway and this process on
 * core n-1. Called after every apply: a replica started since inherited the gateway's core.
 */
function splitCores(gateway: number): void {
  const n = CORES;
  if (n < 2) throw new Error('--split-cores needs at least 2 cores');
  const replicas = n === 2 ? '0' : `0-${n - 2}`;
  const pin = (pid: number, cpus: string) => execFileSync('taskset', ['-a', '-p', '-c', cpus, String(pid)], { stdio: 'ignore' });
  const tree = (pid: number): number[] => childPids(pid).flatMap((c) => [c, ...tree(c)]);
  const children = tree(gateway);
  for (const pid of children) pin(pid, replicas);
  pin(gateway, String(n - 1));
  pin(process.pid, String(n - 1));
  console.error(`split cores: ${children.length} replica process(es) on ${replicas}, the gateway and the load generator on ${n - 1}`);
}

function heavyModel(inputs: number, width: number, hidden: number): Uint8Array {
  let seed = 7;
  const r = () => { seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0; return seed / 2 ** 32; };
  const dense = (nIn: number, nOut: number): DenseLayer => {
    const weights = new Float32Array(nIn * nOut);
    for (let i = 0; i < weights.length; i++) weights[i] = (r() * 2 - 1) / Math.sqrt(nIn);
    return { in: nIn, out: nOut, weights, bias: new Float32Array(nOut) };
  };
  const layers = [dense(inputs, width)];
  for (let i = 0; i < hidden; i++) layers.push(dense(width, width));
  layers.push(dense(width, 1));
  return mlp(layers, { inputName: 'features', outputName: 'probability', activation: 'sigmoid', name: 'heavy' });
}

const cap = capacity!;
const row = (c: Cell) => {
  const s = c.r.byStatus;
  const ok = s[200];
  const goodput = (ok?.count ?? 0) / c.r.seconds;
  const other = Object.entries(s).filter(([k]) => k !== '200' && k !== '503').map(([k, v]) => `${v.count} × ${k}`).join(', ') || '0';
  return `| ${c.mode} | ${Math.round(goodput)} | ${(goodput / cap.rps).toFixed(2)} | ${ok ? ok.p50.toFixed(2) : '-'} | ${ok ? ok.p99.toFixed(2) : '-'} | ${s[503]?.count ?? 0} | ${s[503] ? s[503].p99.toFixed(2) : '-'} | ${other} | ${c.r.errors} | ${c.peakMiB} | ${c.retryAfter ?? 'none seen'} |`;
};
const table = [
  `An MLP with credit-risk's signature and ${values.layers} hidden layers of ${values.width} (compute-bound, so the replicas run out before the gateway), served as credit-risk ships (process replicas, batching), deployment timeout ${values.timeout}; capacity measured closed-loop at ${values['capacity-connections']} connections: ${Math.round(cap.rps)} req/s (p50 ${cap.p50.toFixed(2)} ms, p99 ${cap.p99.toFixed(2)} ms). Then ${values.open ? `${FACTOR}× that offered open-loop (${Math.round(cap.rps * FACTOR)} req/s over ${CONNECTIONS} connections)` : `a closed loop of ${CONNECTIONS} connections (${(CONNECTIONS / Number(values['capacity-connections'])).toFixed(0)}× the capacity run's), each sending again as soon as it is answered, a refusal included,`} for ${DURATION_MS / 1000} s, one run (\`tsx bench/overload.ts --factor ${FACTOR} --connections ${CONNECTIONS}${values.open ? ' --open' : ''}${SPLIT ? ' --split-cores' : ''}\`).${SPLIT ? ' The replica processes ran on a core of their own, the gateway and the load generator on the other (`--split-cores`), in the capacity run and the overload runs alike.' : ''} Goodput is 2xx answers per second in the window.`,
  '',
  '| | goodput req/s | ÷ capacity | admitted p50 ms | admitted p99 ms | 503 refused | 503 p99 ms | other non-2xx | connection errors | gateway peak RSS MiB | Retry-After |',
  '| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: | --- |',
  ...cells.map(row),
].join('\n');
console.log(table);
if (values.write) {
  writeSection(values.open ? 'overload' : 'overload-closed', values.open ? 'Overload: admission control at three times capacity' : 'Overload, clients that retry at once', table);
  console.error('wrote BENCHMARKS.md');
}
