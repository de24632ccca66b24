/**
 * Results → tables and BENCHMARKS.md. Every figure in the report, the prose included, is
 * computed from the measured rows.
 */
import { profileTable, STAGES, type ProfileResult, type Stage } from './profile.js';
import type { BodyKind, ModelId } from './workload.js';

export interface Row {
  model: ModelId;
  /** System id ('raw-ort', 'fixed', 'plain', 'aloft', 'aloft-nobatch'). */
  system: string;
  label: string;
  body: BodyKind | 'none';
  /** Concurrent connections; undefined for the in-process loop. */
  connections: number | undefined;
  count: number;
  rps: number;
  p50: number;
  p99: number;
  mean: number;
  max: number;
  errors: number;
  non2xx: number;
  serverRssKiB: number | undefined;
  /** Sum over replica processes (Aloft). */
  replicasRssKiB: number | undefined;
  /** CPU time per request in the measurement window, µs: the server process, and the sum over replicas. */
  serverCpuUs: number | undefined;
  replicasCpuUs: number | undefined;
  /** Share of the window the server's main thread (its event loop) was on a CPU, 0..1. */
  mainThreadBusy?: number;
  /** Share of the machine's CPU time (all cores) not idle during the window, 0..1; the load generator included. */
  machineBusy?: number;
  /** The cell did not run (correctness check or start failed). */
  failed?: string;
}

export interface Machine {
  cpuModel: string;
  cores: number;
  memoryGiB: number;
  os: string;
  node: string;
  onnxruntime: string;
  autocannon: string;
}

export interface RunInfo {
  command: string;
  date: string;
  machine: Machine;
  warmupS: number;
  durationS: number;
  /** Unmeasured load at the highest concurrency before a system's first cell. */
  settleS: number;
  concurrency: number[];
  wallSeconds: number;
  /** Share of CPU time stolen by the hypervisor during the run (noise indicator). */
  stealShare: number | undefined;
  /** 1-minute load average when the run started (other work on the machine). */
  loadAverage: number;
  /**
   * Where the gateway's time goes (bench/profile.ts): the "before" (its `recorded` is 'this
   * run' when the baseline commit was built and profiled in this run, else the date its
   * figures were recorded), then this run's profiles.
   */
  profiles?: { baseline: { commit: string; recorded: string; result: ProfileResult } | undefined; results: ProfileResult[] };
}

/** DESIGN.md's performance budget, as numbers: p50 overhead over raw ONNX Runtime at the lowest load… */
export const LOW_LOAD_BUDGET_MS = 0.5;
/** …and the throughput ratio to the plain server at the highest load. */
export const HIGH_LOAD_BUDGET = 3;

/** Tolerance of the Little's-law check (window edges make equality approximate). */
export const LITTLE_TOLERANCE = 1.02;

/** rps × mean latency ÷ connections: ≤ 1 in a closed loop (Little's law). */
export function occupancy(r: Row): number | undefined {
  if (r.failed || !(r.count > 0)) return undefined;
  return (r.rps * r.mean) / 1000 / (r.connections ?? 1);
}

export function violatesLittle(r: Row): boolean {
  const o = occupancy(r);
  return o !== undefined && o > LITTLE_TOLERANCE;
}

export function peerOf(rows: readonly Row[], r: Row): Row | undefined {
  if (r.connections === undefined) return undefined;
  return rows.find((p) => p.model === r.model && p.system === 'plain' && p.connections === r.connections && !p.failed);
}

function ms(v: number): string {
  if (!Number.isFinite(v)) return '—';
  return v < 1 ? v.toFixed(3) : v < 10 ? v.toFixed(2) : v.toFixed(1);
}

function int(v: number): string {
  return Number.isFinite(v) ? Math.round(v).toLocaleString('en-US') : '—';
}

function ratio(v: number | undefined): string {
  return v === undefined || !Number.isFinite(v) ? '—' : `${v.toFixed(2)}×`;
}

function mib(kib: number | undefined): string {
  return kib === undefined ? '—' : (kib / 1024).toFixed(0);
}

/** "server + replicas" (or just the server). */
function pair(server: string, replicas: string | undefined): string {
  return replicas === undefined ? server : `${server} + ${replicas}`;
}

function us(v: number | undefined): string {
  return v === undefined || !Number.isFinite(v) ? '—' : v.toFixed(0);
}

function rowLabel(r: Row): string {
  return r.body === 'binary' ? `${r.label}, binary tensor body` : r.label;
}

const HEADER = [
  'system', 'conns', 'req/s', 'p50 ms', 'p99 ms', 'mean ms', 'errors', 'non-2xx',
  'peak RSS MiB (server + replicas Σ)', 'CPU µs/req (server + replicas Σ)', 'server main thread busy', 'machine busy', 'req/s ÷ plain', 'p99 ÷ plain', 'req/s×mean÷conns',
];

const SYSTEM_ORDER = ['raw-ort', 'fixed', 'socket-fixed', 'fastify-fixed', 'plain', 'aloft-nobatch', 'aloft'];

/** Raw ORT first, then by connections; within one connection count, by system, JSON before binary. */
function ordered(rows: readonly Row[]): Row[] {
  const rank = (r: Row) => [r.connections ?? 0, SYSTEM_ORDER.indexOf(r.system), r.body === 'binary' ? 1 : 0];
  return [...rows].sort((a, b) => {
    const x = rank(a);
    const y = rank(b);
    for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return x[i]! - y[i]!;
    return 0;
  });
}

/** One markdown table for one model. */
export function modelTable(rows: readonly Row[], model: ModelId): string {
  const mine = ordered(rows.filter((r) => r.model === model));
  const lines = [`| ${HEADER.join(' | ')} |`, `|${HEADER.map((_, i) => (i === 0 ? ' --- ' : ' ---: ')).join('|')}|`];
  for (const r of mine) {
    if (r.failed) {
      lines.push(`| ${rowLabel(r)} | ${r.connections ?? '—'} | FAILED: ${r.failed.split('\n')[0]!.replaceAll('|', '\\|')} |${' |'.repeat(HEADER.length - 3)}`);
      continue;
    }
    const peer = peerOf(rows, r);
    const occ = occupancy(r);
    lines.push(`| ${[
      rowLabel(r),
      r.connections === undefined ? '— (loop)' : String(r.connections),
      int(r.rps), ms(r.p50), ms(r.p99), ms(r.mean),
      r.connections === undefined ? '—' : String(r.errors),
      r.connections === undefined ? '—' : String(r.non2xx),
      pair(mib(r.serverRssKiB), r.replicasRssKiB === undefined ? undefined : mib(r.replicasRssKiB)),
      pair(us(r.serverCpuUs), r.replicasCpuUs === undefined ? undefined : us(r.replicasCpuUs)),
      r.mainThreadBusy === undefined ? '—' : pct(r.mainThreadBusy),
      r.machineBusy === undefined ? '—' : pct(r.machineBusy),
      peer ? ratio(r.rps / peer.rps) : '—',
      peer ? ratio(r.p99 / peer.p99) : '—',
      occ === undefined ? '—' : `${occ.toFixed(2)}${violatesLittle(r) ? ' ⚠' : ''}`,
    ].join(' | ')} |`);
  }
  return lines.join('\n');
}

function find(rows: readonly Row[], model: ModelId, system: string, connections: number | undefined, body: BodyKind | 'none' = 'json'): Row | undefined {
  return rows.find((r) => r.model === model && r.system === system && r.connections === connections && r.body === body && !r.failed);
}

function conns(n: number): string {
  return `${n} connection${n === 1 ? '' : 's'}`;
}

function pct(v: number): string {
  return `${(v * 100).toFixed(0)}%`;
}

/** "What this shows" for one model: sentences computed from its rows. */
export function findings(rows: readonly Row[], model: ModelId, concurrency: readonly number[]): string[] {
  const out: string[] = [];
  const lo = Math.min(...concurrency);
  const hi = Math.max(...concurrency);
  const raw = find(rows, model, 'raw-ort', undefined, 'none');
  const aLo = find(rows, model, 'aloft', lo);
  const pLo = find(rows, model, 'plain', lo);
  const fLo = find(rows, model, 'fixed', lo);
  const aHi = find(rows, model, 'aloft', hi);
  const nHi = find(rows, model, 'aloft-nobatch', hi);
  const pHi = find(rows, model, 'plain', hi);
  const fHi = find(rows, model, 'fixed', hi);

  if (raw) out.push(`The floor, ONNX Runtime called in-process at batch 1, is ${ms(raw.p50)} ms per call at p50 (${int(raw.rps)} calls/s on one thread).`);
  if (aLo && raw) {
    const overhead = aLo.p50 - raw.p50;
    let s = `At ${conns(lo)}, Aloft (batching on) answers in ${ms(aLo.p50)} ms at p50, ${ms(overhead)} ms more than the raw call`;
    if (pLo) s += `; the plain server takes ${ms(pLo.p50)} ms (${ms(pLo.p50 - raw.p50)} ms over the raw call)`;
    if (fLo) s += ` and the bare HTTP stack alone ${ms(fLo.p50)} ms`;
    s += `. Budget "within a fraction of a millisecond of ONNX Runtime" (read as < ${LOW_LOAD_BUDGET_MS} ms more at p50): ${overhead < LOW_LOAD_BUDGET_MS ? 'met' : 'not met'}.`;
    out.push(s);
  }
  if (aHi && pHi) {
    const r = aHi.rps / pHi.rps;
    let s = `At ${conns(hi)}, Aloft with batching serves ${int(aHi.rps)} req/s, ${ratio(r)} the plain server's ${int(pHi.rps)}, with p99 ${ms(aHi.p99)} ms against ${ms(pHi.p99)} ms (${ratio(aHi.p99 / pHi.p99)})`;
    if (nHi) s += `; with batching off it serves ${int(nHi.rps)} req/s (${ratio(nHi.rps / pHi.rps)} the plain server), so batching is worth ${ratio(aHi.rps / nHi.rps)}`;
    s += `. Budget "several times faster than a plain server at high load" (read as ≥ ${HIGH_LOAD_BUDGET}× req/s): ${r >= HIGH_LOAD_BUDGET ? 'met' : 'not met'}.`;
    out.push(s);
  }
  if (aHi && fHi) {
    out.push(`The bare node:http server, which runs no model and parses nothing, tops out at ${int(fHi.rps)} req/s at ${conns(hi)}; Aloft reaches ${pct(aHi.rps / fHi.rps)} of that ceiling and the plain server ${pHi ? pct(pHi.rps / fHi.rps) : '—'}.`);
  }
  // How busy the gateway's one event loop and the machine were at high load.
  const busiest = rows.filter((r) => r.model === model && r.connections === hi && r.system.startsWith('aloft') && r.system !== 'aloft-nobatch' && !r.failed && r.mainThreadBusy !== undefined && r.machineBusy !== undefined)
    .sort((a, b) => b.rps - a.rps)[0];
  if (busiest) {
    out.push(`In Aloft's fastest cell at ${conns(hi)} (${rowLabel(busiest)}${busiest.body === 'binary' ? '' : ', JSON'}), the gateway's main thread was busy ${pct(busiest.mainThreadBusy!)} of the time and the machine ${pct(busiest.machineBusy!)} (load generator included).`);
  }
  const bHi = find(rows, model, 'aloft', hi, 'binary');
  const bLo = find(rows, model, 'aloft', lo, 'binary');
  if (bHi && aHi) {
    out.push(`With the binary tensor extension instead of JSON, Aloft serves ${int(bHi.rps)} req/s at ${conns(hi)} (${ratio(bHi.rps / aHi.rps)} its JSON rate)${bLo && aLo ? ` and answers in ${ms(bLo.p50)} ms at p50 at ${conns(lo)} (JSON: ${ms(aLo.p50)} ms)` : ''}.`);
  }
  const slower = concurrency.filter((c) => {
    const a = find(rows, model, 'aloft', c);
    const p = find(rows, model, 'plain', c);
    return a && p && a.rps < p.rps;
  });
  if (slower.length > 0 && raw) {
    const c = slower[slower.length - 1]!;
    const a = find(rows, model, 'aloft', c)!;
    const p = find(rows, model, 'plain', c)!;
    const f = find(rows, model, 'fixed', c);
    const total = (a.serverCpuUs ?? Number.NaN) + (a.replicasCpuUs ?? 0);
    out.push(`Aloft serves fewer req/s than the plain server at ${slower.join(' and ')} connection${slower.length === 1 && slower[0] === 1 ? '' : 's'}. Each request crosses two hops instead of one (client → gateway over HTTP, then gateway → replica and back: a frame over the replica's Unix socket, or a message to its thread), each waking another process or thread; here one loopback HTTP exchange costs about ${us(f?.serverCpuUs)} µs of server CPU (the bare server at ${conns(c)}), against ${us(raw.serverCpuUs)} µs for the model run itself: at ${conns(c)} Aloft spends ${us(total)} µs of CPU per request (gateway ${us(a.serverCpuUs)} + replicas ${us(a.replicasCpuUs)}) against ${us(p.serverCpuUs)} µs for the plain server, on 2 cores it shares with the load generator.`);
  } else if (aHi && pHi) {
    out.push(`CPU per request at ${conns(hi)}: Aloft ${us((aHi.serverCpuUs ?? Number.NaN) + (aHi.replicasCpuUs ?? 0))} µs (gateway ${us(aHi.serverCpuUs)} + replicas ${us(aHi.replicasCpuUs)}), the plain server ${us(pHi.serverCpuUs)} µs.`);
  }
  const aMem = rows.filter((r) => r.model === model && r.system === 'aloft' && !r.failed);
  const pMem = rows.filter((r) => r.model === model && r.system === 'plain' && !r.failed);
  if (aMem.length && pMem.length) {
    const peakA = Math.max(...aMem.map((r) => (r.serverRssKiB ?? 0) + (r.replicasRssKiB ?? 0)));
    const peakP = Math.max(...pMem.map((r) => r.serverRssKiB ?? 0));
    if (peakA > 0 && peakP > 0) out.push(`Memory: Aloft's gateway plus replicas peak at ${mib(peakA)} MiB in total, the plain server at ${mib(peakP)} MiB.`);
  }
  const flagged = rows.filter((r) => r.model === model && violatesLittle(r));
  out.push(flagged.length === 0
    ? `Every cell passes the sanity check req/s × mean latency ≤ connections (tolerance ${LITTLE_TOLERANCE}).`
    : `${flagged.length} cell(s) fail the sanity check req/s × mean latency ≤ connections (marked ⚠): their latency or rate is suspect.`);
  return out;
}

/** The data-plane targets Aloft is held to, as numbers; BENCHMARKS.md judges every run against them. */
export const TARGETS = {
  /** MNIST, JSON, highest load: req/s at least this × the plain server's… */
  mnistThroughput: 2.5,
  /** …with p99 at most this × the plain server's. */
  mnistP99: 0.25,
  /** MNIST, binary bodies, highest load: req/s at least this × the bare HTTP server's (the ceiling). */
  binaryCeiling: 0.7,
  /** credit-risk, JSON, highest load: req/s at least this × the plain server's. */
  creditRiskThroughput: 1.5,
  /** Gateway peak RSS under load, MiB (process replicas, so the gateway alone). */
  gatewayRssMiB: 150,
} as const;

/** The configurations measured beside the default (the `aloft` system, the minimal spec). */
const ALOFT_OTHERS = ['aloft-threads', 'aloft-nobatch'];

/** The best of the other Aloft configurations for a model, body and load: the most req/s, or the least of `by`. */
function bestOther(rows: readonly Row[], model: ModelId, connections: number, body: BodyKind, by: 'rps' | 'p50' | 'p99' = 'rps'): Row | undefined {
  return rows.filter((r) => r.model === model && ALOFT_OTHERS.includes(r.system) && r.connections === connections && r.body === body && !r.failed)
    .sort((a, b) => (by === 'rps' ? b.rps - a.rps : a[by] - b[by]))[0];
}

function verdict(met: boolean | undefined): string {
  return met === undefined ? 'not measured' : met ? '**met**' : 'not met';
}

/**
 * Each target against this run: judged on the default configuration (the minimal spec, as a
 * new user runs it), with the reference cell, the ratio, the best other configuration of
 * this run beside it, and what a server doing no work at all reaches in the same run (the
 * bare node:http server) — a target below that floor cannot be met by any server here.
 */
export function targetsSection(rows: readonly Row[], concurrency: readonly number[]): string {
  const lo = Math.min(...concurrency);
  const hi = Math.max(...concurrency);
  const lines: string[][] = [];
  const cell = (r: Row | undefined, name = r && rowLabel(r)) => (r ? `${name}: ${int(r.rps)} req/s, p50 ${ms(r.p50)} ms, p99 ${ms(r.p99)} ms` : '—');
  const other = (r: Row | undefined, value: (r: Row) => number) => (r ? `${rowLabel(r)}: ${ratio(value(r))}` : '—');

  const aM = find(rows, 'mnist', 'aloft', hi);
  const pM = find(rows, 'mnist', 'plain', hi);
  const fM = find(rows, 'mnist', 'fixed', hi);
  if (aM && pM) {
    lines.push([`MNIST, JSON, ${conns(hi)}: req/s ≥ ${TARGETS.mnistThroughput}× plain`, cell(aM), cell(pM, 'plain'), ratio(aM.rps / pM.rps), verdict(aM.rps >= TARGETS.mnistThroughput * pM.rps),
      other(bestOther(rows, 'mnist', hi, 'json'), (r) => r.rps / pM.rps), fM ? `bare server ${ratio(fM.rps / pM.rps)} plain` : '—']);
    const floor = fM ? fM.p99 / pM.p99 : undefined;
    lines.push([`MNIST, JSON, ${conns(hi)}: p99 ≤ ${TARGETS.mnistP99}× plain`, cell(aM), cell(pM, 'plain'), ratio(aM.p99 / pM.p99), verdict(aM.p99 <= TARGETS.mnistP99 * pM.p99),
      other(bestOther(rows, 'mnist', hi, 'json', 'p99'), (r) => r.p99 / pM.p99),
      floor === undefined ? '—' : `bare server p99 ${ms(fM!.p99)} ms = ${ratio(floor)} plain${floor > TARGETS.mnistP99 ? ': the target is below what a server doing no work reaches here' : ''}; Aloft ${ratio(aM.p99 / fM!.p99)} the bare server`]);
  }
  const aL = find(rows, 'mnist', 'aloft', lo);
  const pL = find(rows, 'mnist', 'plain', lo);
  const fL = find(rows, 'mnist', 'fixed', lo);
  if (aL && pL) {
    lines.push([`MNIST, JSON, ${conns(lo)}: p50 ≤ plain`, cell(aL), cell(pL, 'plain'), ratio(aL.p50 / pL.p50), verdict(aL.p50 <= pL.p50),
      other(bestOther(rows, 'mnist', lo, 'json', 'p50'), (r) => r.p50 / pL.p50),
      fL ? `bare server p50 ${ms(fL.p50)} ms; Aloft ${aL.p50 > pL.p50 ? `${ms(aL.p50 - pL.p50)} ms over` : `${ms(pL.p50 - aL.p50)} ms under`} plain, which runs the model on its event loop while Aloft hands it to a replica and back (alone: \`tsx bench/hop.ts\`)` : '—']);
  }
  const aB = find(rows, 'mnist', 'aloft', hi, 'binary');
  if (aB && fM) {
    lines.push([`MNIST, binary, ${conns(hi)}: req/s ≥ ${TARGETS.binaryCeiling}× the bare server`, cell(aB), cell(fM, 'bare server'), ratio(aB.rps / fM.rps), verdict(aB.rps >= TARGETS.binaryCeiling * fM.rps),
      other(bestOther(rows, 'mnist', hi, 'binary'), (r) => r.rps / fM.rps), '—']);
  }
  const aC = find(rows, 'credit-risk', 'aloft', hi);
  const pC = find(rows, 'credit-risk', 'plain', hi);
  const fC = find(rows, 'credit-risk', 'fixed', hi);
  if (aC && pC) {
    lines.push([`credit-risk, JSON, ${conns(hi)}: req/s ≥ ${TARGETS.creditRiskThroughput}× plain`, cell(aC), cell(pC, 'plain'), ratio(aC.rps / pC.rps), verdict(aC.rps >= TARGETS.creditRiskThroughput * pC.rps),
      other(bestOther(rows, 'credit-risk', hi, 'json'), (r) => r.rps / pC.rps), fC ? `bare server ${ratio(fC.rps / pC.rps)} plain` : '—']);
  }
  const gw = rows.filter((r) => r.system === 'aloft' && !r.failed && r.serverRssKiB !== undefined);
  if (gw.length > 0) {
    const peak = Math.max(...gw.map((r) => r.serverRssKiB!));
    lines.push([`gateway peak RSS ≤ ${TARGETS.gatewayRssMiB} MiB (process replicas)`, `${mib(peak)} MiB, highest over ${gw.length} cell${gw.length === 1 ? '' : 's'}`, '—', '—', verdict(peak / 1024 <= TARGETS.gatewayRssMiB), '—',
      'with thread replicas the process also holds the model sessions (see the tables)']);
  }
  const aloft = rows.filter((r) => r.system.startsWith('aloft') && !r.failed);
  if (aloft.length > 0) {
    const bad = aloft.reduce((n, r) => n + r.errors + r.non2xx, 0);
    lines.push(['no errors in any Aloft cell', `${bad} errors and non-2xx over ${aloft.length} cell${aloft.length === 1 ? '' : 's'}`, '—', '—', verdict(bad === 0), '—', '—']);
  }
  if (lines.length === 0) return '';
  const head = ['target', 'Aloft, the cell judged: the default configuration (minimal spec)', 'reference', 'ratio', 'verdict', 'best other configuration of this run (ratio)', 'what a server doing no work reaches in this run'];
  return [
    '## Targets',
    '',
    'Each target judged on this run alone (ratios swing with the VM; see Method), on the default configuration: the deployment a new user writes, `model:` and nothing else. The other configurations measured are shown beside it, not judged.',
    '',
    `| ${head.join(' | ')} |`,
    `| ${head.map(() => '---').join(' | ')} |`,
    ...lines.map((l) => `| ${l.join(' | ')} |`),
  ].join('\n');
}

export function terminalTables(rows: readonly Row[], models: readonly ModelId[]): string {
  return models.map((m) => `\n${m}\n${modelTable(rows, m)}\n`).join('');
}

export function profileSection(p: NonNullable<RunInfo['profiles']>): string {
  const cols = [...(p.baseline ? [p.baseline.result] : []), ...p.results];
  const first = p.results[0]!;
  const busy = (r: ProfileResult) => STAGES.filter((s) => s !== 'idle').reduce((a, s) => a + (r.mainUs[s] ?? 0), 0);
  const lines = [
    `## Where the gateway's time goes (${first.model === 'mnist' ? 'MNIST MLP' : first.model}, ${first.body.toUpperCase()} bodies, ${first.connections} connections)`,
    '',
    `Made by \`bench/profile.ts\` in this run: the gateway runs under \`node --cpu-prof\` while the same load generator runs against it; V8's samples inside a ${(first.requests / first.rps).toFixed(0)} s window are sorted into request stages by script and function, and divided by the responses served in that window. Idle is time the event loop waited for work; with process replicas, "HTTP write" includes the writes of batches to the replicas and "hop to replicas" the HTTP client's own code.`,
    '',
    profileTable(cols),
    '',
  ];
  if (p.baseline) {
    const b = p.baseline.result;
    const us = (r: ProfileResult, s: Stage) => (r.mainUs[s] ?? 0).toFixed(1);
    const each = (s: Stage) => p.results.map((r) => `${us(r, s)} (${r.label.replace(/^after: /, '')})`).join(', ');
    const when = p.baseline.recorded === 'this run'
      ? 'built from a git worktree and profiled in this run, right after the other columns'
      : `profiled with the same method on this machine on ${p.baseline.recorded} (\`bench/profile-baseline.json\` says how; this run could not build it)`;
    lines.push(`Before: the first column is commit ${p.baseline.commit} (the serving core with security, before the data-plane work), ${when}; the other columns are this run. Gateway busy time per request: ${busy(b).toFixed(1)} µs before, after ${p.results.map((r) => `${busy(r).toFixed(1)} µs (${r.label.replace(/^after: /, '')})`).join(', ')}. By stage, in µs: authentication ${us(b, 'authentication')} → ${each('authentication')}; request decode ${us(b, 'request decode')} → ${each('request decode')}; HTTP write ${us(b, 'HTTP write (syscall)')} → ${each('HTTP write (syscall)')}. The machine's speed drifts between runs (the same build's busy time per request has differed by nearly 2× on one day), and per-request costs rise as load falls (smaller batches): compare the columns of one run, each with its req/s.`);
  }
  return lines.join('\n').trimEnd();
}

export function markdown(rows: readonly Row[], models: readonly ModelId[], titles: Record<string, string>, info: RunInfo): string {
  const m = info.machine;
  const parts: string[] = [];
  parts.push('# Benchmarks');
  parts.push(`Generated by \`${info.command}\` on ${info.date} (wall time ${Math.round(info.wallSeconds)} s). Do not edit by hand: rerun the command.`);
  parts.push([
    '## Machine',
    '',
    `- CPU: ${m.cpuModel}, ${m.cores} logical cores (the load generator shares them)`,
    `- Memory: ${m.memoryGiB.toFixed(1)} GiB`,
    `- OS: ${m.os}`,
    `- Node ${m.node}, onnxruntime-node ${m.onnxruntime}, autocannon ${m.autocannon}`,
    `- During the run: load average ${info.loadAverage.toFixed(2)} at the start, ${info.stealShare === undefined ? 'CPU steal unknown' : `${(info.stealShare * 100).toFixed(1)}% of CPU time stolen by the hypervisor`}`,
  ].join('\n'));
  parts.push([
    '## Method',
    '',
    `- Closed loop: autocannon in the benchmark process, \`connections\` = ${info.concurrency.join(', ')}, pipelining 1, batch-1 requests (each body one row, cycled from a pre-encoded set of seeded rows), 127.0.0.1 only.`,
    `- Before its first cell (per body encoding), each server gets ${info.settleS} s of unmeasured load at ${Math.max(...info.concurrency)} connections, so no system's cells pay for JIT compilation (Aloft has far more code to warm than a hand-written server; unwarmed, its p99 at 1 connection is several times higher).`,
    `- Each cell: one autocannon run; the first ${info.warmupS} s warm up (and open every connection), the next ${info.durationS} s are measured. Latency is per response from autocannon's hrtime timer, kept exactly (not autocannon's 1 ms-resolution histogram); req/s = responses completed in the window ÷ window.`,
    '- Errors are connection errors and timeouts, non-2xx are responses with another status, both over the whole run (warm-up included).',
    '- Peak RSS is VmHWM from /proc/<pid>/status, reset (clear_refs) before each cell; CPU µs/req is the user + system time the server used in the window ÷ responses (for raw ONNX Runtime: per call). For Aloft both are given as gateway + the sum over its replica processes. The load generator\'s own CPU is not counted.',
    '- Server main thread busy: the share of the window the server\'s main thread (its event loop; with thread replicas, not the replica threads) ran on a CPU, from /proc/<pid>/task/<pid>/stat. Machine busy: the share of all cores\' time not idle (/proc/stat), the load generator included. A server whose main thread is near 100% while the machine has idle time is limited by that one thread.',
    '- Before a system is measured, its answers to every distinct request (sent one by one, then all at once) are compared with ONNX Runtime in the benchmark process (|diff| ≤ 1e-5); the bare HTTP server gives one fixed answer, the correct one for the first request.',
    '- Raw ONNX Runtime and the plain server use ONNX Runtime\'s default session options; Aloft uses its defaults (intraOpThreads auto: cores ÷ replicas = 1 per replica). Aloft runs from the compiled dist/ on plain node via startAloft (what `aloft up` runs), in its own process tree, with a temporary spec and state folder; the hand-written servers run on plain node too.',
    `- Ratios compare with the plain server at the same connections. Last column: req/s × mean latency ÷ connections, ≤ 1 in a closed loop (Little's law); ⚠ marks a cell above ${LITTLE_TOLERANCE}.`,
    '- Compare systems only within one run: the load generator shares the cores, and run-to-run noise on this VM reaches ±20–30% for the same build. The plain server at 64 connections swings most (MNIST: 3.2k to 5.4k req/s across runs on one day), because its ONNX Runtime threads spin on the cores the load generator needs; every ratio against it swings with it.',
  ].join('\n'));
  for (const model of models) {
    parts.push(`## ${titles[model] ?? model}\n\n${modelTable(rows, model)}`);
  }
  const targets = targetsSection(rows, info.concurrency);
  if (targets) parts.push(targets);
  if (info.profiles && info.profiles.results.length > 0) parts.push(profileSection(info.profiles));
  parts.push(['## What this shows', '', ...models.flatMap((model) => [`**${model}.** ${findings(rows, model, info.concurrency).join(' ')}`, ''])].join('\n').trimEnd());
  return `${parts.join('\n\n')}\n`;
}

/**
 * The sections other benches own (shadow, capture, overload, autoscale, recommend: each a
 * `## ` section holding a `<!-- name:start -->` block, with its prose), from the first of
 * them to the end of `doc`: `npm run bench` rewrites the sections before them and keeps these.
 */
export function ownedSections(doc: string): string {
  const starts = [...doc.matchAll(/^## .*$/gm)].map((m) => m.index);
  for (let k = 0; k < starts.length; k++) {
    const section = doc.slice(starts[k], starts[k + 1] ?? doc.length);
    if (/<!-- [\w-]+:start -->/.test(section)) return doc.slice(starts[k]).trimEnd();
  }
  return '';
}
