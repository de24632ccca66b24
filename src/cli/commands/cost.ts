/**
 * `aloft cost [--by deployment|version|label] [--since 30d] [--json]`: spend over the window,
 * cost per 1,000 predictions, efficiency (CPU and memory used ÷ reserved) and idle findings;
 * unpriced resources are named, never counted as free.
 */
import { pathOf } from '../../api/routes.js';
import { fail } from '../../errors.js';
import { parseDuration } from '../../spec/units.js';
import type { CostReport } from '../../cost/report.js';
import { connect, type ClientOptions } from '../client.js';
import { printJson, printTable } from '../output.js';

/** Money to the cent from 1 up, else to 3 significant digits (0.0200, 0.000495), so small figures read alike. */
const money = (x: number, currency: string) => `${x === 0 || Math.abs(x) >= 1 ? x.toFixed(2) : x.toPrecision(3)} ${currency}`;
const pct = (x: number | undefined) => (x === undefined ? 'not measured' : `${(100 * x).toFixed(1)}%`);
/** Hours to 2 decimals from 1 up, else to 3 significant digits (0.0347), so small rows still add up to the total. */
const hours = (x: number) => (x === 0 || x >= 1 ? x.toFixed(2) : x.toPrecision(3));

/** A figure with what it leaves out: nothing priced at all is 'unpriced', never 0.00. */
export function priced(value: number | null, unpriced: readonly string[], currency: string): string {
  if (value === null) return `unpriced (${unpriced.join(', ')})`;
  if (unpriced.length === 0) return money(value, currency);
  if (value === 0) return `unpriced (${unpriced.join(', ')})`;
  return `${money(value, currency)} + unpriced ${unpriced.join(', ')}`;
}

export function describeCost(r: CostReport): string {
  const out: string[] = [`cost from ${r.since} (the meters keep whole hours) to ${r.until}, by ${r.by}; rates: ${[['cpu', 'vCPU-h'], ['memory', 'GiB-h'], ['gpu', 'GPU-h']].map(([k, u]) => `${k} ${r.rates[k as 'cpu'] !== undefined ? `${r.rates[k as 'cpu']!.toPrecision(3)} ${r.currency}/${u}` : 'unpriced'}`).join(', ')} (${r.rates.source})`, ''];
  process.stdout.write(`${out.join('\n')}\n`);
  const rows = [...r.groups, r.total].map((g) => [
    g.model && g.model !== g.key ? `${g.key} (model ${g.model})` : g.key, hours(g.replicaHours), priced(g.cost, g.unpriced, r.currency),
    String(g.predictions), g.costPer1kPredictions !== undefined ? priced(g.costPer1kPredictions, g.unpriced, r.currency) : '-', pct(g.efficiency.cpu), pct(g.efficiency.memory),
  ]);
  printTable([r.by.toUpperCase(), 'REPLICA-HOURS', 'SPEND', 'PREDICTIONS', 'PER 1K PREDICTIONS', 'CPU USED/RESERVED', 'MEMORY USED/RESERVED'], rows);
  const tail: string[] = [''];
  if (r.machine) tail.push(`this machine: ${r.machine.reservedCpu} vCPU reserved by running replicas on ${r.machine.cores} cores${r.machine.oversubscribed ? ' (OVERSUBSCRIBED: replicas slow each other down; lower resources.cpu or replicas)' : r.machine.duringRollout ? ' (over the cores only while a rollout runs both groups; it ends with the rollout)' : ''}`);
  for (const b of r.budgets ?? []) tail.push(`budget ${b.name} (${b.covers}): ${money(b.spent, r.currency)} of ${money(b.amount, r.currency)} spent this month (${(100 * b.share).toFixed(1)}%), forecast ${money(b.forecast, r.currency)}${b.forecast > b.amount ? ' (OVER)' : ''}${b.unpriced.length ? `; unpriced ${b.unpriced.join(', ')}` : ''}`);
  if (r.findings.length === 0) tail.push('idle: none');
  for (const f of r.findings) tail.push(`idle: ${f.deployment}: ${f.replicas === 1 ? '1 replica used' : `${f.replicas} replicas used`} ${pct(f.utilisation)} of the CPU ${f.replicas === 1 ? 'it reserves' : 'they reserve'} over ${f.window}, ${f.monthlyCost === null ? `unpriced (${f.unpriced.join(', ')})` : `${priced(f.monthlyCost, f.unpriced, r.currency)} a month`}; ${f.recommendation}`);
  if (r.groups.some((g) => g.efficiency.cpu === undefined && g.replicaHours > 0)) {
    tail.push('CPU and memory USED/RESERVED count only replicas whose use is measured (process replicas); thread replicas share the gateway\'s process and are left out of those figures, not counted as idle');
  }
  return `${tail.join('\n')}\n`;
}

export async function cost(opts: ClientOptions & { json?: boolean; by?: string; since?: string }): Promise<void> {
  if (opts.by !== undefined && !['deployment', 'version', 'label'].includes(opts.by)) throw fail('ALOFT_USAGE', `--by is deployment, version or label; got '${opts.by}'`);
  if (opts.since !== undefined && !parseDuration(opts.since)) throw fail('ALOFT_USAGE', `--since takes a duration back from now, such as 30d or 24h; got '${opts.since}'`);
  const aloft = await connect(opts);
  const q = new URLSearchParams({ ...(opts.by ? { by: opts.by } : {}), ...(opts.since ? { since: opts.since } : {}) }).toString();
  const r = await aloft.send('GET', `${pathOf('admin.cost', {})}${q ? `?${q}` : ''}`);
  if (r.status >= 400) throw aloft.failure(r);
  const body = JSON.parse(r.body.toString('utf8')) as CostReport;
  if (opts.json) return printJson(body);
  process.stdout.write(describeCost(body));
}
