/**
 * Shadow copies: a shadow rollout sends a sampled copy of answered requests to the
 * candidate version and compares its answer with the one the caller got. The copy starts
 * after the primary's answer is written and holds nothing the primary needs: it reuses
 * the request's decoded inputs and the primary's outputs (no second decode), goes to the
 * candidate's own batcher and replicas, and is bounded (`queue` copies in flight): a copy
 * over the bound is dropped and counted, never queued, so a slow or stuck candidate
 * cannot slow the primary or grow the gateway's memory.
 *
 * Each answer is compared with the primary's for the same request (`compare`):
 * - argmax: the same predicted class in every row of every output with 2 or more scores
 *   per row (outputs with one value per row are compared as absdiff);
 * - absdiff: the mean absolute difference over all numeric output elements at most
 *   `tolerance`.
 * The candidate's answer is also counted as a variant (failures, latency, predictions),
 * so a rollout compares it with the baseline the way a canary does.
 */
import type { Clock } from '../clock.js';
import { isAloftError } from '../errors.js';
import type { ShadowCounts } from '../monitor/shadow.js';
import { validateInputs } from '../runtime/codec/index.js';
import type { Tensor } from '../runtime/tensor.js';
import type { Observer } from './observe.js';
import { hasNonFinite } from './oip/infer.js';
import type { DeploymentRoute, ShadowRoute } from './route-table.js';

export interface ShadowOptions {
  counts: ShadowCounts;
  clock: Clock;
  /** Told of each copy's answer as the candidate's (the variant counters). */
  observe: Observer;
}

export type ShadowSend = (dep: DeploymentRoute, sh: ShadowRoute, inputs: readonly Tensor[], primary: readonly Tensor[]) => void;

/** The sender the pipeline calls after answering a sampled request. */
export function shadowSender(o: ShadowOptions): ShadowSend {
  return (dep, sh, inputs, primary) => {
    const version = sh.served.version;
    const c = o.counts.entry(dep.name, version);
    if (c.inflight >= sh.queue) {
      c.dropped++;
      return;
    }
    c.inflight++;
    c.copies++;
    const t0 = o.clock.now();
    const seen = (status: number, outputs?: readonly Tensor[], nonFinite?: boolean) => o.observe({
      deployment: dep.name, version, model: sh.served.model, status, totalMs: o.clock.now() - t0, at: o.clock.date().getTime(),
      ...(outputs ? { outputs } : {}), ...(nonFinite ? { nonFinite } : {}),
    });
    let run: Promise<Tensor[]>;
    try {
      run = sh.served.batcher.infer(sh.validate ? validateInputs(inputs, sh.served.signature) : (inputs as Tensor[]), dep.timeoutMs);
    } catch (err) {
      run = Promise.reject(err);
    }
    run.then((outputs) => {
      c.inflight--;
      const diff = meanAbsDiff(primary, outputs);
      const agrees = sh.compare === 'argmax' ? sameClasses(primary, outputs, diff, sh.tolerance) : diff <= sh.tolerance;
      c.compared++;
      if (agrees) c.agreed++;
      if (Number.isFinite(diff)) c.absDiff += diff;
      else c.nonFinite++;
      seen(200, outputs, hasNonFinite(outputs));
    }, (err: unknown) => {
      c.inflight--;
      c.failed++;
      // A copy the candidate refused (its inputs differ, say) is the candidate's failure too: a 5xx for the counters.
      seen(isAloftError(err) && err.status >= 500 ? err.status : 500);
    });
  };
}

/** Element `i` of a tensor's data as a number (NaN for what is not a number). */
function num(t: Tensor, i: number): number {
  const v = t.data[i] as unknown;
  return typeof v === 'number' ? v : typeof v === 'bigint' ? Number(v) : typeof v === 'boolean' ? Number(v) : NaN;
}

/**
 * The mean absolute difference over every numeric element of two answers' outputs
 * (paired by position); Infinity when their outputs differ in number or size, or a value
 * is not finite in one but not the other. Non-numeric outputs (strings) count 0 when
 * equal, 1 when not.
 */
export function meanAbsDiff(a: readonly Tensor[], b: readonly Tensor[]): number {
  if (a.length !== b.length) return Infinity;
  let sum = 0;
  let n = 0;
  for (let k = 0; k < a.length; k++) {
    const x = a[k]!;
    const y = b[k]!;
    if (x.data.length !== y.data.length) return Infinity;
    for (let i = 0; i < x.data.length; i++) {
      const p = num(x, i);
      const q = num(y, i);
      if (Number.isNaN(p) && Number.isNaN(q)) sum += x.data[i] === y.data[i] ? 0 : 1;
      else {
        const d = Math.abs(p - q);
        if (!Number.isFinite(d)) return Infinity;
        sum += d;
      }
      n++;
    }
  }
  return n === 0 ? 0 : sum / n;
}

/** The same predicted class in every row of every output with 2+ scores per row; with none, `diff <= tolerance`. */
export function sameClasses(a: readonly Tensor[], b: readonly Tensor[], diff: number, tolerance: number): boolean {
  if (a.length !== b.length) return false;
  let scored = false;
  for (let k = 0; k < a.length; k++) {
    const x = a[k]!;
    const y = b[k]!;
    const width = x.shape.length >= 2 ? x.shape[x.shape.length - 1]! : 1;
    if (width < 2) continue;
    if (x.data.length !== y.data.length) return false;
    scored = true;
    for (let row = 0; row < x.data.length; row += width) {
      if (argmax(x, row, width) !== argmax(y, row, width)) return false;
    }
  }
  return scored || diff <= tolerance;
}

function argmax(t: Tensor, start: number, width: number): number {
  let best = 0;
  let max = num(t, start);
  for (let k = 1; k < width; k++) {
    const v = num(t, start + k);
    if (v > max || Number.isNaN(max)) { max = v; best = k; }
  }
  return best;
}
