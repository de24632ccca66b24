/**
 * Canary rollouts: when a deployment that declares `rollout.strategy: canary` moves to a
 * new model version, traffic moves to it in steps (`rollout.steps`, percent), each held
 * at least `rollout.interval` and until the analysis has decided. The deployments
 * reconciler asks `decide` on every pass; this module holds each rollout's state on the
 * injected clock and answers with the weights to route, or the outcome.
 *
 * Analysis at each check of a step compares the candidate with the baseline over the
 * step so far (monitor/variants.ts snapshots), with the always-valid sequential test
 * (monitor/sequential.ts), so checking often does not inflate false alarms:
 * - failures: 5xx answers plus 200s whose outputs held NaN or an infinity;
 * - latency: the share of answers slower than the baseline's p99 in the step, which may be
 *   up to 5 points higher than the baseline's (LATENCY_TOLERANCE) before it fails.
 * A `fail` on either rolls back at once. Once the interval has passed, `pass` on both
 * moves to the next step (a step of 100, or the end of the list, promotes). Inconclusive
 * (too little data) follows `analysis.onInconclusive`: wait (until `maxDuration`, then roll
 * back), rollback, or promote. Every verdict is kept with its numbers.
 */
import type { Clock } from '../clock.js';
import { fail } from '../errors.js';
import { compareRates, type RateComparison } from '../monitor/sequential.js';
import { countAbove, failures, quantile, type VariantCounts, type VariantWindows } from '../monitor/variants.js';
import type { RolloutSpec } from '../spec/types.js';

/** How many more of its answers (a share) the candidate may have over the baseline's p99 and still pass. */
export const LATENCY_TOLERANCE = 0.05;

/** One recorded check of a step. */
export interface StepVerdict {
  step: number;
  weight: number;
  at: string;
  failures: RateComparison;
  latency: RateComparison;
  /** What the check did: 'hold', 'next', 'promote', 'rollback'. */
  action: 'hold' | 'next' | 'promote' | 'rollback';
}

export interface RolloutStatus {
  deployment: string;
  baseline: { version: number; group: string };
  candidate: { version: number; group: string };
  strategy: 'canary' | 'blueGreen' | 'abTest';
  /** Index into steps; -1 while the candidate warms up. */
  step: number;
  weight: number;
  /**
   * canary: warming → progressing (step by step) → promoted | rolled_back.
   * blueGreen: warming → baking (preview requests only) → switched (all traffic, the old group
   * still warm for keepOld) → promoted | rolled_back.
   * abTest: warming → testing (callers split by key) → promoted | rolled_back, by hand.
   */
  state: 'warming' | 'progressing' | 'baking' | 'switched' | 'testing' | 'promoted' | 'rolled_back';
  /** Held at its weight by `aloft rollout pause`: no step moves, no automatic decision. */
  paused: boolean;
  reason?: string;
  startedAt: string;
  stepStartedAt?: string;
  verdicts: StepVerdict[];
}

/** What the reconciler routes now. */
export type RolloutDecision =
  | { kind: 'warming' }
  /** Route both: `weight` percent to the candidate; `current` says whose metadata the deployment shows. */
  | { kind: 'split'; weight: number; current?: 'baseline' | 'candidate'; sticky?: boolean }
  | { kind: 'promoted' }
  | { kind: 'rolled_back'; reason: string };

interface State {
  status: RolloutStatus;
  /** The desired state it belongs to: a new apply of the same candidate starts a new rollout. */
  generation: object;
  stepStartedMs: number;
  base: VariantCounts;
  cand: VariantCounts;
  /** Last check's verdicts, to record a verdict only when it changes. */
  lastKey?: string;
}

export class Rollouts {
  readonly #clock: Clock;
  readonly #windows: VariantWindows;
  readonly #states = new Map<string, State>();

  constructor(clock: Clock, windows: VariantWindows) {
    this.#clock = clock;
    this.#windows = windows;
  }

  /** Every rollout known: running, and the last outcome per deployment. */
  status(): RolloutStatus[] {
    return [...this.#states.values()].map((s) => structuredClone(s.status));
  }

  /**
   * The step for a deployment moving from `baseline` to `candidate` (their groups) under
   * `spec`, given how many candidate replicas are ready of how many wanted.
   */
  decide(deployment: string, spec: RolloutSpec, baseline: { version: number; group: string }, candidate: { version: number; group: string }, ready: boolean, generation: object): RolloutDecision {
    if (spec.strategy === 'blueGreen') return this.#blueGreen(deployment, spec, baseline, candidate, ready, generation);
    if (spec.strategy === 'abTest') return this.#abTest(deployment, spec, baseline, candidate, ready, generation);
    const s = this.#state(deployment, spec, baseline, candidate, generation);
    const st = s.status;
    const ended = Rollouts.#ended(st);
    if (ended) return ended;
    if (st.state === 'warming') {
      if (!ready) return { kind: 'warming' };
      if (st.paused) return { kind: 'warming' };
      this.#enter(s, deployment, spec, 0);
      return this.#route(s);
    }
    if (st.paused) return this.#route(s);
    return this.#check(s, deployment, spec);
  }

  /** Whether `group` is the candidate of a rollout of `deployment` that has not been promoted (under way, or rolled back). */
  isCandidate(deployment: string, group: string): boolean {
    for (const s of this.#states.values()) {
      if (s.status.deployment === deployment && s.status.candidate.group === group && s.status.state !== 'promoted') return true;
    }
    return false;
  }

  /** The running rollout of a deployment. @throws ALOFT_NO_ROLLOUT */
  #running(deployment: string): State {
    for (const s of this.#states.values()) if (s.status.deployment === deployment && !['promoted', 'rolled_back'].includes(s.status.state)) return s;
    const last = [...this.#states.values()].find((s) => s.status.deployment === deployment);
    throw fail('ALOFT_NO_ROLLOUT', `no rollout is running for deployment '${deployment}'${last ? ` (its last one was ${last.status.state.replace('_', ' ')})` : ''}; a rollout starts when apply moves a deployment with rollout.strategy: canary to a new version`);
  }

  /** Send all traffic to the candidate now (the reconciler switches on its next pass). */
  promote(deployment: string, by: string): RolloutStatus {
    const s = this.#running(deployment);
    if (s.status.state === 'warming') throw fail('ALOFT_NO_ROLLOUT', `the new version of '${deployment}' is still warming up; promote it once its replicas are ready ('aloft rollout status ${deployment}')`);
    s.status.state = 'promoted';
    s.status.weight = 100;
    s.status.reason = `promoted by ${by}`;
    return structuredClone(s.status);
  }

  /** Roll back now: all traffic to the baseline; the apply ends rolled back. */
  abort(deployment: string, by: string): RolloutStatus {
    const s = this.#running(deployment);
    const where = s.status.strategy !== 'canary' ? s.status.state : s.status.step < 0 ? 'warm-up' : `step ${s.status.step + 1} (${s.status.weight}%)`;
    s.status.reason = `${{ canary: 'canary', blueGreen: 'blue-green', abTest: 'A/B test' }[s.status.strategy]} aborted by ${by} at ${where}`;
    s.status.state = 'rolled_back';
    s.status.weight = 0;
    return structuredClone(s.status);
  }

  /** Hold at the current weight: no step moves and no automatic decision until resumed. */
  pause(deployment: string): RolloutStatus {
    const s = this.#running(deployment);
    s.status.paused = true;
    return structuredClone(s.status);
  }

  /** Go on from the current step; its interval counts from now. */
  resume(deployment: string): RolloutStatus {
    const s = this.#running(deployment);
    if (s.status.paused) s.stepStartedMs = this.#clock.now();
    s.status.paused = false;
    return structuredClone(s.status);
  }

  #state(deployment: string, spec: RolloutSpec, baseline: { version: number; group: string }, candidate: { version: number; group: string }, generation: object): State {
    const id = `${deployment}\u0000${candidate.group}`;
    let s = this.#states.get(id);
    if (!s || s.generation !== generation) {
      // A new rollout for this deployment replaces any earlier record of it.
      for (const [k, old] of this.#states) if (old.status.deployment === deployment) this.#states.delete(k);
      s = {
        generation,
        status: { deployment, baseline, candidate, strategy: spec.strategy === 'replace' ? 'canary' : spec.strategy, step: -1, weight: 0, state: 'warming', paused: false, startedAt: this.#clock.date().toISOString(), verdicts: [] },
        stepStartedMs: this.#clock.now(), base: this.#windows.snapshot(deployment, baseline.version), cand: this.#windows.snapshot(deployment, candidate.version),
      };
      this.#states.set(id, s);
    }
    return s;
  }

  /**
   * abTest: callers split by their key for as long as it runs; every check compares the
   * variants (failures, slow share: the difference with its always-valid interval, the
   * effect size a report needs) and records it; only promote or abort ends it.
   */
  #abTest(deployment: string, spec: RolloutSpec, baseline: { version: number; group: string }, candidate: { version: number; group: string }, ready: boolean, generation: object): RolloutDecision {
    const s = this.#state(deployment, spec, baseline, candidate, generation);
    const st = s.status;
    const ended = Rollouts.#ended(st);
    if (ended) return ended;
    if (st.state === 'warming') {
      if (!ready) return { kind: 'warming' };
      this.#enter(s, deployment, spec, -1);
      st.state = 'testing';
      st.weight = spec.split;
    }
    const { fail, slow } = this.#compare(s, deployment, spec);
    const key = `${fail.verdict}|${slow.verdict}|${Math.floor(this.#clock.now() / 10_000)}`;
    if (key !== s.lastKey) {
      st.verdicts.push({ step: 0, weight: st.weight, at: this.#clock.date().toISOString(), failures: fail, latency: slow, action: 'hold' });
      if (st.verdicts.length > 200) st.verdicts.splice(0, st.verdicts.length - 200);
      s.lastKey = key;
    }
    return { kind: 'split', weight: st.weight, sticky: true };
  }

  /** blueGreen: warm in full, bake on preview requests, switch at once, keep the old group warm, then release it. */
  #blueGreen(deployment: string, spec: RolloutSpec, baseline: { version: number; group: string }, candidate: { version: number; group: string }, ready: boolean, generation: object): RolloutDecision {
    const s = this.#state(deployment, spec, baseline, candidate, generation);
    const st = s.status;
    const now = this.#clock.now();
    const ended = Rollouts.#ended(st);
    if (ended) return ended;
    if (st.state === 'warming') {
      if (!ready || st.paused) return { kind: 'warming' };
      this.#enter(s, deployment, spec, -1);
      st.state = 'baking';
      st.weight = 0;
    }
    if (st.paused) return st.state === 'switched' ? { kind: 'split', weight: 100, current: 'candidate' } : { kind: 'split', weight: 0 };
    if (st.state === 'baking') {
      // Preview traffic is sparse: a bake decides on fewer answers than a canary step.
      const { fail } = this.#compare(s, deployment, spec, Math.min(spec.analysis.minSamples, 20));
      if (fail.verdict === 'fail') {
        st.verdicts.push({ step: -1, weight: 0, at: this.#clock.date().toISOString(), failures: fail, latency: fail, action: 'rollback' });
        st.state = 'rolled_back';
        st.reason = `blue-green rolled back during bake: failures of preview requests: ${fail.reason}`;
        return { kind: 'rolled_back', reason: st.reason };
      }
      if (now - s.stepStartedMs < spec.bake) return { kind: 'split', weight: 0 };
      st.state = 'switched';
      st.weight = 100;
      s.stepStartedMs = now;
      st.stepStartedAt = this.#clock.date().toISOString();
      st.verdicts.push({ step: 0, weight: 100, at: st.stepStartedAt, failures: fail, latency: fail, action: 'next' });
    }
    // switched: all traffic to the candidate; the old group stays warm for an instant rollback.
    if (now - s.stepStartedMs >= spec.keepOld) {
      st.state = 'promoted';
      return { kind: 'promoted' };
    }
    return { kind: 'split', weight: 100, current: 'candidate' };
  }

  #enter(s: State, deployment: string, spec: RolloutSpec, step: number): void {
    const st = s.status;
    st.step = step;
    st.weight = step < 0 ? 0 : spec.steps[step]!;
    st.state = st.weight >= 100 ? 'promoted' : 'progressing';
    s.stepStartedMs = this.#clock.now();
    st.stepStartedAt = this.#clock.date().toISOString();
    s.base = this.#windows.snapshot(deployment, st.baseline.version);
    s.cand = this.#windows.snapshot(deployment, st.candidate.version);
    s.lastKey = undefined;
  }

  #route(s: State): RolloutDecision {
    return s.status.state === 'promoted' ? { kind: 'promoted' } : { kind: 'split', weight: s.status.weight };
  }

  /**
   * The step so far, candidate against baseline: failures, and the share of answers slower
   * than the baseline's p99. A new replica's first answers are often slower (caches,
   * connections): the candidate may have up to LATENCY_TOLERANCE more of them before that fails it.
   */
  #compare(s: State, deployment: string, spec: RolloutSpec, minSamples = spec.analysis.minSamples): { fail: RateComparison; slow: RateComparison; p99: number | undefined } {
    const base = this.#windows.since(deployment, s.status.baseline.version, s.base);
    const cand = this.#windows.since(deployment, s.status.candidate.version, s.cand);
    const opts = { alpha: spec.analysis.alpha, minSamples };
    const p99 = quantile(base, 0.99);
    const slow = compareRates(
      { n: base.answers, bad: p99 === undefined ? 0 : countAbove(base, p99) },
      { n: cand.answers, bad: p99 === undefined ? 0 : countAbove(cand, p99) },
      { ...opts, tolerance: LATENCY_TOLERANCE, margin: LATENCY_TOLERANCE },
    );
    return { fail: compareRates(failures(base), failures(cand), opts), slow, p99 };
  }

  /** A rollout that has ended answers the same from then on. */
  static #ended(st: RolloutStatus): RolloutDecision | undefined {
    if (st.state === 'promoted') return { kind: 'promoted' };
    if (st.state === 'rolled_back') return { kind: 'rolled_back', reason: st.reason ?? 'rolled back' };
    return undefined;
  }

  #check(s: State, deployment: string, spec: RolloutSpec): RolloutDecision {
    const st = s.status;
    const { fail, slow, p99 } = this.#compare(s, deployment, spec);
    const elapsed = this.#clock.now() - s.stepStartedMs;
    let action: StepVerdict['action'] = 'hold';
    let reason: string | undefined;
    if (fail.verdict === 'fail' || slow.verdict === 'fail') {
      action = 'rollback';
      reason = `step ${st.step + 1} (${st.weight}%): ${fail.verdict === 'fail' ? `failures: ${fail.reason}` : `answers slower than the baseline's p99 (${p99?.toFixed(2)} ms): ${slow.reason}`}`;
    } else if (elapsed >= spec.interval) {
      const decided = fail.verdict === 'pass' && slow.verdict === 'pass';
      if (decided || spec.analysis.onInconclusive === 'promote') action = 'next';
      else if (spec.analysis.onInconclusive === 'rollback') {
        action = 'rollback';
        reason = `step ${st.step + 1} (${st.weight}%) was inconclusive after its interval and onInconclusive is rollback: ${fail.reason}`;
      } else if (elapsed >= spec.analysis.maxDuration) {
        action = 'rollback';
        reason = `step ${st.step + 1} (${st.weight}%) stayed inconclusive for ${Math.round(spec.analysis.maxDuration / 1000)} s (analysis.maxDuration): ${fail.reason}`;
      }
    }
    const key = `${action}|${fail.verdict}|${slow.verdict}`;
    if (key !== s.lastKey || action !== 'hold') {
      st.verdicts.push({ step: st.step, weight: st.weight, at: this.#clock.date().toISOString(), failures: fail, latency: slow, action });
      if (st.verdicts.length > 200) st.verdicts.splice(0, st.verdicts.length - 200);
      s.lastKey = key;
    }
    if (action === 'rollback') {
      st.state = 'rolled_back';
      st.weight = 0;
      st.reason = `canary rolled back at ${reason}`;
      return { kind: 'rolled_back', reason: st.reason };
    }
    if (action === 'next') {
      const next = st.step + 1;
      if (next >= spec.steps.length) {
        st.state = 'promoted';
        st.weight = 100;
        return { kind: 'promoted' };
      }
      this.#enter(s, deployment, spec, next);
    }
    return this.#route(s);
  }
}
