/**
 * `aloft recommend DEPLOYMENT [--rps N] [--p99 MS] [--duration MS] [--json]`: measure the
 * model on temporary replicas across configurations and price each at the target rate;
 * progress on standard error while it runs, then the table, the recommendation and its
 * spec fragment.
 */
import { pathOf } from '../../api/routes.js';
import type { Measured, Recommendation } from '../../cost/recommend.js';
import { connect, type ClientOptions } from '../client.js';
import { printJson, printTable } from '../output.js';

export async function recommend(deployment: string, opts: ClientOptions & { json?: boolean; rps?: string; p99?: string; duration?: string }): Promise<void> {
  const aloft = await connect(opts);
  let result: Recommendation | undefined;
  let error: string | undefined;
  const body = JSON.stringify({ deployment, ...(opts.rps ? { rps: Number(opts.rps) } : {}), ...(opts.p99 ? { p99: Number(opts.p99) } : {}), ...(opts.duration ? { duration: Number(opts.duration) } : {}) });
  const status = await aloft.lines('POST', pathOf('admin.recommend', {}), body, (line) => {
    const l = line as { progress?: Measured & { done: number; of: number }; result?: Recommendation; error?: string };
    if (l.progress) {
      const p = l.progress;
      process.stderr.write(`[${p.done}/${p.of}] ${p.isolation}, ${p.threads} thread${p.threads === 1 ? '' : 's'}, batch ${p.maxBatchSize}: ${Math.round(p.rps)} req/s, p50 ${p.p50.toFixed(2)} ms, p99 ${p.p99.toFixed(2)} ms\n`);
    }
    if (l.result) result = l.result;
    if (l.error) error = l.error;
  });
  if (status >= 400 || error || !result) throw aloft.errorFor(status >= 400 ? status : 500, error ?? `HTTP ${status}`);
  // Nothing meets the target: an answer, not a failure to run, but scripts must not take the closest for a recommendation.
  if (!result.best) process.exitCode = 1;
  if (opts.json) return printJson(result);
  const r = result;
  printTable(['ISOLATION', 'THREADS', 'BATCH', 'REQ/S (1 REPLICA)', 'P50 MS', 'P99 MS', 'MEMORY MIB', 'REPLICAS', `${r.currency}/MONTH`, `${r.currency}/1K PREDICTIONS`, 'MEETS'], r.rows.map((x) => [
    x.isolation, String(x.threads), String(x.maxBatchSize), String(Math.round(x.rps)), x.p50.toFixed(2), x.p99.toFixed(2), x.memoryMiB === undefined ? '-' : x.memoryMiB.toFixed(0),
    String(x.replicas), `${x.monthly.toFixed(2)}${x.unpriced.length ? ` + unpriced ${x.unpriced.join(', ')}` : ''}`, x.per1k.toFixed(6), x.meets ? 'yes' : 'no',
  ]));
  process.stdout.write(`\nmeasured at ${r.measuredAt}; one replica measured, replicas assumed to add up\nat ${r.rps} req/s with p99 ≤ ${r.p99Ms} ms (${r.inputs} requests${r.inputsWhy ? `: ${r.inputsWhy}` : ''}): ${r.note}\n`);
  if (r.fragment) process.stdout.write(`\n${r.fragment}\n`);
}
