/**
 * Closed-loop HTTP load with autocannon: `connections` connections, one request in flight
 * on each (pipelining 1), bodies cycled from a pre-encoded list.
 *
 * One autocannon run covers warm-up and measurement, so the connections opened during
 * warm-up are the ones measured (a busy server accepts many fresh connections slowly).
 * Latencies come from autocannon's per-response timer (hrtime, fractional ms) and are
 * kept exactly here: autocannon's own histogram has 1 ms resolution, too coarse for a
 * 50 µs model. Only responses completing inside the measurement window count.
 */
import { createRequire } from 'node:module';
import { performance } from 'node:perf_hooks';
import type { EventEmitter } from 'node:events';

interface AutocannonRequest {
  method: string;
  path: string;
  body: Buffer;
  headers: Record<string, string>;
}

interface AutocannonOptions {
  url: string;
  connections: number;
  pipelining: number;
  duration: number;
  timeout: number;
  sampleInt: number;
  overallRate?: number;
  requests: AutocannonRequest[];
}

interface AutocannonInstance extends EventEmitter, PromiseLike<{ errors: number; timeouts: number; non2xx: number }> {
  stop(): void;
}

const require = createRequire(import.meta.url);
const autocannon = require('autocannon') as (opts: AutocannonOptions) => AutocannonInstance;

export interface LoadOptions {
  /** Base URL, e.g. http://127.0.0.1:8080 */
  url: string;
  path: string;
  requests: readonly { body: Buffer; headers: Record<string, string> }[];
  connections: number;
  warmupMs: number;
  durationMs: number;
  /** Requests per second over all connections (autocannon's overallRate): a fixed load instead of closed-loop. */
  rate?: number;
  /** Called when the measurement window opens and when it closes (e.g. to read CPU counters). */
  onWindowStart?: () => void;
  onWindowEnd?: () => void;
}

export interface LoadResult {
  connections: number;
  /** Responses completed in the measurement window. */
  count: number;
  seconds: number;
  rps: number;
  p50: number;
  p99: number;
  mean: number;
  max: number;
  /** Over the whole run, warm-up included: connection errors and timeouts. */
  errors: number;
  /** Over the whole run, warm-up included: responses with a status other than 2xx. */
  non2xx: number;
  /** In the measurement window, per HTTP status: responses and their latencies (ms). */
  byStatus: Record<number, { count: number; p50: number; p99: number; max: number }>;
}

/** Nearest-rank percentile of ascending `sorted` (q in [0, 1]). */
export function percentile(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil(q * sorted.length)));
  return sorted[rank - 1]!;
}

/** Count, mean, p50, p99 and max of latencies in ms. */
export function summarize(latencies: ArrayLike<number>): { count: number; mean: number; p50: number; p99: number; max: number } {
  const sorted = Float64Array.from(latencies).sort();
  let sum = 0;
  for (const v of sorted) sum += v;
  return {
    count: sorted.length,
    mean: sorted.length ? sum / sorted.length : Number.NaN,
    p50: percentile(sorted, 0.5),
    p99: percentile(sorted, 0.99),
    max: sorted.length ? sorted[sorted.length - 1]! : Number.NaN,
  };
}

export async function runLoad(opts: LoadOptions): Promise<LoadResult> {
  const latencies: number[] = [];
  const perStatus = new Map<number, number[]>();
  let errors = 0;
  let non2xx = 0;
  let windowStart = Number.POSITIVE_INFINITY;
  let windowEnd = Number.POSITIVE_INFINITY;

  const instance = autocannon({
    url: opts.url,
    connections: opts.connections,
    pipelining: 1,
    // stopped by the timer below; this is a backstop
    duration: Math.ceil((opts.warmupMs + opts.durationMs) / 1000) + 5,
    timeout: 10,
    sampleInt: 100,
    ...(opts.rate !== undefined ? { overallRate: opts.rate } : {}),
    requests: opts.requests.map((r) => ({ method: 'POST', path: opts.path, body: r.body, headers: r.headers })),
  });
  instance.on('response', (_client: unknown, statusCode: number, _bytes: number, responseTime: number) => {
    if (statusCode < 200 || statusCode > 299) non2xx++;
    const now = performance.now();
    if (now >= windowStart && now < windowEnd) {
      latencies.push(responseTime);
      const l = perStatus.get(statusCode);
      if (l) l.push(responseTime); else perStatus.set(statusCode, [responseTime]);
    }
  });
  instance.on('reqError', () => { errors++; });

  const t0 = performance.now();
  windowStart = t0 + opts.warmupMs;
  windowEnd = windowStart + opts.durationMs;
  const startTimer = setTimeout(() => opts.onWindowStart?.(), opts.warmupMs);
  const stopTimer = setTimeout(() => {
    opts.onWindowEnd?.();
    instance.stop();
  }, opts.warmupMs + opts.durationMs);
  try {
    await instance;
  } finally {
    clearTimeout(startTimer);
    clearTimeout(stopTimer);
  }
  const seconds = opts.durationMs / 1000;
  const s = summarize(latencies);
  const byStatus = Object.fromEntries([...perStatus].map(([code, l]) => { const x = summarize(l); return [code, { count: x.count, p50: x.p50, p99: x.p99, max: x.max }]; }));
  return { connections: opts.connections, count: s.count, seconds, rps: s.count / seconds, p50: s.p50, p99: s.p99, mean: s.mean, max: s.max, errors, non2xx, byStatus };
}
