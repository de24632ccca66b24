/**
 * The capacity planner checked against the bench's own method (issue 16): for each
 * benchmark model, ask `POST /api/v1/recommend` for the cheapest configuration meeting a
 * p99 at a target rate, apply its spec fragment, then measure that configuration as the
 * other benches do (autocannon through the gateway, open-loop at the target rate) and say
 * whether the p99 holds.
 *
 *   npm run build && tsx bench/recommend.ts [--rps 1000] [--p99 20] [--duration 6] [--write]
 *
 * Everything is on 127.0.0.1; the run is bounded and stops its servers.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { parse } from 'yaml';
import type { Recommendation } from '../src/cost/recommend.js';
import { installCleanup, stopAll } from './child.js';
import type { LoadResult } from './load.js';
import { startPaired, writeSection } from './paired.js';
import { loadWorkload, MODEL_IDS } from './workload.js';

const { values } = parseArgs({
  options: {
    rps: { type: 'string', default: '1000' },
    p99: { type: 'string', default: '20' },
    duration: { type: 'string', default: '6' },
    write: { type: 'boolean', default: false },
  },
});
const RPS = Number(values.rps);
const P99 = Number(values.p99);
const DURATION_MS = Number(values.duration) * 1000;
for (const [name, n, max] of [['--rps', RPS, 100_000], ['--p99', P99, 10_000], ['--duration', DURATION_MS / 1000, 60]] as const) {
  if (!Number.isFinite(n) || n <= 0 || n > max) throw new Error(`${name} must be a number above 0 and at most ${max}, got ${n}`);
}

installCleanup();
const tmp = mkdtempSync(join(tmpdir(), 'aloft-recommend-bench-'));
const results: { model: string; rec: Recommendation; check?: LoadResult }[] = [];
try {
  for (const id of MODEL_IDS) {
    const w = await loadWorkload(id, tmp);
    const aloft = await startPaired(w, tmp, { connections: 64, warmupMs: 1000, durationMs: DURATION_MS, rate: RPS });
    const { server, base } = aloft;
    await aloft.apply({ ...base, cost: { prices: { cpu: 0.04, memory: 0.005 } } });
    const res = await fetch(`${server.url}/api/v1/recommend`, { method: 'POST', body: JSON.stringify({ deployment: w.name, rps: RPS, p99: P99, duration: 1000 }), headers: { ...server.headers, 'content-type': 'application/json' } });
    const lines = (await res.text()).trim().split('\n').map((l) => JSON.parse(l) as { result?: Recommendation; error?: string });
    const rec = lines.find((l) => l.result)?.result;
    if (!rec) throw new Error(`recommend failed: ${lines.at(-1)?.error ?? res.status}`);
    console.error(`${id}: ${rec.note}`);
    let check: LoadResult | undefined;
    if (rec.best && rec.fragment) {
      const fragment = parse(rec.fragment) as { deployments: Record<string, Record<string, unknown>> };
      const spec = structuredClone(base) as typeof base & { cost?: unknown };
      spec.deployments[w.name] = { ...spec.deployments[w.name], ...fragment.deployments[w.name] };
      spec.cost = { prices: { cpu: 0.04, memory: 0.005 } };
      await aloft.apply(spec);
      check = await aloft.load();
      console.error(`${id}: measured again through the gateway at ${RPS} req/s: ${Math.round(check.rps)} req/s, p50 ${check.p50.toFixed(2)} ms, p99 ${check.p99.toFixed(2)} ms (target ${P99}); ${check.errors + check.non2xx} failed`);
    }
    results.push({ model: id, rec, ...(check ? { check } : {}) });
    await server.stop();
  }
} finally {
  await stopAll();
  rmSync(tmp, { recursive: true, force: true });
}

const table = [
  `\`aloft recommend\` at ${RPS} req/s with p99 ≤ ${P99} ms (1 s per candidate, synthetic inputs, prices $0.04/vCPU-h and $0.005/GiB-h), then the recommended configuration measured again as the other benches measure (autocannon through the gateway, open-loop at ${RPS} req/s over 64 connections, ${DURATION_MS / 1000} s), one run (\`tsx bench/recommend.ts --rps ${RPS} --p99 ${P99}\`).`,
  '',
  '| model | recommended | replicas | predicted p99 ms (batcher) | USD/month | measured req/s | measured p50 ms | measured p99 ms | p99 holds |',
  '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |',
  ...results.map(({ model, rec, check }) => {
    const b = rec.best;
    if (!b) return `| ${model} | none: ${rec.note} | - | - | - | - | - | - | - |`;
    return `| ${model} | ${b.isolation}, ${b.threads} thread${b.threads === 1 ? '' : 's'}, batch ${b.maxBatchSize} | ${b.replicas} | ${b.p99.toFixed(2)} | ${b.monthly.toFixed(2)} | ${check ? Math.round(check.rps) : '-'} | ${check ? check.p50.toFixed(2) : '-'} | ${check ? check.p99.toFixed(2) : '-'} | ${check ? (check.p99 <= P99 && check.errors + check.non2xx === 0 ? 'yes' : 'NO') : '-'} |`;
  }),
].join('\n');
console.log(table);
if (values.write) {
  writeSection('recommend', 'Capacity planner: recommended against measured', table);
  console.error('wrote BENCHMARKS.md');
}
