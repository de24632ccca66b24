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
 *
 * `analysis.gates` picks which comparisons decide (errors, latency, latencyP50, outputShift:
 * the Jensen–Shannon distance between the two versions' predictions); every one is computed
 * and recorded either way. Webhook gates (`rollout.webhooks`) are called before a canary
 * step after the first and before any promotion; the step holds until they answer, and
 * anything but 2xx rolls back.
 *
 * shadow: the baseline answers everything; a sampled copy of each request goes to the
 * candidate (gateway/shadow.ts), whose answers are compared with the baseline's. Its
 * failures and latency are gated as a canary's are; with `shadow.agreement` it is
 * promoted once the agreeing share is surely at least that (after `interval`), and rolled
 * back once it is surely below; without it, promotion is by hand.
 */
import type { Clock } from '../clock.js';
import { fail } from '../errors.js';
import type { Logger } from '../log.js';
import { checkRate, compareRates, type RateComparison, type TargetCheck, type Verdict } from '../monitor/sequential.js';
import type { ShadowCounts, ShadowTally } from '../monitor/shadow.js';
import { countAbove, failures, outputShift, quantile, type VariantCounts, type VariantWindows } from '../monitor/variants.js';
import type { RolloutSpec, SloSpec } from '../spec/types.js';

/** Whether a rollout in this state is still under way (not promoted, not rolled back). */
export function underWay(state: RolloutStatus['state']): boolean {
  return state !== 'promoted' && state !== 'rolled_back';
}

/** What decides a rollout automatically: a canary's analysis.gates; a shadow's without latency; a bake's failures; nothing in an A/B test. */
function gatesOf(spec: RolloutSpec): string[] {
  if (spec.strategy === 'abTest') return [];
  if (spec.strategy === 'blueGreen') return ['errors'];
  return spec.analysis.gates.filter((g) => spec.strategy !== 'shadow' || (g !== 'latency' && g !== 'latencyP50'));
}

const STRATEGY_NAMES = { canary: 'canary', blueGreen: 'blue-green', abTest: 'A/B test', shadow: 'shadow' } as const;

/** How many more of its answers (a share) the candidate may have over the baseline's p99 and still pass. */
export const LATENCY_TOLERANCE = 0.05;
/**
 * A blue-green whose old version has too few answers to compare with fails on its own when
 * its failed answers are surely above this share (always-valid, analysis.alpha).
 */
export const BLUE_GREEN_FAILURE_LIMIT = 0.05;
/** Answers per variant after which the failure test may fail a rollout, before analysis.minSamples (a pass still waits for those). */
export const EARLY_FAIL_SAMPLES = 20;

/** One recorded check of a step. */
export interface StepVerdict {
  step: number;
  weight: number;
  at: string;
  failures: RateComparison;
  /** The share of answers slower than the baseline's p99. */
  latency: RateComparison;
  /** The share of answers slower than the baseline's median. */
  latencyP50?: RateComparison;
  /** The distance between the versions' distributions of predictions. */
  outputShift?: ShiftVerdict;
  /** shadow: the share of the candidate's answers that agree with the baseline's. */
  agreement?: AgreementVerdict;
  /** A webhook gate's call and answer. */
  webhook?: WebhookVerdict;
  /** The candidate's bad-event share against each availability and latency SLO's budget × maxBurn. */
  slo?: SloGateVerdict;
  /** The share of the candidate's labelled predictions that were wrong, against the baseline's. */
  accuracy?: RateComparison;
  /** Whether the live inputs have drifted from the reference. */
  drift?: { verdict: Verdict; reason: string };
  /** What the check did: 'hold', 'next', 'promote', 'rollback'. */
  action: 'hold' | 'next' | 'promote' | 'rollback';
}

export interface ShiftVerdict {
  verdict: Verdict;
  /** Jensen–Shannon distance, 0 (same) to 1 (disjoint); undefined without predictions on both sides. */
  score?: number;
  max: number;
  /** Predictions counted: baseline, candidate. */
  rows: [number, number];
  reason: string;
}

export interface AgreementVerdict extends TargetCheck {
  /** The agreement asked for (shadow.agreement), if any. */
  target?: number;
  compared: number;
  agreed: number;
  meanAbsDiff?: number;
}

export interface SloGateVerdict {
  verdict: Verdict;
  /** One per availability or latency SLO of the deployment. */
  slos: ({ name: string; kind: string; limit: number } & TargetCheck)[];
  reason: string;
}

export interface WebhookVerdict {
  url: string;
  before: 'step' | 'promotion';
  verdict: 'pass' | 'fail';
  /** The HTTP status, when it answered. */
  status?: number;
  ms: number;
  /** Why it failed, or the start of its answer. */
  detail?: string;
}

/** A shadow rollout's copies so far. */
export interface ShadowStatus {
  sample: number;
  copies: number;
  dropped: number;
  failed: number;
  compared: number;
  agreed: number;
  /** agreed / compared. */
  agreement?: number;
  /** The mean over compared copies whose difference is finite; absent when none is. */
  meanAbsDiff?: number;
  /** Compared copies whose outputs differ by a NaN or ±∞ (on either side). */
  nonFinite?: number;
  target?: number;
}

export interface RolloutStatus {
  deployment: string;
  baseline: { version: number; group: string };
  candidate: { version: number; group: string };
  strategy: 'canary' | 'blueGreen' | 'abTest' | 'shadow';
  /** Index into `steps` (0 is the first step; the CLI prints it 1-based, "step 1 of 3"); -1 while the candidate warms up. */
  step: number;
  /** canary: the spec's steps, percent of traffic to the candidate. */
  steps?: number[];
  /** The checks that decide (analysis.gates; a shadow leaves out latency); the others are recorded, not acted on. */
  gates: string[];
  weight: number;
  /**
   * canary: warming → progressing (step by step) → promoted | rolled_back.
   * blueGreen: warming → baking (preview requests only) → switched (all traffic, the old group
   * still warm for keepOld) → promoted | rolled_back.
   * abTest: warming → testing (callers split by key) → promoted | rolled_back, by hand.
   * shadow: warming → shadowing (copies compared) → promoted | rolled_back.
   */
  state: 'warming' | 'progressing' | 'baking' | 'switched' | 'testing' | 'shadowing' | 'promoted' | 'rolled_back';
  /** shadow: the copies and how they compared. */
  shadow?: ShadowStatus;
  /** A webhook gate being waited for. */
  waitingFor?: string;
  /**
   * ms until the current step's (or bake's, or keepOld's) least time has passed (`min`),
   * and until an undecided step hits analysis.maxDuration (`max`); while a rollout runs.
   */
  timeLeft?: { min: number; max?: number };
  /** Held at its weight by `aloft rollout pause`: no step moves, no automatic decision. */
  paused: boolean;
  reason?: string;
  startedAt: string;
  stepStartedAt?: string;
  /** Set when this rollout took up one a restart interrupted: the step it resumed at (its analysis starts over there). */
  resumed?: { step: number; at: string };
  /** Set once it has ended and another version serves alone (a rollback, or an apply that needed no rollout): which, and since when. */
  superseded?: { version: number; at: string };
  /** Every change of verdict or action, oldest first (at most 200). */
  verdicts: StepVerdict[];
  /** The newest analysis, refreshed at every pass while the rollout runs (verdicts keeps only the changes). */
  check?: StepVerdict;
  /** While both groups run: what the second one costs (the admin API adds it, from the price table). */
  cost?: RolloutRunCost;
}

/** The group a rollout runs beside the one that serves (the candidate; the old group after a blue-green switch). */
export interface RolloutRunCost {
  group: 'candidate' | 'baseline';
  version: number;
  /** Its replicas now. */
  replicas: number;
  currency: string;
  /** An hour of those replicas at the spec's prices (resources without a price left out, named in `unpriced`). */
  hourly: number;
  monthly: number;
  unpriced: string[];
  /** The hourly cost times the time since the rollout started: what the second group has cost so far, at its present size. */
  soFar: number;
}

/** What the reconciler routes now. */
export type RolloutDecision =
  | { kind: 'warming' }
  /** Route both: `weight` percent to the candidate; `current` says whose metadata the deployment shows. */
  | { kind: 'split'; weight: number; current?: 'baseline' | 'candidate'; sticky?: boolean; preview?: boolean }
  /** The baseline answers everything; a `sample` share is copied to the candidate. */
  | { kind: 'shadow' }
  | { kind: 'promoted' }
  | { kind: 'rolled_back'; reason: string };

interface State {
  status: RolloutStatus;
  spec: RolloutSpec;
  /** The desired state it belongs to: a new apply of the same candidate starts a new rollout. */
  generation: object;
  stepStartedMs: number;
  base: VariantCounts;
  cand: VariantCounts;
  shadow?: ShadowTally;
  /** Last check's verdicts, to record a verdict only when it changes. */
  lastKey?: string;
  /** The webhook gates of one transition: called once, answered later. */
  hooks?: { key: string; pending: number; failed?: string; done: boolean };
  /** A canary taken up after a restart: the step to enter once the candidate is warm. */
  resumeStep?: number;
  /** What was last handed to `onChange`, to hand on only changes. */
  savedKey?: string;
}

export interface RolloutsOptions {
  clock: Clock;
  windows: VariantWindows;
  /** shadow rollouts' copy counters (gateway/shadow.ts). */
  shadows?: ShadowCounts;
  /** For webhook gates. Default: the global fetch. */
  fetch?: typeof fetch;
  logger?: Logger;
  /** The deployment's SLOs, for the slo gate. */
  slos?: (deployment: string) => readonly SloSpec[];
  /** The deployment's latest drift check, for the drift gate: undefined when none has judged yet. */
  drift?: (deployment: string) => { drifted: boolean; at: string; features: readonly string[] } | undefined;
  /**
   * A rollout of the deployment that a stop interrupted (control/rollout-store.ts), taken
   * once: a new rollout from the same baseline to the same candidate, same strategy and
   * steps, resumes at its step with its verdicts and pause instead of starting over.
   */
  resume?: (deployment: string) => RolloutStatus | undefined;
  /** Called when a rollout's state, step, weight, pause, reason or verdicts change (to save it). */
  onChange?: (status: RolloutStatus) => void;
}

/** The comparisons of one check. */
interface Comparison {
  fail: RateComparison;
  slow: RateComparison;
  slow50: RateComparison;
  shift: ShiftVerdict;
  p99: number | undefined;
  p50: number | undefined;
  slo: SloGateVerdict;
  accuracy: RateComparison;
  drift: { verdict: Verdict; reason: string };
}

export class Rollouts {
  readonly #clock: Clock;
  readonly #windows: VariantWindows;
  readonly #shadows: ShadowCounts | undefined;
  readonly #fetch: typeof fetch;
  readonly #logger: Logger | undefined;
  readonly #states = new Map<string, State>();
  readonly #slos: RolloutsOptions['slos'];
  readonly #drift: RolloutsOptions['drift'];
  readonly #resume: RolloutsOptions['resume'];
  readonly #onChange: RolloutsOptions['onChange'];

  constructor(o: RolloutsOptions) {
    this.#resume = o.resume;
    this.#onChange = o.onChange;
    this.#slos = o.slos;
    this.#drift = o.drift;
    this.#clock = o.clock;
    this.#windows = o.windows;
    this.#shadows = o.shadows;
    this.#fetch = o.fetch ?? fetch;
    this.#logger = o.logger;
  }

  /** Every rollout known: running, and the last outcome per deployment. */
  status(): RolloutStatus[] {
    return [...this.#states.values()].map((s) => {
      const st = structuredClone(s.status);
      const elapsed = this.#clock.now() - s.stepStartedMs;
      const left = (ms: number) => Math.max(0, Math.round(ms - elapsed));
      const { spec } = s;
      if (st.state === 'progressing' || (st.state === 'shadowing' && spec.shadow.agreement !== undefined)) st.timeLeft = { min: left(spec.interval), max: left(Math.max(spec.interval, spec.analysis.maxDuration)) };
      else if (st.state === 'baking') st.timeLeft = { min: left(spec.bake) };
      else if (st.state === 'switched') st.timeLeft = { min: left(spec.keepOld) };
      return st;
    });
  }

  /**
   * The step for a deployment moving from `baseline` to `candidate` (their groups) under
   * `spec`, given how many candidate replicas are ready of how many wanted.
   */
  decide(deployment: string, spec: RolloutSpec, baseline: { version: number; group: string }, candidate: { version: number; group: string }, ready: boolean, generation: object): RolloutDecision {
    const d = this.#decide(deployment, spec, baseline, candidate, ready, generation);
    this.#changed(this.#states.get(`${deployment}\u0000${candidate.group}`));
    return d;
  }

  /** Hand the status to onChange when what a restart needs of it changed (not at every check). */
  #changed(s: State | undefined): void {
    if (!s || !this.#onChange) return;
    const st = s.status;
    const key = `${st.state}|${st.step}|${st.weight}|${st.paused}|${st.reason ?? ''}|${st.verdicts.length}|${st.verdicts.at(-1)?.at ?? ''}|${st.superseded?.version ?? ''}`;
    if (key === s.savedKey) return;
    s.savedKey = key;
    this.#onChange(structuredClone(st));
  }

  #decide(deployment: string, spec: RolloutSpec, baseline: { version: number; group: string }, candidate: { version: number; group: string }, ready: boolean, generation: object): RolloutDecision {
    if (spec.strategy === 'blueGreen') return this.#blueGreen(deployment, spec, baseline, candidate, ready, generation);
    if (spec.strategy === 'abTest') return this.#abTest(deployment, spec, baseline, candidate, ready, generation);
    if (spec.strategy === 'shadow') return this.#shadow(deployment, spec, baseline, candidate, ready, generation);
    const s = this.#state(deployment, spec, baseline, candidate, generation);
    const st = s.status;
    const ended = Rollouts.#ended(st);
    if (ended) return ended;
    if (st.state === 'warming') {
      if (!ready) return { kind: 'warming' };
      if (s.resumeStep !== undefined) {
        // Taken up after a restart: back at the step it had reached (paused if it was), the step's analysis from now.
        const step = s.resumeStep;
        s.resumeStep = undefined;
        this.#enter(s, deployment, spec, step);
        st.resumed = { step, at: this.#clock.date().toISOString() };
        return this.#route(s);
      }
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

  /** The rollout under way for `deployment` (no copy: read it, do not keep it), or undefined. */
  underWayOf(deployment: string): Readonly<RolloutStatus> | undefined {
    for (const s of this.#states.values()) if (s.status.deployment === deployment && underWay(s.status.state)) return s.status;
    return undefined;
  }

  /** The deployments with a rollout under way. */
  deploymentsUnderWay(): Set<string> {
    const out = new Set<string>();
    for (const s of this.#states.values()) if (underWay(s.status.state)) out.add(s.status.deployment);
    return out;
  }

  /**
   * The deployment serves `version` alone (the deployments reconciler says so on every pass):
   * an ended rollout whose outcome is not what serves any more (a rollback since, or an
   * apply that needed no rollout) is marked superseded, so that a promote or abort is not
   * answered with it as if it still held.
   */
  serving(deployment: string, version: number): void {
    for (const s of this.#states.values()) {
      const st = s.status;
      if (st.deployment !== deployment) continue;
      // Under way, yet another version serves alone: what started it was given up (an apply
      // that timed out, a rollback, a newer apply). It ends here instead of reading as running.
      if (underWay(st.state) && st.candidate.version !== version) {
        st.state = 'rolled_back';
        st.reason = `${STRATEGY_NAMES[st.strategy]} ended without a decision: v${version} serves alone now (the apply that started it was given up, rolled back or replaced)`;
        Rollouts.#forgetHooks(s);
        this.#changed(s);
      }
      if (underWay(st.state) || st.superseded) continue;
      if ((st.state === 'promoted' ? st.candidate.version : st.baseline.version) === version) continue;
      st.superseded = { version, at: this.#clock.date().toISOString() };
      this.#changed(s);
    }
  }

  /** The running rollout of a deployment. @throws ALOFT_NO_ROLLOUT */
  #running(deployment: string): State {
    for (const s of this.#states.values()) if (s.status.deployment === deployment && underWay(s.status.state)) return s;
    const last = [...this.#states.values()].find((s) => s.status.deployment === deployment)?.status;
    const was = last && ` (its last one, v${last.baseline.version} → v${last.candidate.version}, was ${last.state.replace('_', ' ')}${last.superseded ? `; v${last.superseded.version} serves since ${last.superseded.at}` : ''})`;
    throw fail('ALOFT_NO_ROLLOUT', `no rollout is running for deployment '${deployment}'${was ?? ''}; a rollout starts when apply moves a deployment whose rollout.strategy is canary, blueGreen, abTest or shadow to a new version`);
  }

  /** Send all traffic to the candidate now (the reconciler switches on its next pass). */
  promote(deployment: string, by: string): RolloutStatus {
    const done = this.#endedAs(deployment, 'promoted');
    if (done) return done;
    const s = this.#running(deployment);
    if (s.status.state === 'warming') throw fail('ALOFT_NO_ROLLOUT', `the new version of '${deployment}' is still warming up; promote it once its replicas are ready ('aloft rollout status ${deployment}')`);
    s.status.state = 'promoted';
    s.status.weight = 100;
    s.status.reason = `promoted by ${by}`;
    Rollouts.#forgetHooks(s);
    this.#changed(s);
    return structuredClone(s.status);
  }

  /** Roll back now: all traffic to the baseline; the apply ends rolled back. */
  abort(deployment: string, by: string): RolloutStatus {
    const done = this.#endedAs(deployment, 'rolled_back');
    if (done) return done;
    const s = this.#running(deployment);
    const where = s.status.strategy !== 'canary' ? s.status.state : s.status.step < 0 ? 'warm-up' : `step ${s.status.step + 1} (${s.status.weight}%)`;
    s.status.reason = `${STRATEGY_NAMES[s.status.strategy]} aborted by ${by} at ${where}`;
    s.status.state = 'rolled_back';
    s.status.weight = 0;
    Rollouts.#forgetHooks(s);
    this.#changed(s);
    return structuredClone(s.status);
  }

  /**
   * The deployment's last rollout when it has ended as asked already: a second abort or
   * promote (a retried command, two operators at once) changes nothing and is answered
   * as such rather than as an error.
   */
  #endedAs(deployment: string, state: 'promoted' | 'rolled_back'): RolloutStatus | undefined {
    const last = [...this.#states.values()].filter((s) => s.status.deployment === deployment);
    if (last.some((s) => underWay(s.status.state))) return undefined;
    const done = last.find((s) => s.status.state === state && !s.status.superseded);
    return done && structuredClone(done.status);
  }

  /** A gate's answer that comes after the rollout ended by hand is not recorded; nothing is waited for any more. */
  static #forgetHooks(s: State): void {
    s.hooks = undefined;
    delete s.status.waitingFor;
  }

  /** Hold at the current weight: no step moves and no automatic decision until resumed. */
  pause(deployment: string): RolloutStatus {
    const s = this.#running(deployment);
    s.status.paused = true;
    this.#changed(s);
    return structuredClone(s.status);
  }

  /** Go on from the current step; its interval counts from now. */
  resume(deployment: string): RolloutStatus {
    const s = this.#running(deployment);
    if (s.status.paused) {
      s.stepStartedMs = this.#clock.now();
      s.status.stepStartedAt = this.#clock.date().toISOString();
    }
    s.status.paused = false;
    this.#changed(s);
    return structuredClone(s.status);
  }

  /**
   * Take up an interrupted rollout of the same move (baseline and candidate versions,
   * strategy, a canary's steps): its history, its pause, and for a canary the step it had
   * reached. Anything else starts over, the safe direction.
   */
  #takeUp(s: State, spec: RolloutSpec, prior: RolloutStatus | undefined): void {
    const st = s.status;
    if (!prior || prior.state === 'promoted' || prior.state === 'rolled_back') return;
    if (prior.baseline.version !== st.baseline.version || prior.candidate.version !== st.candidate.version || prior.strategy !== st.strategy) return;
    if (st.strategy === 'canary' && JSON.stringify(prior.steps ?? []) !== JSON.stringify(spec.steps)) return;
    st.verdicts = Array.isArray(prior.verdicts) ? prior.verdicts.slice(-200) : [];
    st.startedAt = prior.startedAt;
    st.paused = prior.paused === true;
    if (st.strategy === 'canary' && prior.state === 'progressing' && Number.isInteger(prior.step) && prior.step >= 0 && prior.step < spec.steps.length) s.resumeStep = prior.step;
    this.#logger?.info({ deployment: st.deployment, step: prior.step, paused: st.paused }, `taking up the ${STRATEGY_NAMES[st.strategy]} of '${st.deployment}' (v${st.baseline.version} → v${st.candidate.version}) that a stop interrupted${s.resumeStep !== undefined ? ` at step ${s.resumeStep + 1} of ${spec.steps.length}` : ''}`);
  }

  #state(deployment: string, spec: RolloutSpec, baseline: { version: number; group: string }, candidate: { version: number; group: string }, generation: object): State {
    const id = `${deployment}\u0000${candidate.group}`;
    let s = this.#states.get(id);
    if (!s || s.generation !== generation) {
      // A new rollout for this deployment replaces any earlier record of it.
      for (const [k, old] of this.#states) if (old.status.deployment === deployment) this.#states.delete(k);
      s = {
        generation, spec,
        status: { deployment, baseline, candidate, strategy: spec.strategy === 'replace' ? 'canary' : spec.strategy, step: -1, weight: 0, state: 'warming', paused: false, startedAt: this.#clock.date().toISOString(), verdicts: [], gates: gatesOf(spec), ...(spec.strategy === 'canary' ? { steps: [...spec.steps] } : {}) },
        stepStartedMs: this.#clock.now(), base: this.#windows.snapshot(deployment, baseline.version), cand: this.#windows.snapshot(deployment, candidate.version),
      };
      if (spec.strategy === 'shadow') s.status.shadow = { sample: spec.shadow.sample, copies: 0, dropped: 0, failed: 0, compared: 0, agreed: 0, ...(spec.shadow.agreement !== undefined ? { target: spec.shadow.agreement } : {}) };
      this.#takeUp(s, spec, this.#resume?.(deployment));
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
    const c = this.#compare(s, deployment, spec);
    this.#checked(s, { step: 0, weight: st.weight, ...Rollouts.#figures(c), action: 'hold' }, `${c.fail.verdict}|${c.slow.verdict}|${Math.floor(this.#clock.now() / 10_000)}`);
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
    const preview = { kind: 'split', weight: 0, preview: true } as const;
    if (st.paused) return st.state === 'switched' ? { kind: 'split', weight: 100, current: 'candidate' } : preview;
    // Preview traffic is sparse: a bake decides on fewer answers than a canary step.
    const minSamples = Math.min(spec.analysis.minSamples, 20);
    if (st.state === 'baking') {
      const { c, failed } = this.#blueGreenFailures(s, deployment, spec, minSamples);
      st.check = { step: -1, weight: 0, ...Rollouts.#figures(c), action: failed ? 'rollback' : 'hold', at: this.#clock.date().toISOString() };
      if (failed) {
        this.#record(st, { step: -1, weight: 0, ...Rollouts.#figures(c), action: 'rollback' });
        st.state = 'rolled_back';
        st.reason = `blue-green rolled back during bake: failures of preview requests: ${failed}`;
        return { kind: 'rolled_back', reason: st.reason };
      }
      if (now - s.stepStartedMs < spec.bake) return preview;
      // A bake with too few preview answers to judge ends on its time (the errors gate goes
      // on judging after the switch), unless the spec says an undecided bake rolls back.
      if (spec.bake > 0 && c.fail.verdict !== 'pass' && spec.analysis.onInconclusive === 'rollback') {
        this.#record(st, { step: -1, weight: 0, ...Rollouts.#figures(c), action: 'rollback' });
        st.state = 'rolled_back';
        st.reason = `blue-green rolled back at the end of its bake: the preview requests could not be judged and onInconclusive is rollback: ${c.fail.reason}`;
        return { kind: 'rolled_back', reason: st.reason };
      }
      // The switch is the promotion: webhook gates first.
      const hook = this.#hooks(s, deployment, spec, 'promotion', c);
      if (hook === 'pending') return preview;
      if (hook !== 'pass') {
        st.state = 'rolled_back';
        st.reason = `blue-green rolled back before the switch: ${hook.failed}`;
        return { kind: 'rolled_back', reason: st.reason };
      }
      st.state = 'switched';
      st.weight = 100;
      s.stepStartedMs = now;
      st.stepStartedAt = this.#clock.date().toISOString();
      this.#record(st, { step: 0, weight: 100, ...Rollouts.#figures(c), action: 'next' });
    }
    // switched: all traffic to the candidate; the old group stays warm for an instant rollback,
    // and the errors gate judges the new version's live answers against the old one's before
    // the switch: a failure switches back at once.
    if (st.state === 'switched') {
      const { c, failed } = this.#blueGreenFailures(s, deployment, spec, minSamples);
      st.check = { step: 0, weight: 100, ...Rollouts.#figures(c), action: failed ? 'rollback' : 'hold', at: this.#clock.date().toISOString() };
      if (failed) {
        this.#record(st, { step: 0, weight: 100, ...Rollouts.#figures(c), action: 'rollback' });
        st.state = 'rolled_back';
        st.reason = `blue-green rolled back after the switch (the old group was still warm): failures: ${failed}`;
        return { kind: 'rolled_back', reason: st.reason };
      }
    }
    if (now - s.stepStartedMs >= spec.keepOld) {
      st.state = 'promoted';
      return { kind: 'promoted' };
    }
    return { kind: 'split', weight: 100, current: 'candidate' };
  }

  /**
   * A blue-green's failure check: the new version against the old one's answers since the
   * bake began; while the old one has too few of those to compare with (no traffic before
   * the switch), against an absolute limit (BLUE_GREEN_FAILURE_LIMIT), so that a version
   * failing most of its answers is not kept for want of a baseline.
   */
  #blueGreenFailures(s: State, deployment: string, spec: RolloutSpec, minSamples: number): { c: Comparison; failed?: string } {
    const c = this.#compare(s, deployment, spec, minSamples);
    if (c.fail.verdict === 'fail') return { c, failed: c.fail.reason };
    if (c.fail.verdict === 'inconclusive' && c.fail.samples.baseline.n < minSamples) {
      const alone = checkRate(c.fail.samples.candidate, BLUE_GREEN_FAILURE_LIMIT, { alpha: spec.analysis.alpha, minSamples, what: 'failed answers' });
      if (alone.verdict === 'fail') return { c, failed: `${alone.reason} (the old version has too few answers to compare with: ${c.fail.samples.baseline.n})` };
    }
    return { c };
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
   * The step so far, candidate against baseline: failures, the shares of answers slower
   * than the baseline's p99 and median, and how far the predictions moved. A new replica's
   * first answers are often slower (caches, connections): the candidate may have up to
   * LATENCY_TOLERANCE more slow answers before that fails it.
   */
  #compare(s: State, deployment: string, spec: RolloutSpec, minSamples = spec.analysis.minSamples): Comparison {
    const base = this.#windows.since(deployment, s.status.baseline.version, s.base);
    const cand = this.#windows.since(deployment, s.status.candidate.version, s.cand);
    const opts = { alpha: spec.analysis.alpha, minSamples };
    const slowShare = (q: number) => {
      const bound = quantile(base, q);
      return {
        bound,
        cmp: compareRates(
          { n: base.answers, bad: bound === undefined ? 0 : countAbove(base, bound) },
          { n: cand.answers, bad: bound === undefined ? 0 : countAbove(cand, bound) },
          { ...opts, tolerance: LATENCY_TOLERANCE, margin: LATENCY_TOLERANCE },
        ),
      };
    };
    const p99 = slowShare(0.99);
    const p50 = slowShare(0.5);
    const max = spec.analysis.maxShift;
    const d = outputShift(base.predictions, cand.predictions);
    const rows: [number, number] = d?.rows ?? [0, 0];
    const shift: ShiftVerdict = d === undefined || rows[0] < minSamples || rows[1] < minSamples
      ? { verdict: 'inconclusive', ...(d ? { score: d.score } : {}), max, rows, reason: `too little data (${Math.min(...rows)} of ${minSamples} predictions needed per version)${d ? `: distance ${d.score.toFixed(3)}` : ''}` }
      : { verdict: d.score > max ? 'fail' : 'pass', score: d.score, max, rows, reason: `Jensen–Shannon distance of the predictions ${d.score.toFixed(3)} ${d.score > max ? '>' : '≤'} ${max} (baseline ${rows[0]}, candidate ${rows[1]} predictions)` };
    // Failures may fail a step before minSamples: the test is always valid, and a candidate
    // failing most of its answers should not be fed more callers until it has failed 100 of them.
    // A pass still needs minSamples.
    let fail = compareRates(failures(base), failures(cand), opts);
    if (fail.verdict === 'inconclusive' && minSamples > EARLY_FAIL_SAMPLES) {
      const early = compareRates(failures(base), failures(cand), { ...opts, minSamples: EARLY_FAIL_SAMPLES });
      if (early.verdict === 'fail') fail = early;
    }
    return {
      fail, slow: p99.cmp, slow50: p50.cmp, shift, p99: p99.bound, p50: p50.bound,
      slo: this.#sloGate(deployment, cand, spec, minSamples),
      accuracy: compareRates({ n: base.labelled, bad: base.wrong }, { n: cand.labelled, bad: cand.wrong }, opts),
      drift: this.#driftGate(deployment),
    };
  }

  /**
   * The slo gate, a guard: the candidate fails once its bad-event share is surely over
   * maxBurn × the SLO's budget; with minSamples answers and no SLO surely over, it passes
   * (an objective such as 99.9% would need many thousands of answers to be shown met).
   */
  #sloGate(deployment: string, cand: VariantCounts, spec: RolloutSpec, minSamples: number): SloGateVerdict {
    const slos = (this.#slos?.(deployment) ?? []).filter((s) => s.kind !== 'accuracy');
    if (slos.length === 0) return { verdict: 'inconclusive', slos: [], reason: 'the deployment declares no availability or latency SLO (deployments.<name>.slos)' };
    const checks = slos.map((s) => {
      const limit = Math.min(1, spec.analysis.maxBurn * (1 - s.objective / 100));
      const sample = s.kind === 'availability' ? failures(cand) : { n: cand.answers - cand.errors, bad: countAbove(cand, s.threshold!) };
      return { name: s.name, kind: s.kind, limit, ...checkRate(sample, limit, { alpha: spec.analysis.alpha, minSamples, what: s.kind === 'availability' ? 'bad answers' : `answers over ${s.threshold} ms` }) };
    });
    const failed = checks.find((c) => c.verdict === 'fail');
    if (failed) return { verdict: 'fail', slos: checks, reason: `the ${failed.name} SLO: ${failed.reason}` };
    if (cand.answers < minSamples) return { verdict: 'inconclusive', slos: checks, reason: `too little data (${cand.answers} of ${minSamples} answers)` };
    return { verdict: 'pass', slos: checks, reason: `no SLO surely burnt faster than ${spec.analysis.maxBurn}× its budget: ${checks.map((c) => `${c.name} ${c.reason}`).join('; ')}` };
  }

  #driftGate(deployment: string): { verdict: Verdict; reason: string } {
    const d = this.#drift?.(deployment);
    if (!d) return { verdict: 'inconclusive', reason: 'no drift check has judged the live inputs yet (deployments.<name>.drift)' };
    if (d.drifted) return { verdict: 'inconclusive', reason: `the live inputs drifted from the reference (check at ${d.at}: ${d.features.join(', ')}): held, not promoted on unrepresentative traffic` };
    return { verdict: 'pass', reason: `no drift in the latest check (${d.at})` };
  }

  /** The gates the spec names: the first that failed (with why), or whether all passed. */
  static #gates(c: Comparison, spec: RolloutSpec): { failed?: string; passed: boolean } {
    const named = {
      errors: { v: c.fail.verdict, why: () => `failures: ${c.fail.reason}` },
      latency: { v: c.slow.verdict, why: () => `answers slower than the baseline's p99 (${c.p99?.toFixed(2)} ms): ${c.slow.reason}` },
      latencyP50: { v: c.slow50.verdict, why: () => `answers slower than the baseline's median (${c.p50?.toFixed(2)} ms): ${c.slow50.reason}` },
      outputShift: { v: c.shift.verdict, why: () => `predictions moved: ${c.shift.reason}` },
      slo: { v: c.slo.verdict, why: () => `SLO burn: ${c.slo.reason}` },
      accuracy: { v: c.accuracy.verdict, why: () => `wrong labelled predictions: ${c.accuracy.reason}` },
      drift: { v: c.drift.verdict, why: () => `drift: ${c.drift.reason}` },
    };
    const gates = spec.analysis.gates.map((g) => named[g]);
    const failed = gates.find((g) => g.v === 'fail');
    if (failed) return { failed: failed.why(), passed: false };
    return { passed: gates.every((g) => g.v === 'pass') };
  }

  static #figures(c: Comparison): Pick<StepVerdict, 'failures' | 'latency' | 'latencyP50' | 'outputShift' | 'slo' | 'accuracy' | 'drift'> {
    return { failures: c.fail, latency: c.slow, latencyP50: c.slow50, outputShift: c.shift, slo: c.slo, accuracy: c.accuracy, drift: c.drift };
  }

  #record(st: RolloutStatus, v: Omit<StepVerdict, 'at'>): void {
    st.verdicts.push({ ...v, at: this.#clock.date().toISOString() } as StepVerdict);
    if (st.verdicts.length > 200) st.verdicts.splice(0, st.verdicts.length - 200);
  }

  /** The newest analysis becomes `check`; it joins the history when `key` (its verdicts) changed, or it acted. */
  #checked(s: State, v: Omit<StepVerdict, 'at'>, key: string): void {
    s.status.check = { ...v, at: this.#clock.date().toISOString() } as StepVerdict;
    if (key !== s.lastKey || v.action !== 'hold') {
      this.#record(s.status, v);
      s.lastKey = key;
    }
  }

  /**
   * The webhook gates before a transition ('step': a next canary step; 'promotion'): 'pass'
   * when there are none or all answered 2xx, 'pending' while any has not answered, or why
   * one failed. Each is called once per transition; its answer is recorded as a verdict.
   */
  #hooks(s: State, deployment: string, spec: RolloutSpec, before: 'step' | 'promotion', c: Comparison): 'pass' | 'pending' | { failed: string } {
    const hooks = spec.webhooks.filter((h) => before === 'promotion' || h.before === 'step');
    const st = s.status;
    if (hooks.length === 0) return 'pass';
    const key = `${before}:${st.step}:${st.state}`;
    if (s.hooks?.key !== key) {
      const call = { key, pending: hooks.length, done: false } as NonNullable<State['hooks']>;
      s.hooks = call;
      const next = before === 'promotion' ? 100 : spec.steps[st.step + 1];
      const body = JSON.stringify({
        deployment, strategy: st.strategy, before, baseline: st.baseline, candidate: st.candidate,
        // The step's index in rollout.steps (0 first), as the rollout's status and verdicts give it.
        step: st.step, weight: st.weight, next, state: st.state,
        analysis: { failures: c.fail, latency: c.slow, latencyP50: c.slow50, outputShift: c.shift, ...(st.shadow ? { shadow: st.shadow } : {}) },
      });
      for (const h of hooks) {
        const t0 = this.#clock.now();
        const answered = (verdict: 'pass' | 'fail', detail: string | undefined, status?: number) => {
          if (s.hooks !== call) return; // a later transition (or an abort) replaced it
          this.#record(st, { step: st.step, weight: st.weight, ...Rollouts.#figures(c), webhook: { url: h.url, before: h.before, verdict, ...(status !== undefined ? { status } : {}), ms: this.#clock.now() - t0, ...(detail ? { detail } : {}) }, action: 'hold' });
          call.pending--;
          if (verdict === 'fail' && call.failed === undefined) call.failed = `webhook gate ${h.url} ${detail ?? 'failed'}`;
          if (call.pending === 0) call.done = true;
        };
        this.#fetch(h.url, { method: 'POST', headers: { ...h.headers, 'content-type': 'application/json' }, body, signal: AbortSignal.timeout(h.timeout) })
          .then(async (res) => {
            const text = (await res.text().catch(() => '')).slice(0, 200);
            answered(res.ok ? 'pass' : 'fail', res.ok ? text || undefined : `answered ${res.status}${text ? `: ${text}` : ''}`, res.status);
          }, (err: unknown) => {
            const name = err instanceof Error ? err.name : '';
            answered('fail', name === 'TimeoutError' || name === 'AbortError' ? `did not answer within ${h.timeout} ms` : `could not be called: ${err instanceof Error ? (err.cause instanceof Error ? err.cause.message : err.message) : String(err)}`);
          });
      }
      this.#logger?.info({ deployment, before, hooks: hooks.map((h) => h.url) }, 'rollout webhook gates called');
    }
    const call = s.hooks;
    if (call.failed !== undefined) {
      delete st.waitingFor;
      return { failed: call.failed };
    }
    if (!call.done) {
      st.waitingFor = `webhook gate${hooks.length > 1 ? 's' : ''} ${hooks.map((h) => h.url).join(', ')}`;
      return 'pending';
    }
    delete st.waitingFor;
    return 'pass';
  }

  /**
   * shadow: the baseline answers everything; copies go to the candidate. Failed gates roll
   * back; with `shadow.agreement`, it promotes once the agreeing share is surely at least
   * that (after `interval`) and rolls back once it is surely below; otherwise it waits for
   * `aloft rollout promote`.
   */
  #shadow(deployment: string, spec: RolloutSpec, baseline: { version: number; group: string }, candidate: { version: number; group: string }, ready: boolean, generation: object): RolloutDecision {
    const s = this.#state(deployment, spec, baseline, candidate, generation);
    const st = s.status;
    const ended = Rollouts.#ended(st);
    if (ended) return ended;
    const counts = this.#shadows;
    if (st.state === 'warming') {
      if (!ready || st.paused) return { kind: 'warming' };
      this.#enter(s, deployment, spec, -1);
      st.state = 'shadowing';
      s.shadow = counts?.snapshot(deployment, candidate.version);
    }
    const t = counts && s.shadow ? counts.since(deployment, candidate.version, s.shadow) : { copies: 0, dropped: 0, failed: 0, compared: 0, agreed: 0, absDiff: 0, nonFinite: 0 };
    const finite = t.compared - t.nonFinite;
    const target = spec.shadow.agreement;
    const agreement: AgreementVerdict = {
      ...checkRate({ n: t.compared, bad: t.compared - t.agreed }, target === undefined ? 1 : 1 - target, { alpha: spec.analysis.alpha, minSamples: spec.analysis.minSamples, what: 'disagreement' }),
      compared: t.compared, agreed: t.agreed, ...(target !== undefined ? { target } : {}), ...(finite > 0 ? { meanAbsDiff: t.absDiff / finite } : {}),
    };
    st.shadow = {
      sample: spec.shadow.sample, copies: t.copies, dropped: t.dropped, failed: t.failed, compared: t.compared, agreed: t.agreed,
      ...(t.compared > 0 ? { agreement: t.agreed / t.compared } : {}), ...(finite > 0 ? { meanAbsDiff: t.absDiff / finite } : {}), ...(t.nonFinite > 0 ? { nonFinite: t.nonFinite } : {}), ...(target !== undefined ? { target } : {}),
    };
    if (st.paused) return { kind: 'shadow' };
    const c = this.#compare(s, deployment, spec);
    // Copies are sent open-loop (up to shadow.queue at once) and timed from their sending,
    // the primary's answers from their arrival under the callers' own concurrency: the two
    // latencies are not comparable, so a shadow reports the candidate's latency and gates
    // on the rest.
    const gates = Rollouts.#gates(c, { ...spec, analysis: { ...spec.analysis, gates: spec.analysis.gates.filter((g) => g !== 'latency' && g !== 'latencyP50') } });
    const elapsed = this.#clock.now() - s.stepStartedMs;
    let action: StepVerdict['action'] = 'hold';
    let reason: string | undefined;
    if (gates.failed !== undefined) {
      action = 'rollback';
      reason = gates.failed;
    } else if (target !== undefined && agreement.verdict === 'fail') {
      action = 'rollback';
      reason = `agreement with the baseline below ${(target * 100).toFixed(1)}%: ${agreement.reason}`;
    } else if (target !== undefined && elapsed >= spec.interval) {
      if (gates.passed && agreement.verdict === 'pass') action = 'promote';
      else if (spec.analysis.onInconclusive === 'promote') action = 'promote';
      else if (spec.analysis.onInconclusive === 'rollback') { action = 'rollback'; reason = `inconclusive after its interval and onInconclusive is rollback: ${agreement.reason}`; }
      else if (elapsed >= spec.analysis.maxDuration) { action = 'rollback'; reason = `inconclusive for ${Math.round(spec.analysis.maxDuration / 1000)} s (analysis.maxDuration): ${agreement.reason}`; }
    }
    if (action === 'promote') {
      const hook = this.#hooks(s, deployment, spec, 'promotion', c);
      if (hook === 'pending') action = 'hold';
      else if (hook !== 'pass') { action = 'rollback'; reason = hook.failed; }
    }
    this.#checked(s, { step: 0, weight: 0, ...Rollouts.#figures(c), agreement, action }, `${action}|${c.fail.verdict}|${c.slow.verdict}|${agreement.verdict}|${Math.floor(this.#clock.now() / 10_000)}`);
    if (action === 'rollback') {
      st.state = 'rolled_back';
      st.reason = `shadow rolled back: ${reason}`;
      return { kind: 'rolled_back', reason: st.reason };
    }
    if (action === 'promote') {
      st.state = 'promoted';
      st.weight = 100;
      return { kind: 'promoted' };
    }
    return { kind: 'shadow' };
  }

  /** A rollout that has ended answers the same from then on. */
  static #ended(st: RolloutStatus): RolloutDecision | undefined {
    if (st.state === 'promoted') return { kind: 'promoted' };
    if (st.state === 'rolled_back') return { kind: 'rolled_back', reason: st.reason ?? 'rolled back' };
    return undefined;
  }

  #check(s: State, deployment: string, spec: RolloutSpec): RolloutDecision {
    const st = s.status;
    const c = this.#compare(s, deployment, spec);
    const gates = Rollouts.#gates(c, spec);
    const elapsed = this.#clock.now() - s.stepStartedMs;
    let action: StepVerdict['action'] = 'hold';
    let reason: string | undefined;
    if (gates.failed !== undefined) {
      action = 'rollback';
      reason = `step ${st.step + 1} (${st.weight}%): ${gates.failed}`;
    } else if (elapsed >= spec.interval) {
      if (gates.passed || spec.analysis.onInconclusive === 'promote') action = 'next';
      else if (spec.analysis.onInconclusive === 'rollback') {
        action = 'rollback';
        reason = `step ${st.step + 1} (${st.weight}%) was inconclusive after its interval and onInconclusive is rollback: ${c.fail.reason}`;
      } else if (elapsed >= spec.analysis.maxDuration) {
        action = 'rollback';
        reason = `step ${st.step + 1} (${st.weight}%) stayed inconclusive for ${Math.round(spec.analysis.maxDuration / 1000)} s (analysis.maxDuration): ${c.fail.reason}`;
      }
    }
    if (action === 'next') {
      // Webhook gates before the next step (or the promotion): hold until they answer.
      const hook = this.#hooks(s, deployment, spec, st.step + 1 >= spec.steps.length || spec.steps[st.step + 1]! >= 100 ? 'promotion' : 'step', c);
      if (hook === 'pending') action = 'hold';
      else if (hook !== 'pass') {
        action = 'rollback';
        reason = `step ${st.step + 1} (${st.weight}%): ${hook.failed}`;
      }
    }
    this.#checked(s, { step: st.step, weight: st.weight, ...Rollouts.#figures(c), action }, `${action}|${c.fail.verdict}|${c.slow.verdict}|${c.shift.verdict}`);
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
