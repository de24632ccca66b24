/**
 * Budgets (cost.budgets): per calendar month (UTC), for a deployment, the deployments whose
 * model has a label, or everything.
 *
 *   spent    = the priced allocation of the month so far (meters.ts)
 *   forecast = spent + what the covered replicas cost an hour now × the hours left
 *
 * Alerts, through the monitoring loop's one alert model: `BudgetSpent` for each `alertAt`
 * percentage reached (one alert per threshold, so each fires once a month and resolves
 * when the month turns), and `BudgetForecast` while the forecast is over the amount. With
 * `capReplicas`, a spent budget holds the autoscaled deployments it covers at their minimum
 * (at least 1) until the month ends.
 */
import type { Condition } from '../monitor/alerts/model.js';
import type { BudgetSpec, CostSpec } from '../spec/types.js';
import { price, total, type CostStore } from './meters.js';
import { hourlyCost } from './prices.js';
import { ratesOf, type LiveDeployment } from './report.js';

export interface BudgetStatus {
  name: string;
  covers: string;
  amount: number;
  currency: string;
  /** ISO start of the month. */
  month: string;
  spent: number;
  /** spent ÷ amount. */
  share: number;
  forecast: number;
  /** $ an hour the covered replicas cost now. */
  hourly: number;
  /** The alertAt percentages reached. */
  reached: number[];
  exhausted: boolean;
  /** Resources the covered deployments use that have no price (not in spent). */
  unpriced: string[];
  deployments: string[];
}

function covered(b: BudgetSpec, d: LiveDeployment): boolean {
  if (b.deployment !== undefined) return d.name === b.deployment;
  if (b.label !== undefined) {
    const [k, v] = b.label.split('=') as [string, string];
    return d.labels[k] === v;
  }
  return true;
}

export function monthStart(nowMs: number): number {
  const d = new Date(nowMs);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
}

function monthEnd(nowMs: number): number {
  const d = new Date(nowMs);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1);
}

export async function budgetStatus(o: { store: CostStore; spec: CostSpec; nowMs: number; deployments: readonly LiveDeployment[] }): Promise<BudgetStatus[]> {
  if (o.spec.budgets.length === 0) return [];
  const rates = ratesOf(o.spec);
  const start = monthStart(o.nowMs);
  const rows = await o.store.sums(start / 1000);
  const hoursLeft = Math.max(0, (monthEnd(o.nowMs) - o.nowMs) / 3_600_000);
  return o.spec.budgets.map((b) => {
    const live = o.deployments.filter((d) => covered(b, d));
    const names = new Set(live.map((d) => d.name));
    // Rows of deployments no longer live are covered when the budget names them, or covers everything.
    const mine = rows.filter((r) => names.has(r.deployment) || (b.deployment === undefined && b.label === undefined) || b.deployment === r.deployment);
    const spentGroup = price(b.name, total(mine), rates);
    let hourly = 0;
    const unpriced = new Set(spentGroup.unpriced);
    for (const d of live) {
      const h = hourlyCost(d.reservation, rates);
      hourly += h.priced * d.replicas;
      if (d.replicas > 0) for (const u of h.unpriced) unpriced.add(u);
    }
    // Nothing priced: nothing counted as spent (the unpriced resources are listed).
    const spent = spentGroup.cost ?? 0;
    return {
      name: b.name, covers: b.deployment ? `deployment ${b.deployment}` : b.label ? `label ${b.label}` : 'every deployment', amount: b.amount, currency: o.spec.currency,
      month: new Date(start).toISOString(), spent, share: spent / b.amount, forecast: spent + hourly * hoursLeft, hourly,
      reached: b.alertAt.filter((p) => spent >= (b.amount * p) / 100).sort((x, y) => x - y), exhausted: spent >= b.amount,
      unpriced: [...unpriced].sort(), deployments: [...names].sort(),
    };
  });
}

/** The alert conditions of budget statuses: one per threshold reached, and the forecast. */
export function budgetConditions(statuses: readonly BudgetStatus[]): Condition[] {
  const out: Condition[] = [];
  // Small amounts keep three significant digits (0.000197 USD), as aloft cost shows them, not 0.00.
  const money = (x: number, c: string) => `${x === 0 || Math.abs(x) >= 1 ? x.toFixed(2) : x.toPrecision(3)} ${c}`;
  for (const s of statuses) {
    for (const p of s.reached) {
      out.push({
        labels: { alertname: 'BudgetSpent', budget: s.name, threshold: String(p), month: s.month.slice(0, 7), severity: p >= 100 ? 'page' : 'ticket', ...(s.deployments.length === 1 ? { deployment: s.deployments[0]! } : {}) },
        annotations: { summary: `budget ${s.name} (${s.covers}): ${money(s.spent, s.currency)} spent this month, ${(100 * s.share).toFixed(1)}% of ${money(s.amount, s.currency)} (alert at ${p}%)`, description: `forecast for the month: ${money(s.forecast, s.currency)} at ${money(s.hourly, s.currency)} an hour now${s.unpriced.length ? `; unpriced: ${s.unpriced.join(', ')}` : ''}` },
        value: s.share,
      });
    }
    if (s.forecast > s.amount) {
      out.push({
        labels: { alertname: 'BudgetForecast', budget: s.name, month: s.month.slice(0, 7), severity: 'ticket', ...(s.deployments.length === 1 ? { deployment: s.deployments[0]! } : {}) },
        annotations: { summary: `budget ${s.name} (${s.covers}): the month is forecast at ${money(s.forecast, s.currency)}, over its ${money(s.amount, s.currency)} (${money(s.spent, s.currency)} spent, ${money(s.hourly, s.currency)} an hour now)` },
        value: s.forecast / s.amount,
      });
    }
  }
  return out;
}
