/**
 * The autoscaler (deployments.<name>.autoscaling, for deployments with a replica range):
 * Knative's pod autoscaler (KPA), decision for decision (`algorithms.md` §1.1), as a
 * reconciler of the control plane with the clock injected.
 *
 * The metric is concurrency: requests queued or being run for the deployment's version,
 * sampled every second (`rows` instead: rows per second). Each tick:
 *
 *   stable = mean over the stable window (60 s), panic = mean over the panic window (6 s)
 *   wantStable = ceil(stable / target), wantPanic = ceil(panic / target)
 *   both clamped to [floor(ready / maxScaleDownRate), ceil(ready × maxScaleUpRate)]
 *   panic mode starts (or is extended) when ceil(panic / target) / ready ≥ panicThreshold
 *   (2; the demand before the rate limits), and ends
 *   a stable window after the last time it held; in panic mode the count never goes down
 *   desired = panicking ? max(wantStable, wantPanic, desired so far) : wantStable
 *   a lower count is taken only if it carries the demand at 90% of target (hysteresis)
 *   desired = the highest desired of the last scaleDownDelay (scale down only once the
 *   lower count has held that long: a noisy steady load does not flap)
 *   then clamped to [min, max]; with min 0 it is 0 once scaleToZeroAfter has passed
 *   without a request (and at least 1 before), and a request to a deployment at zero
 *   brings it to 1 at once (activate).
 *
 * Every decision that changes the count is recorded with its inputs.
 */
import type { Clock, Timer } from '../clock.js';
import type { AutoscalingSpec } from '../spec/types.js';
import type { Reconciler, ReconcileResult } from './controller.js';

export const AUTOSCALER = 'autoscaler';

/** Scaling down needs the lower count to carry the demand at 90% of target. */
const SCALE_DOWN_TOLERANCE = 0.1;

export interface Decision {
  at: string;
  deployment: string;
  version: number;
  /** Replicas before and after. */
  from: number;
  to: number;
  ready: number;
  /** The metric's means over the windows (concurrency, or rows per second). */
  stable: number;
  panic: number;
  panicking: boolean;
  reason: string;
}

/** One tick's inputs and outcome (the last one is kept whether or not it changed anything). */
export interface Evaluation extends Decision {
  wantStable: number;
  wantPanic: number;
}

/** The KPA state of one deployment version: samples, panic mode, recent desired counts. */
export class Kpa {
  #spec: AutoscalingSpec;
  #min: number;
  #max: number;
  #maxWhy: string | undefined;
  /** Samples of the metric, one per second: [atMs, value]. */
  #samples: [number, number][] = [];
  #panicUntil = -Infinity;
  #panicking = false;
  /** Desired counts of recent ticks, for the scale-down delay: [atMs, desired]. */
  #recent: [number, number][] = [];
  #lastActivityMs: number;
  #desired: number;
  /** Replicas asked for and none ready yet (the start, a cold start): the idle time does not run while they start. */
  #starting = true;

  constructor(spec: AutoscalingSpec, min: number, max: number, initial: number, nowMs: number) {
    this.#spec = spec;
    this.#min = min;
    this.#max = max;
    this.#desired = initial;
    this.#lastActivityMs = nowMs;
    // The starting count counts as chosen now: the scale-down delay holds it like any other
    // (a group restored at 4 after a restart, or started at the previous group's count, does
    // not drop at its first tick, before its load has come back).
    this.#recent.push([nowMs, initial]);
  }

  get desired(): number {
    return this.#desired;
  }

  /**
   * The spec changed (a new apply): keep the samples, take the new bounds, and move the
   * count inside them at once (a raised min is not left for the next decision). Returns the
   * count before when it moved.
   */
  update(spec: AutoscalingSpec, min: number, max: number, maxWhy?: string): number | undefined {
    this.#spec = spec;
    this.#min = min;
    this.#max = max;
    this.#maxWhy = maxWhy;
    // A count held for the scale-down delay is held within the new max too.
    this.#recent = this.#recent.map(([at, d]) => [at, Math.min(max, d)]);
    const from = this.#desired;
    const to = Math.min(max, Math.max(min, from));
    if (to === from) return undefined;
    this.#desired = to;
    return from;
  }

  /** One sample: the metric now, and whether any request arrived since the last one. */
  record(nowMs: number, value: number, arrivals: number): void {
    this.#samples.push([nowMs, value]);
    const keep = nowMs - this.#spec.stableWindow;
    let drop = 0;
    while (drop < this.#samples.length && this.#samples[drop]![0] <= keep) drop++;
    if (drop > 0) this.#samples.splice(0, drop);
    if (value > 0 || arrivals > 0) this.#lastActivityMs = nowMs;
  }

  /** A request reached the deployment while it had no replica: one at once. */
  activate(nowMs: number): boolean {
    this.#lastActivityMs = nowMs;
    if (this.#desired > 0) return false;
    this.#starting = true;
    this.#desired = Math.max(1, this.#min);
    this.#recent.push([nowMs, this.#desired]);
    return true;
  }

  #mean(sinceMs: number): number {
    let sum = 0;
    let n = 0;
    for (const [at, v] of this.#samples) if (at > sinceMs) { sum += v; n++; }
    return n === 0 ? 0 : sum / n;
  }

  /** Decide the replica count now, given the replicas ready. */
  decide(nowMs: number, readyReplicas: number): Omit<Evaluation, 'at' | 'deployment' | 'version'> {
    const s = this.#spec;
    const from = this.#desired;
    const stable = this.#mean(nowMs - s.stableWindow);
    const panic = this.#mean(nowMs - s.panicWindow);
    const ready = Math.max(1, readyReplicas);
    const maxUp = Math.ceil(s.maxScaleUpRate * ready);
    const maxDown = Math.floor(ready / s.maxScaleDownRate);
    const clamp = (x: number) => Math.min(maxUp, Math.max(maxDown, x));
    const wantStable = clamp(Math.ceil(stable / s.target));
    const wantPanic = clamp(Math.ceil(panic / s.target));
    // Panic on the demand itself, before the rate limits (as Knative does): a capped count could never reach the threshold.
    const demand = Math.ceil(panic / s.target);
    if (demand / ready >= s.panicThreshold && panic > 0) {
      this.#panicUntil = nowMs + s.stableWindow;
      this.#panicking = true;
    } else if (this.#panicking && nowMs > this.#panicUntil) {
      this.#panicking = false;
    }
    let want = this.#panicking ? Math.max(wantStable, wantPanic, from) : wantStable;
    let reason = this.#panicking
      ? `panic: ${panic.toFixed(2)} over the last ${s.panicWindow / 1000}s needs ${demand} replica${demand === 1 ? '' : 's'} at ${s.target} each, ${(demand / ready).toFixed(1)}× the ${ready} ready; no scaling down for ${Math.round((this.#panicUntil - nowMs) / 1000)}s more of calm`
      : `stable: ${stable.toFixed(2)} over the last ${s.stableWindow / 1000}s at ${s.target} per replica`;
    // Within the bounds before the scale-down delay compares counts: a wish above max is not a count to hold.
    const wish = want;
    want = Math.min(this.#max, Math.max(this.#min, want));
    if (wish > want) reason += `; capped at max ${this.#max}${this.#maxWhy ? ` (${this.#maxWhy})` : ''}`;
    else if (wish < want && this.#min > 0) reason += `; kept at min ${this.#min}`;
    // Scale down only with 10% headroom left at the lower count (HPA's tolerance): a demand
    // hovering at a boundary (16 at 8 per replica) does not flip between counts.
    if (!this.#panicking && want < from) {
      const roomy = Math.ceil(stable / (s.target * (1 - SCALE_DOWN_TOLERANCE)));
      if (roomy > want) {
        want = Math.min(from, roomy);
        reason += `; ${want} kept: fewer would run above ${Math.round(100 * (1 - SCALE_DOWN_TOLERANCE))}% of target`;
      }
    }
    // Scale down only once the lower count has held for scaleDownDelay.
    this.#recent.push([nowMs, want]);
    this.#recent = this.#recent.filter(([at]) => at > nowMs - s.scaleDownDelay);
    const held = Math.max(want, ...this.#recent.map(([, d]) => d));
    if (held > want) {
      reason += `; held at ${held} by scaleDownDelay (${s.scaleDownDelay / 1000}s)`;
      want = held;
    }
    let to = want;
    if (this.#min === 0) {
      // A group still starting (slow under load, say) is not idle: stopping it would waste its start.
      if (this.#starting && (readyReplicas > 0 || from > 0)) this.#lastActivityMs = nowMs;
      if (readyReplicas > 0) this.#starting = false;
      const idleMs = nowMs - this.#lastActivityMs;
      if (idleMs >= s.scaleToZeroAfter) {
        to = 0;
        this.#recent = [];
        // No request at all for scaleToZeroAfter: whatever burst started a panic is over, and
        // the windows forget the load before it, so the first request after zero starts one
        // replica, not the count the old load wanted.
        if (from > 0) this.#samples = this.#samples.filter(([at]) => at > nowMs - idleMs);
        this.#panicking = false;
        this.#panicUntil = -Infinity;
        reason = `scaled to zero: no request for ${Math.round(idleMs / 1000)}s (scaleToZeroAfter ${s.scaleToZeroAfter / 1000}s)`;
      } else if (to === 0) {
        to = 1;
        reason += `; idle for ${Math.round(idleMs / 1000)}s of the ${s.scaleToZeroAfter / 1000}s before scaling to zero`;
      } else if (idleMs >= 1000) {
        // Held above zero by a window or the delay, while no request comes: scale to zero still comes first.
        reason += `; no request for ${Math.round(idleMs / 1000)}s: to zero at ${s.scaleToZeroAfter / 1000}s without one`;
      }
    }
    this.#desired = to;
    return { from, to, ready: readyReplicas, stable, panic, panicking: this.#panicking, wantStable, wantPanic, reason };
  }
}

export interface ScaledVersion {
  deployment: string;
  version: number;
  group: string;
  /** False for the group a rollout moves away from (scaled by its own traffic, but not the count a next group starts at). */
  newest?: boolean;
  spec: AutoscalingSpec;
  min: number;
  max: number;
  /** Why `max` is below the spec's (a spent budget that caps replicas): said in the decisions it caps. */
  maxWhy?: string;
  initial: number;
}

/** How often concurrency is sampled between decisions (their mean is the tick's value). */
const SAMPLE_MS = 100;

export interface AutoscalerOptions {
  clock: Clock;
  /** Deployments with a replica range, each at the version it serves now. */
  targets(): readonly ScaledVersion[];
  /** The metric now for a deployment's group (concurrency: requests queued or running), its ready replicas, and requests and rows answered so far (counters). */
  observe(t: ScaledVersion): { concurrency: number; ready: number; answered: number; rows: number };
  /** The desired count changed: converge (the deployments reconciler reads `replicas()`). */
  onChange(): void;
  /** Sampling interval. Default 1 s. */
  tickMs?: number;
  /**
   * What a previous process left (the state database): per deployment, the count it last
   * chose and its decisions. A deployment's first group starts at that count (within its
   * min and max, never below its initial count) instead of the initial one.
   */
  restored?: ReadonlyMap<string, AutoscalerSaved>;
  /** Told the state to keep, when a deployment's count changes and at least every minute while it holds. */
  save?(deployment: string, state: AutoscalerSaved): void;
}

/** What the autoscaler keeps of a deployment across a restart. */
export interface AutoscalerSaved {
  /** The count last chosen for the deployment's newest group. */
  replicas: number;
  /** The decisions, newest last. */
  decisions: Decision[];
}

/** A deployment's saved state is written again this often while it holds (the restore window counts from it). */
const SAVE_EVERY_MS = 60_000;

/** Decisions kept per deployment. */
const KEEP = 50;

export class Autoscaler implements Reconciler {
  readonly name = AUTOSCALER;
  readonly #o: AutoscalerOptions;
  /** Per replica group: a deployment has one, or two while a rollout runs (each scaled by its own traffic). */
  readonly #kpas = new Map<string, { kpa: Kpa; deployment: string; version: number; answered: number; rows: number; lastMs: number }>();
  /** The count each deployment's newest group was last given, for the first count of its next group. */
  readonly #latest = new Map<string, number>();
  readonly #decisions = new Map<string, Decision[]>();
  /** The last evaluation per group. */
  readonly #last = new Map<string, Evaluation>();
  readonly #counts = new Map<string, { up: number; down: number }>();
  /** Concurrency samples since the last tick, per group: sum and count. */
  readonly #sampled = new Map<string, { sum: number; n: number }>();
  #sampler: Timer | undefined;
  #closed = false;
  /** What a previous process left, not yet used: taken by a deployment's first group. */
  readonly #restored: Map<string, AutoscalerSaved>;
  /** Per deployment: the count last saved and when (clock ms). */
  readonly #saved = new Map<string, { replicas: number; atMs: number }>();

  constructor(o: AutoscalerOptions) {
    this.#o = o;
    this.#restored = new Map(o.restored ?? []);
    for (const [d, r] of this.#restored) if (Array.isArray(r.decisions)) this.#decisions.set(d, r.decisions.slice(-KEEP));
  }

  /**
   * Sample every scaled group's concurrency every 100 ms, so a tick decides on the mean of
   * its second rather than one instant (under a closed-loop load one reading is often all
   * or nothing).
   */
  #sample(): void {
    if (this.#closed) return;
    for (const t of this.#o.targets()) {
      const c = this.#o.observe(t).concurrency;
      const s = this.#sampled.get(t.group);
      if (s) { s.sum += c; s.n++; } else this.#sampled.set(t.group, { sum: c, n: 1 });
    }
    this.#sampler = this.#o.clock.setTimeout(() => this.#sample(), SAMPLE_MS);
  }

  /** Stop sampling, and save every deployment's count as it stands (a restart soon after starts there). */
  close(): void {
    this.#closed = true;
    this.#sampler?.cancel();
    if (this.#o.save) for (const [d, replicas] of this.#latest) this.#o.save(d, { replicas, decisions: this.decisions(d) });
  }

  /** The replica count the autoscaler wants for a deployment's group, if it scales it. */
  replicas(deployment: string, group: string): number | undefined {
    const k = this.#kpas.get(group);
    return k && k.deployment === deployment ? k.kpa.desired : undefined;
  }

  /** A request for a deployment whose group has no replica: start one in each of its groups at zero, now. */
  activate(deployment: string): void {
    const now = this.#o.clock.now();
    let changed = false;
    for (const k of this.#kpas.values()) {
      if (k.deployment !== deployment || !k.kpa.activate(now)) continue;
      changed = true;
      this.#record({ at: this.#o.clock.date().toISOString(), deployment, version: k.version, from: 0, to: k.kpa.desired, ready: 0, stable: 0, panic: 0, panicking: false, reason: 'activated: a request arrived while scaled to zero; it waits for the replica' });
    }
    if (changed) this.#o.onChange();
  }

  /** Every recorded change, newest last, per deployment. */
  decisions(deployment?: string): Decision[] {
    if (deployment !== undefined) return [...(this.#decisions.get(deployment) ?? [])];
    return [...this.#decisions.values()].flat().sort((a, b) => a.at.localeCompare(b.at));
  }

  /** The last evaluation of each scaled group (a deployment's newest group first). */
  last(): Evaluation[] {
    return [...this.#last.values()];
  }

  /** Changes made so far per deployment, up and down (counters, for /metrics). */
  counts(deployment: string): { up: number; down: number } {
    return this.#counts.get(deployment) ?? { up: 0, down: 0 };
  }

  async reconcile(): Promise<ReconcileResult> {
    if (!this.#sampler && !this.#closed) this.#sample();
    this.tick();
    return { requeueAfterMs: this.#o.tickMs ?? 1000 };
  }

  /** Sample every scaled group and decide. */
  tick(): void {
    const now = this.#o.clock.now();
    const targets = this.#o.targets();
    const live = new Set(targets.map((t) => t.group));
    for (const g of this.#kpas.keys()) if (!live.has(g)) { this.#kpas.delete(g); this.#last.delete(g); }
    for (const d of this.#latest.keys()) if (!targets.some((t) => t.deployment === d)) this.#latest.delete(d);
    let changed = false;
    for (const t of targets) {
      let k = this.#kpas.get(t.group);
      const seen = this.#o.observe(t);
      if (!k) {
        // A new deployment, or a new version: its group starts at the initial count, or at what the deployment's last group was given.
        const before = this.#latest.get(t.deployment);
        const restored = before === undefined ? this.#restored.get(t.deployment) : undefined;
        this.#restored.delete(t.deployment);
        // After a restart: the count the last process chose, never below the initial count (a group it had scaled to zero starts warm, then idles out).
        const start = before !== undefined ? Math.min(t.max, Math.max(t.min, before))
          : restored !== undefined ? Math.min(t.max, Math.max(t.initial, restored.replicas)) : t.initial;
        const kpa = new Kpa(t.spec, t.min, t.max, start, now);
        if (t.maxWhy) kpa.update(t.spec, t.min, t.max, t.maxWhy);
        k = { kpa, deployment: t.deployment, version: t.version, answered: seen.answered, rows: seen.rows, lastMs: now };
        this.#kpas.set(t.group, k);
        if (restored !== undefined && start !== t.initial) {
          this.#record({
            at: this.#o.clock.date().toISOString(), deployment: t.deployment, version: t.version, from: t.initial, to: start, ready: seen.ready, stable: 0, panic: 0, panicking: false,
            reason: `restored after a restart: ${start} replica${start === 1 ? '' : 's'}, as the autoscaler had last chosen (not the initial ${t.initial}); it scales from there as the load says`,
          });
          changed = true;
        }
      } else {
        const was = k.kpa.update(t.spec, t.min, t.max, t.maxWhy);
        if (was !== undefined) {
          this.#record({
            at: this.#o.clock.date().toISOString(), deployment: t.deployment, version: t.version, from: was, to: k.kpa.desired, ready: seen.ready, stable: 0, panic: 0, panicking: false,
            reason: `the range changed to ${t.min}–${t.max}${t.maxWhy ? ` (${t.maxWhy})` : ''}: ${was} is outside it`,
          });
          changed = true;
        }
      }
      const arrivals = seen.answered - k.answered;
      const dt = Math.max(1, now - k.lastMs) / 1000;
      const sampled = this.#sampled.get(t.group);
      const concurrency = sampled && sampled.n > 0 ? (sampled.sum + seen.concurrency) / (sampled.n + 1) : seen.concurrency;
      this.#sampled.delete(t.group);
      const value = t.spec.metric === 'rows' ? (seen.rows - k.rows) / dt : concurrency;
      k.answered = seen.answered;
      k.rows = seen.rows;
      k.lastMs = now;
      k.kpa.record(now, value, arrivals);
      const e = k.kpa.decide(now, seen.ready);
      const ev: Evaluation = { at: this.#o.clock.date().toISOString(), deployment: t.deployment, version: t.version, ...e };
      this.#last.set(t.group, ev);
      if (t.newest !== false) {
        this.#latest.set(t.deployment, e.to);
        this.#keep(t.deployment, e.to, now);
      }
      if (e.to !== e.from) {
        this.#record(ev);
        changed = true;
      }
    }
    if (changed) this.#o.onChange();
  }

  /** Save a deployment's count when it changes, and every minute while it holds. */
  #keep(deployment: string, replicas: number, now: number): void {
    if (!this.#o.save) return;
    const last = this.#saved.get(deployment);
    if (last && last.replicas === replicas && now - last.atMs < SAVE_EVERY_MS) return;
    this.#saved.set(deployment, { replicas, atMs: now });
    this.#o.save(deployment, { replicas, decisions: this.decisions(deployment) });
  }

  #record(d: Decision): void {
    const { deployment } = d;
    const c = this.#counts.get(deployment) ?? { up: 0, down: 0 };
    if (d.to > d.from) c.up++; else c.down++;
    this.#counts.set(deployment, c);
    const list = this.#decisions.get(deployment) ?? [];
    const { wantStable: _s, wantPanic: _p, ...decision } = d as Evaluation;
    list.push(decision);
    if (list.length > KEEP) list.splice(0, list.length - KEEP);
    this.#decisions.set(deployment, list);
  }
}
