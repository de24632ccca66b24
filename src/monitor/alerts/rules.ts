/**
 * The built-in alert rules: each turns what a monitor last found into the conditions that
 * hold now (model.ts). Level-based: a rule says what is true, never what changed.
 *
 * - SLOBurnRate (page or ticket): an SLO's multi-window burn rule holds (slo.ts); accuracy
 *   SLOs make it the accuracy-drop alert.
 * - DataDrift (ticket): the deployment's latest drift check found the dataset drifted,
 *   naming the features; PredictionDrift when the model's outputs moved.
 * - ReplicaCrashLoop (page): a replica restarted `crashLoop` times within 10 minutes, or
 *   failed for good.
 * - CaptureDropping (ticket): capture dropped samples (a full buffer or a failing sink)
 *   within the last 5 minutes.
 */
import type { ReplicaStatus } from '../../control/orchestrators/types.js';
import type { DriftCheck } from '../drift-monitor.js';
import { describeTest } from '../drift.js';
import type { SloStatus } from '../slo.js';
import type { Condition } from './model.js';

const pct = (x: number) => `${(100 * x).toFixed(x >= 0.1 ? 1 : 2)}%`;

export function sloConditions(statuses: readonly SloStatus[]): Condition[] {
  const out: Condition[] = [];
  for (const s of statuses) {
    for (const severity of ['page', 'ticket'] as const) {
      const rule = s.rules.filter((r) => r.active && r.severity === severity).sort((a, b) => b.long.rate - a.long.rate)[0];
      if (!rule) continue;
      const what = s.kind === 'latency' ? `${s.objective}% within ${s.threshold}` : `${s.objective}% ${s.kind}`;
      out.push({
        labels: { alertname: 'SLOBurnRate', deployment: s.deployment, slo: s.name, kind: s.kind, severity },
        annotations: {
          summary: `${s.deployment}: the ${s.name} SLO (${what} over ${s.window}) burns its error budget ${rule.long.rate.toFixed(1)}× over ${rule.long.window} and ${rule.short.rate.toFixed(1)}× over ${rule.short.window} (alert at ${rule.rate}×)`,
          description: `${pct(s.budget.remaining)} of the budget left over ${s.window}; ${s.sli !== undefined ? `${s.sli.toFixed(3)}% good of ${s.events.total} events` : 'no events'}. At ${rule.long.rate.toFixed(1)}× the whole budget lasts ${s.window} ÷ ${rule.long.rate.toFixed(1)}.`,
        },
        value: rule.long.rate,
      });
    }
  }
  return out;
}

export function driftConditions(checks: readonly DriftCheck[]): Condition[] {
  const out: Condition[] = [];
  for (const c of checks) {
    const r = c.result;
    if (!r) continue;
    const inputs = r.features.filter((f) => f.drifted);
    if (r.drifted) {
      out.push({
        labels: { alertname: 'DataDrift', deployment: c.deployment, severity: 'ticket' },
        annotations: {
          summary: `${c.deployment}: the inputs drifted from the reference: ${inputs.map((f) => f.feature).join(', ')} (${inputs.length} of ${r.features.length} features, over ${c.window})`,
          description: inputs.map((f) => `${f.feature}: ${describeTest(f)}`).join('; '),
        },
        value: r.share,
      });
    }
    for (const p of (c.predictions ?? []).filter((f) => f.drifted)) {
      out.push({
        labels: { alertname: 'PredictionDrift', deployment: c.deployment, output: p.feature, severity: 'ticket' },
        annotations: { summary: `${c.deployment}: the model's ${p.feature} drifted from the reference's (${describeTest(p)}, over ${c.window})` },
        value: p.statistic,
      });
    }
  }
  return out;
}

/** Restarts per replica, remembered over a 10-minute window. */
export class CrashLoopRule {
  readonly #windowMs: number;
  readonly #seen = new Map<string, { restarts: number; at: number[] }>();

  constructor(windowMs = 600_000) {
    this.#windowMs = windowMs;
  }

  conditions(replicas: readonly ReplicaStatus[], nowMs: number, threshold: number): Condition[] {
    const out: Condition[] = [];
    const live = new Set<string>();
    for (const r of replicas) {
      live.add(r.id);
      const s = this.#seen.get(r.id) ?? { restarts: r.restarts, at: [] };
      for (let i = s.restarts; i < r.restarts; i++) s.at.push(nowMs);
      s.restarts = r.restarts;
      s.at = s.at.filter((t) => nowMs - t < this.#windowMs);
      this.#seen.set(r.id, s);
      const looping = s.at.length >= threshold;
      if (!looping && r.state !== 'failed') continue;
      out.push({
        labels: { alertname: 'ReplicaCrashLoop', deployment: r.deployment, version: String(r.version), replica: r.id, severity: 'page' },
        annotations: {
          summary: r.state === 'failed'
            ? `${r.deployment}: replica ${r.id} (version ${r.version}) failed and is not restarted: ${r.lastError ?? 'unknown error'}`
            : `${r.deployment}: replica ${r.id} (version ${r.version}) restarted ${s.at.length} times in ${this.#windowMs / 60_000} minutes${r.lastError ? `; last error: ${r.lastError}` : ''}`,
        },
        value: s.at.length,
      });
    }
    for (const id of this.#seen.keys()) if (!live.has(id)) this.#seen.delete(id);
    return out;
  }
}

/** A deployment's capture drops so far: in all, and (optionally) how many because the queue was full and by the sink that failed. */
export interface CaptureDrops {
  deployment: string;
  dropped: number;
  full?: number;
  failedBy?: Readonly<Record<string, number>>;
}

/** Why samples were dropped, from the counts: the queue full, which sinks failed. */
function dropCauses(c: CaptureDrops): string {
  const causes = [
    ...(c.full ? [`${c.full} because the queue was full (a sink too slow, or capture.buffer too small)`] : []),
    ...Object.entries(c.failedBy ?? {}).filter(([, n]) => n > 0).map(([sink, n]) => (sink === 'encoding' ? `${n} whose record could not be encoded` : `${n} because the ${sink} sink failed`)),
  ];
  return causes.length > 0 ? causes.join(', ') : 'its buffer is full or a sink is failing';
}

/** Capture drops per deployment: holds while the dropped count rose within the window. */
export class CaptureDropRule {
  readonly #windowMs: number;
  readonly #seen = new Map<string, { dropped: number; lastRiseMs: number; rise: number }>();

  constructor(windowMs = 300_000) {
    this.#windowMs = windowMs;
  }

  conditions(counts: readonly CaptureDrops[], nowMs: number): Condition[] {
    const out: Condition[] = [];
    for (const c of counts) {
      const s = this.#seen.get(c.deployment);
      if (!s) {
        // The first look: drops before it count as a rise only if there are any.
        this.#seen.set(c.deployment, { dropped: c.dropped, lastRiseMs: c.dropped > 0 ? nowMs : -Infinity, rise: c.dropped });
      } else if (c.dropped > s.dropped) {
        s.rise = nowMs - s.lastRiseMs < this.#windowMs ? s.rise + c.dropped - s.dropped : c.dropped - s.dropped;
        s.dropped = c.dropped;
        s.lastRiseMs = nowMs;
      }
      const now = this.#seen.get(c.deployment)!;
      if (nowMs - now.lastRiseMs >= this.#windowMs) continue;
      out.push({
        labels: { alertname: 'CaptureDropping', deployment: c.deployment, severity: 'ticket' },
        annotations: {
          summary: `${c.deployment}: prediction capture dropped ${now.rise} sample${now.rise === 1 ? '' : 's'} recently; ${c.dropped} in all: ${dropCauses(c)}`,
          description: 'Predictions are not affected. See aloft_capture_dropped_total by reason, and the log for the sink\'s error.',
        },
        value: now.rise,
      });
    }
    return out;
  }
}
