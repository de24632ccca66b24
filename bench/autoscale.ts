/**
 * Autoscaling (issue 15), as charts: Aloft from dist/ serving credit-risk with
 * `replicas: {min: 1, max: 3}` and short windows, under a load step (few connections, then
 * many, then few again), sampled every second: offered connections, answers per second,
 * that second's p99, and the replicas desired and ready. Then scale to zero: with
 * `min: 0` the deployment is left idle until it has no replica, and one request is sent,
 * --colds times; each cold start is timed from sending to the answer, with the replica's
 * own account of where its start went.
 *
 * Writes docs/charts/autoscale-step.svg and docs/charts/cold-start.svg, and with --write a
 * section of BENCHMARKS.md.
 *
 *   npm run build && tsx bench/autoscale.ts [--low 2] [--high 48] [--phase 20] [--colds 10] [--write]
 *
 * Everything is on 127.0.0.1; the run is bounded (about 3 × phase seconds plus the cold
 * starts) and stops its servers.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Pool } from 'undici';
import { ROOT, installCleanup, stopAll } from './child.js';
import { percentile } from './load.js';
import { median, poll, startPaired, writeSection } from './paired.js';
import { loadWorkload } from './workload.js';

const { values } = parseArgs({
  options: {
    low: { type: 'string', default: '2' },
    high: { type: 'string', default: '48' },
    phase: { type: 'string', default: '20' },
    colds: { type: 'string', default: '10' },
    write: { type: 'boolean', default: false },
  },
});
const LOW = Number(values.low);
const HIGH = Number(values.high);
const PHASE_S = Number(values.phase);
const COLDS = Number(values.colds);
for (const [name, n, max] of [['--low', LOW, 64], ['--high', HIGH, 512], ['--phase', PHASE_S, 120], ['--colds', COLDS, 50]] as const) {
  if (!Number.isInteger(n) || n < 1 || n > max) throw new Error(`${name} must be a whole number from 1 to ${max}, got ${n}`);
}

interface Sample { t: number; connections: number; rps: number; p99: number; desired: number; ready: number; failed: number }
interface Cold { ms: number; status: number; parts: Record<string, number> }

installCleanup();
const tmp = mkdtempSync(join(tmpdir(), 'aloft-autoscale-bench-'));
const samples: Sample[] = [];
const colds: Cold[] = [];
let decisions: { at: string; from: number; to: number; reason: string }[] | undefined;
try {
  const w = await loadWorkload('credit-risk', tmp);
  const aloft = await startPaired(w, tmp, { connections: 1, warmupMs: 0, durationMs: 1000 });
  const { server, base, admin } = aloft;
  const scaled = (replicas: Record<string, number>, autoscaling: Record<string, unknown>) => {
    const s = structuredClone(base);
    s.deployments[w.name] = { ...s.deployments[w.name], replicas, autoscaling };
    return s;
  };
  const status = async () => {
    const st = await admin.status();
    const a = st.autoscaling.find((x) => x.deployment === w.name);
    const d = st.deployments.find((x) => x.name === w.name);
    return { desired: a?.last?.to ?? d?.desired ?? 0, ready: d?.ready ?? 0, lastDecision: a?.lastDecision };
  };
  await aloft.apply(scaled({ min: 1, max: 3 }, { target: 4, stableWindow: '12s', panicWindow: '2s', scaleDownDelay: '4s' }));
  await poll('one replica', 60_000, async () => ((await status()).ready === 1 ? true : undefined));

  // ── the load step ──────────────────────────────────────────────────────────────────
  const pool = new Pool(server.url, { connections: HIGH + 4 });
  const body = w.bodies.json![0]!;
  let target = LOW;
  let running = 0;
  let stop = false;
  let second: number[] = [];
  let failed = 0;
  const loop = async () => {
    running++;
    const me = running;
    while (!stop && me <= target) {
      const t0 = performance.now();
      try {
        const r = await pool.request({ method: 'POST', path: `/v2/models/${w.name}/infer`, body: body.body, headers: { ...body.headers, ...server.headers } });
        await r.body.dump();
        if (r.statusCode === 200) second.push(performance.now() - t0); else failed++;
      } catch {
        failed++;
      }
    }
    running--;
  };
  const setConnections = (n: number) => {
    target = n;
    while (running < target) void loop();
  };
  const seen = new Map<string, { at: string; from: number; to: number; reason: string }>();
  const t0 = Date.now();
  setConnections(LOW);
  for (let s = 0; s < 3 * PHASE_S; s++) {
    if (s === PHASE_S) setConnections(HIGH);
    if (s === 2 * PHASE_S) setConnections(LOW);
    await new Promise((r) => setTimeout(r, t0 + (s + 1) * 1000 - Date.now()));
    const lat = Float64Array.from(second).sort();
    const st = await status();
    if (st.lastDecision) seen.set(st.lastDecision.at, st.lastDecision);
    samples.push({ t: s + 1, connections: target, rps: lat.length, p99: lat.length ? percentile(lat, 0.99) : 0, desired: st.desired, ready: st.ready, failed });
    second = [];
  }
  stop = true;
  await new Promise((r) => setTimeout(r, 200));
  await pool.close();
  decisions = [...seen.values()];
  console.error(`load step: ${samples.map((x) => `${x.t}s ${x.connections}c ${x.rps}/s p99 ${x.p99.toFixed(1)} ${x.desired}/${x.ready}`).join(' | ')}`);

  // ── scale to zero and cold starts ─────────────────────────────────────────────────
  await aloft.apply(scaled({ min: 0, max: 2 }, { scaleToZeroAfter: '2s', stableWindow: '6s', panicWindow: '1s', scaleDownDelay: '0s' }));
  for (let i = 0; i < COLDS; i++) {
    await poll('scaled to zero', 60_000, async () => { const s = await status(); return s.ready === 0 && s.desired === 0 ? true : undefined; });
    const start = performance.now();
    const r = await fetch(`${server.url}/v2/models/${w.name}/infer`, { method: 'POST', body: body.body, headers: { ...body.headers, ...server.headers } });
    await r.text();
    const ms = performance.now() - start;
    const deps = await admin.deployments();
    const replica = deps.deployments.find((d) => d.name === w.name)?.versions.flatMap((v) => v.replicas).find((x) => x.state === 'ready');
    const { totalMs: _t, ...parts } = replica?.startup ?? { totalMs: 0 };
    colds.push({ ms, status: r.status, parts: parts as Record<string, number> });
    console.error(`cold start ${i + 1}: ${ms.toFixed(0)} ms (${r.status}); ${JSON.stringify(parts)}`);
  }
  await server.stop();
} finally {
  await stopAll();
  rmSync(tmp, { recursive: true, force: true });
}

// ── charts ───────────────────────────────────────────────────────────────────────────
const W = 760;
const H = 300;
const PAD = { l: 56, r: 56, t: 30, b: 40 };
const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');
function lineChart(title: string, xs: number[], series: { name: string; color: string; ys: number[]; axis: 'left' | 'right'; step?: boolean }[], leftLabel: string, rightLabel: string): string {
  const xMax = Math.max(...xs);
  const lMax = Math.max(1, ...series.filter((s) => s.axis === 'left').flatMap((s) => s.ys)) * 1.1;
  const rMax = Math.max(1, ...series.filter((s) => s.axis === 'right').flatMap((s) => s.ys)) * 1.15;
  const x = (v: number) => PAD.l + (v / xMax) * (W - PAD.l - PAD.r);
  const y = (v: number, max: number) => H - PAD.b - (v / max) * (H - PAD.t - PAD.b);
  const paths = series.map((s) => {
    const max = s.axis === 'left' ? lMax : rMax;
    let d = '';
    s.ys.forEach((v, i) => {
      const px = x(xs[i]!).toFixed(1);
      const py = y(v, max).toFixed(1);
      if (i === 0) d += `M${px},${py}`;
      else if (s.step) d += `H${px}V${py}`;
      else d += `L${px},${py}`;
    });
    return `<path d="${d}" fill="none" stroke="${s.color}" stroke-width="2"/>`;
  });
  const ticks = [0, 0.25, 0.5, 0.75, 1];
  const grid = ticks.map((f) => `<line x1="${PAD.l}" x2="${W - PAD.r}" y1="${y(f * lMax, lMax)}" y2="${y(f * lMax, lMax)}" stroke="#eee"/><text x="${PAD.l - 6}" y="${y(f * lMax, lMax) + 4}" font-size="11" text-anchor="end">${(f * lMax).toFixed(lMax < 10 ? 1 : 0)}</text><text x="${W - PAD.r + 6}" y="${y(f * rMax, rMax) + 4}" font-size="11">${(f * rMax).toFixed(rMax < 10 ? 1 : 0)}</text>`);
  const xt = [0, 0.25, 0.5, 0.75, 1].map((f) => `<text x="${x(f * xMax)}" y="${H - PAD.b + 16}" font-size="11" text-anchor="middle">${Math.round(f * xMax)}s</text>`);
  const legend = series.map((s, i) => `<rect x="${PAD.l + i * 170}" y="8" width="12" height="3" fill="${s.color}"/><text x="${PAD.l + i * 170 + 16}" y="13" font-size="11">${esc(s.name)} (${s.axis})</text>`);
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H + 20}" font-family="sans-serif"><rect width="100%" height="100%" fill="white"/>${grid.join('')}${xt.join('')}${paths.join('')}${legend.join('')}<text x="${PAD.l}" y="${H + 14}" font-size="12">${esc(title)}</text><text x="14" y="${PAD.t + 120}" font-size="11" transform="rotate(-90 14 ${PAD.t + 120})">${esc(leftLabel)}</text><text x="${W - 10}" y="${PAD.t + 120}" font-size="11" transform="rotate(90 ${W - 10} ${PAD.t + 120})">${esc(rightLabel)}</text></svg>\n`;
}

const charts = join(ROOT, 'docs', 'charts');
mkdirSync(charts, { recursive: true });
const xs = samples.map((s) => s.t);
writeFileSync(join(charts, 'autoscale-step.svg'), lineChart(
  `Load step: ${LOW} → ${HIGH} → ${LOW} closed-loop connections; replicas {min 1, max 3}, target 4 concurrent per replica`,
  xs,
  [
    { name: 'connections offered', color: '#888', ys: samples.map((s) => s.connections), axis: 'left', step: true },
    { name: 'p99 ms', color: '#d62728', ys: samples.map((s) => s.p99), axis: 'left' },
    { name: 'replicas desired', color: '#1f77b4', ys: samples.map((s) => s.desired), axis: 'right', step: true },
    { name: 'replicas ready', color: '#2ca02c', ys: samples.map((s) => s.ready), axis: 'right', step: true },
  ],
  'connections, p99 ms', 'replicas',
));
const coldMs = colds.map((c) => c.ms);
const partNames = ['bootMs', 'verifyMs', 'loadMs', 'warmUpMs', 'listenMs'];
const coldSvg = (() => {
  const max = Math.max(1, ...coldMs) * 1.1;
  const bw = (W - PAD.l - PAD.r) / Math.max(1, colds.length);
  const colors: Record<string, string> = { bootMs: '#1f77b4', verifyMs: '#ff7f0e', loadMs: '#2ca02c', warmUpMs: '#9467bd', listenMs: '#8c564b', rest: '#bbb' };
  const bars = colds.map((c, i) => {
    let yTop = H - PAD.b;
    const h = (v: number) => (v / max) * (H - PAD.t - PAD.b);
    const segs = [...partNames.map((p) => [p, c.parts[p] ?? 0] as const), ['rest', Math.max(0, c.ms - partNames.reduce((n, p) => n + (c.parts[p] ?? 0), 0))] as const];
    return segs.map(([p, v]) => { yTop -= h(v); return `<rect x="${(PAD.l + i * bw + 2).toFixed(1)}" y="${yTop.toFixed(1)}" width="${(bw - 4).toFixed(1)}" height="${h(v).toFixed(1)}" fill="${colors[p]}"/>`; }).join('');
  });
  const grid = [0, 0.25, 0.5, 0.75, 1].map((f) => { const yy = H - PAD.b - f * (H - PAD.t - PAD.b); return `<line x1="${PAD.l}" x2="${W - PAD.r}" y1="${yy}" y2="${yy}" stroke="#eee"/><text x="${PAD.l - 6}" y="${yy + 4}" font-size="11" text-anchor="end">${(f * max).toFixed(0)}</text>`; });
  const legend = [...partNames, 'rest'].map((p, i) => `<rect x="${PAD.l + i * 110}" y="6" width="10" height="10" fill="${colors[p]}"/><text x="${PAD.l + i * 110 + 14}" y="15" font-size="11">${p === 'rest' ? 'gateway, spawn, first answer' : p.replace('Ms', '')}</text>`);
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H + 20}" font-family="sans-serif"><rect width="100%" height="100%" fill="white"/>${grid.join('')}${bars.join('')}${legend.join('')}<text x="${PAD.l}" y="${H + 14}" font-size="12">Cold starts from zero replicas: first request to its answer, ms (median ${median(coldMs).toFixed(0)}, worst ${Math.max(...coldMs).toFixed(0)})</text></svg>\n`;
})();
writeFileSync(join(charts, 'cold-start.svg'), coldSvg);

const maxDesired = Math.max(...samples.map((s) => s.desired));
const firstUp = samples.find((s) => s.t > PHASE_S && s.desired > 1);
const backDown = samples.find((s) => s.t > 2 * PHASE_S && s.desired === 1);
const partMedian = (p: string) => median(colds.map((c) => c.parts[p] ?? 0));
const table = [
  `credit-risk from dist/ (process replicas, batching), one run (\`tsx bench/autoscale.ts --low ${LOW} --high ${HIGH} --phase ${PHASE_S} --colds ${COLDS}\`).`,
  '',
  `![load step](docs/charts/autoscale-step.svg)`,
  '',
  `Load step ${LOW} → ${HIGH} → ${LOW} connections, ${PHASE_S} s each, \`replicas: {min: 1, max: 3}\`, \`autoscaling: {target: 4, stableWindow: 12s, panicWindow: 2s, scaleDownDelay: 4s}\`: the count rose ${firstUp ? `${firstUp.t - PHASE_S} s after the step` : 'never'} and reached ${maxDesired}; it came back to 1 ${backDown ? `${backDown.t - 2 * PHASE_S} s after the load fell` : 'not within the phase'}; ${decisions?.length ?? 0} decisions; ${samples.at(-1)?.failed ?? 0} failed requests.`,
  '',
  '| decision at | from | to | reason |',
  '| --- | ---: | ---: | --- |',
  ...(decisions ?? []).map((d) => `| ${d.at} | ${d.from} | ${d.to} | ${d.reason.replace(/\|/g, '/')} |`),
  '',
  `![cold starts](docs/charts/cold-start.svg)`,
  '',
  `Scale to zero (\`replicas: {min: 0, max: 2}\`, \`scaleToZeroAfter: 2s\`), then one request, ${COLDS} times: all answered ${colds.every((c) => c.status === 200) ? '200' : `with ${[...new Set(colds.map((c) => c.status))].join(', ')}`}; first request to its answer median ${median(coldMs).toFixed(0)} ms, worst ${Math.max(...coldMs).toFixed(0)} ms. Median parts: node start and imports ${partMedian('bootMs').toFixed(0)} ms, artifact read and sha256 ${partMedian('verifyMs').toFixed(1)} ms, ONNX Runtime load ${partMedian('loadMs').toFixed(1)} ms, warm-up ${partMedian('warmUpMs').toFixed(1)} ms, listen ${partMedian('listenMs').toFixed(1)} ms; the rest is the spawn, the gateway and the first inference.`,
].join('\n');
console.log(table);
if (values.write) {
  writeSection('autoscale', 'Autoscaling and scale to zero', table);
  console.error('wrote BENCHMARKS.md and docs/charts/');
}
