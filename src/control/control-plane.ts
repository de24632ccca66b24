/**
 * The live control plane: plan, apply, rollback and the revision history of a running
 * Aloft. The desired state is the latest applied revision (the spec as applied plus the
 * exact model versions it resolved to, by hash); the deployments reconciler converges what
 * runs and what is routed to it, and this module records what happened.
 *
 * An apply, step by step (each step survives a crash: see `start`):
 *   1. refused unless it was planned against the newest revision, and while another apply
 *      is converging (ALOFT_REVISION_CONFLICT); refused when it touches a setting that
 *      cannot change live (ALOFT_NEEDS_RESTART);
 *   2. new model files are registered as versions (content-addressed, idempotent);
 *   3. revision base+1 is inserted as `applying`, with its `spec.applied` audit entry, in
 *      one transaction: the revision number is the primary key, so of two applies planned
 *      against the same revision exactly one lands;
 *   4. the desired state becomes the new revision and the reconciler is woken: new replica
 *      groups start beside the old ones, routes switch once they are warm, old groups drain
 *      and stop; live settings (public, limits, auth) take effect at once;
 *   5. when a pass reports convergence, the revision is `applied` (a rollback's target
 *      before it becomes `rolled_back`); a replica that fails terminally, or no convergence
 *      within the apply timeout, makes it `failed` with the reason and the desired state
 *      returns to the previous revision, which never stopped serving.
 *
 * On start (`start`): a revision still `applying` was interrupted by a crash; it is
 * recorded `failed` (interrupted), and the system converges to one revision: the spec
 * file's, recorded as a new revision when it differs from the newest applied one. When
 * the file moves a deployment that declares a rollout (canary, blue-green, shadow, A/B)
 * to a new version, the newest applied revision runs first and the file lands as an
 * apply once it has converged: a restart in the middle of a canary resumes it from the
 * first step (its analysis starts over) rather than giving the new version all traffic.
 */
import { checkReferences } from '../monitor/reference.js';
import { existsSync, statSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { relative } from 'node:path';
import type { Clock, Timer } from '../clock.js';
import { fail, isAloftError } from '../errors.js';
import { failpoint } from '../failpoints.js';
import type { Logger } from '../log.js';
import { readSignature } from '../onnx/signature.js';
import type { ModelVersion, Registry } from '../registry/registry.js';
import type { ModelSignature } from '../runtime/tensor.js';
import { SYSTEM_ACTOR, type AuditActor, type AuditLog } from '../security/audit.js';
import { specError, validateSpecText } from '../spec/load.js';
import { formatModelRef } from '../spec/modelref.js';
import type { DeploymentSpec, LoadedSpec } from '../spec/types.js';
import { atomically, type Store } from '../store/db.js';
import { RevisionRepository, type RevisionKind, type RevisionRecord, type RevisionSummary } from '../store/revisions.js';
import type { Lease } from '../store/leases.js';
import type { ResolvedDeployment } from './groups.js';
import { canonicalSpec, makePlan, type CanonicalSpec, type Plan, type PlannedModel, type TargetDeployment } from './plan.js';
import type { PassReport } from './reconcilers/deployments.js';
import type { Decision, Evaluation } from './autoscaler.js';
import { hourlyCost } from '../cost/prices.js';
import { ratesOf, reservationOf } from '../cost/report.js';
import { groupKey, replicasSharingCores, runningThreads } from './groups.js';
import type { RolloutStatus } from './rollouts.js';
import type { ReplicaGroup } from './orchestrators/types.js';

/** A model file as the client that read it describes it. */
export interface ModelFile {
  sha256: string;
  sizeBytes: number;
  /** Read by the client from the file, for the plan of a version not uploaded yet. */
  signature?: ModelSignature;
}

/** A spec sent to the running system (POST /api/v1/plan, /apply). */
export interface SpecSubmission {
  /** The YAML as written (secrets as ${env:}/${file:} references). */
  spec: string;
  /** Its file name, for messages (`aloft.yaml:7:5 …`). */
  file: string;
  /** Per model of the spec: its file's content hash (the CLI reads the files). */
  models?: Record<string, ModelFile>;
}

/** The state the reconcilers converge to. */
export interface DesiredState {
  /** The revision it comes from; 0 before the first. */
  revision: number;
  loaded: LoadedSpec;
  deployments: ResolvedDeployment[];
}

export interface Author {
  actor: AuditActor;
  /** Where the change came from: an IP, or 'system'. */
  source: string;
}

export interface ApplyResult {
  /** The revision recorded, or the current one when nothing changed (null for a dry run). */
  revision: number | null;
  changed: boolean;
  plan: Plan;
  /** A rollback: the revision it restores (or would, for a dry run). */
  restores?: number;
  /** A dry run: nothing was recorded or changed. */
  dryRun?: boolean;
}

export interface ControlStatus {
  /** The revision the system runs (newest applied). */
  current: RevisionSummary | null;
  /** A revision being applied now. */
  applying: RevisionSummary | null;
  /** What runs and is routed matches the desired revision. */
  converged: boolean;
  /** The revision this gateway runs (it differs from `current` while it converges to one another gateway applied). */
  running: number | null;
  /** Several gateways share the state database: the others serving it now (each follows the revisions any of them applies). */
  peers?: number;
  /** A newer applied revision this gateway cannot run, and why (it keeps serving `running`). */
  behind?: { revision: number; reason: string };
  deployments: PassReport['deployments'];
  /** Deployments with a replica range: the autoscaler's last evaluation and last change. */
  autoscaling: AutoscalingStatus[];
}

export interface AutoscalingStatus {
  deployment: string;
  min: number;
  max: number;
  metric: 'concurrency' | 'rows';
  target: number;
  /** The last evaluation (every second). */
  last?: Evaluation;
  /** The last change of the count. */
  lastDecision?: Decision;
}

export interface ControlPlaneOptions {
  store: Store;
  registry: Registry;
  audit: Pick<AuditLog, 'append'>;
  clock: Clock;
  logger: Logger;
  /** The folder relative paths of submitted specs resolve in (the started spec's). */
  dir: string;
  /** Wake the deployments reconciler. */
  enqueue(): void;
  /** Requests a deployment answered in the last five minutes. */
  recentRequests(deployment: string): number;
  /** The replicas a deployment ran on average recently (cost meters), for `plan`'s expected cost of a range. */
  recentReplicas?(deployment: string): { average: number; hours: number } | undefined;
  /** The replica group running under a key (the deployments reconciler's), so cost lines price running replicas at the threads they run. */
  runningGroup?(key: string): ReplicaGroup | undefined;
  /** Give up on an apply that has not converged after this long. Default 5 min. */
  applyTimeoutMs?: number;
  /** Told whenever the desired state changes (live settings read it). */
  onDesired?(d: DesiredState): void;
  /** The canary rollouts' state (control/rollouts.ts), for the audit trail. */
  rollouts?(): RolloutStatus[];
  /** Where the gateway listens (after `--host`/`--port` overrides), set once it does. */
  listening?(): { host: string; port: number } | undefined;
  /** The autoscaler's view of each deployment with a range. */
  autoscaling?(): AutoscalingStatus[];
  /** Cores of this machine, for the default vCPU reservation in plan's cost lines. */
  cores?: number;
  /**
   * Several processes share the state database (PostgreSQL): each follows the revisions the
   * others apply, one applies at a time (the lease), and one that starts while others serve
   * joins what they run instead of applying its own file over it.
   */
  shared?: SharedState;
}

export interface SharedState {
  /** Held by the process applying a revision, renewed while it converges. */
  applyLease: Lease;
  /** How many other processes serve this database now. */
  peers(): Promise<number>;
}

/** The longest a rollout runs by its own bounds before it decides (an undecided step waits up to analysis.maxDuration); Infinity for an A/B test, which ends by hand. */
export function rolloutBoundMs(r: DeploymentSpec['rollout']): number {
  const step = Math.max(r.interval, r.analysis.maxDuration);
  switch (r.strategy) {
    case 'canary': return r.steps.filter((w) => w < 100).length * step;
    case 'blueGreen': return Math.max(r.bake, r.analysis.maxDuration) + r.keepOld;
    case 'shadow': return step;
    case 'abTest': return Infinity;
    default: return 0;
  }
}

/** The reason of a revision that ran and was then undone by a rollback (its outcome becomes rolled_back too). */
const UNDONE_BY = 'rolled back by revision ';

/** The apply lease lasts this long unless renewed (every follow pass renews it, every 2 s). */
export const APPLY_LEASE_MS = 30_000;

interface Prepared {
  loaded: LoadedSpec;
  specText: string;
  file: string;
  canonical: CanonicalSpec;
  models: PlannedModel[];
  targets: TargetDeployment[];
  /** Pinned versions (a rollback): resolve by these, never by files or aliases. */
  pinned?: RevisionRecord;
}

interface Tracking {
  revision: number;
  kind: RevisionKind;
  rollbackOf: number | null;
  /** The state to go back to if this one fails. */
  previous: DesiredState | undefined;
  timer: Timer;
  waiters: { resolve(r: RevisionRecord): void }[];
  /** The outcome is being recorded. */
  finishing?: boolean;
}

export class ControlPlane {
  readonly #o: ControlPlaneOptions;
  readonly #revisions: RevisionRepository;
  #desired: DesiredState | undefined;
  #last: PassReport | undefined;
  #tracking: Tracking | undefined;
  /** Serializes the recording steps of applies in this process (the database serializes across processes). */
  #lock: Promise<unknown> = Promise.resolve();
  /** Promotions already in the audit trail. */
  readonly #audited = new Set<string>();
  /**
   * A start whose spec file moves a deployment that declares a rollout to a new version:
   * the revision that ran before converges first, then this lands as an apply, so the new
   * version rolls out as declared instead of starting cold with all the traffic.
   */
  #deferred: { prepared: Prepared; message: string; from: number; base: number; timer: Timer } | undefined;
  /** A newer applied revision this process could not open (shared state), and why; retried when another lands. */
  #behind: { revision: number; reason: string } | undefined;
  /** Other processes serving the shared database at the last look. */
  #peers: number | undefined;
  /** The spec this process started with (canonical): with shared revisions, its restart-only settings are its own. */
  #local: CanonicalSpec | undefined;

  constructor(o: ControlPlaneOptions) {
    this.#o = o;
    this.#revisions = new RevisionRepository(o.store, { now: () => o.clock.date() });
  }

  get revisions(): RevisionRepository {
    return this.#revisions;
  }

  /** What the reconcilers converge to. Throws before `start`. */
  get desired(): DesiredState {
    if (!this.#desired) throw new Error('the control plane has not started');
    return this.#desired;
  }

  /** The deployments to converge to (the deployments reconciler's `desired`). */
  deployments(): readonly ResolvedDeployment[] {
    return this.#desired?.deployments ?? [];
  }

  /**
   * Bring the system up from a spec file: finish what a crash interrupted, then make the
   * file's spec the desired state, recording it as a new revision when it differs from the
   * newest applied one (nothing is recorded when it does not). Returns the revision run.
   */
  async start(loaded: LoadedSpec, specText: string): Promise<{ revision: number; recorded: boolean; joined?: boolean; held?: string; plan: Plan }> {
    return this.#exclusive(async () => {
      const current = await this.#revisions.current();
      const shared = this.#o.shared;
      // With a shared database, a revision another live process is applying is its to finish.
      const applier = shared ? await shared.applyLease.current() : undefined;
      for (const r of applier ? [] : await this.#revisions.applying()) {
        await this.#revisions.finish(r.number, 'failed', `interrupted: aloft stopped before revision ${r.number} finished converging, so it is not what runs; the next start ran the spec file (revision ${current ? `${current.number}, or a new one if the file differs` : '1'})`);
        this.#o.logger.warn({ revision: r.number }, 'an apply was interrupted by a stop; recorded as failed');
      }
      const files: Record<string, ModelFile> = {};
      for (const [name, m] of Object.entries(loaded.spec.models)) {
        const stored = await this.#o.registry.artifacts.put(m.path).catch((err: unknown) => {
          throw fail('ALOFT_MODEL_INVALID', `cannot read model file ${m.path} for '${name}': ${(err as Error).message}. Check the path (relative to the spec file) and its permissions.`, { cause: err });
        });
        files[name] = { sha256: stored.sha256, sizeBytes: stored.size };
      }
      const prepared = await this.#prepare({ loaded, specText, file: loaded.file }, files);
      this.#local = prepared.canonical;
      const latest = await this.#revisions.latest();
      // The recorded revision may name secrets this environment no longer has (a retired
      // key): the file's spec then starts as a new revision, diffed against nothing.
      this.#peers = shared ? await shared.peers() : undefined;
      const before = current ? await this.#stateOf(current).catch((err: unknown) => {
        // Others run it: this gateway cannot replace what they serve with its own file.
        if ((this.#peers ?? 0) > 0) {
          throw fail('ALOFT_USAGE', `revision ${current.number}, the newest applied on this database, cannot be opened here: ${this.#cannotOpen(current, err)}; this gateway will not replace it with its own file while others serve. Fix that and start again`, { cause: err });
        }
        this.#o.logger.warn({ revision: current.number, err: (err as Error).message }, 'the current revision cannot be read back in this environment; starting the spec file as a new revision');
        return undefined;
      }) : undefined;
      const plan = this.#plan(prepared, latest?.number ?? 0, current ?? undefined, before);
      if (current && before && !plan.changes) {
        this.#setDesired({ ...before, loaded });
        return { revision: current.number, recorded: false, plan };
      }
      // Other gateways serve this database: the desired state is theirs too. This one joins
      // what they run; its file, if it differs, goes in through 'aloft apply' like any change.
      if (current && before && (this.#peers ?? 0) > 0) {
        this.#o.logger.warn({ revision: current.number, peers: this.#peers, changes: plan.changes }, `${this.#peers} other gateway${this.#peers === 1 ? ' serves' : 's serve'} this database: joining revision ${current.number}, which they run; this spec file differs from it and was not applied (run 'aloft plan -f ${relative(process.cwd(), loaded.file) || loaded.file}' to see how, 'aloft apply' to apply it)`);
        this.#setDesired(before);
        return { revision: current.number, recorded: false, joined: true, plan };
      }
      // A file that moves a deployment to a version rolled back before (by its rollout, or by
      // hand) is not applied by a restart: the file on disk may simply not have been updated
      // after the rollback. It stays for 'aloft apply' to try again, said at start.
      if (current && before && plan.changes) {
        const held = await this.#rolledBackTargets(prepared.targets, current);
        if (held.length > 0) {
          const notice = `${held.join('; ')}: this file was not applied at start, and revision ${current.number} runs. Run 'aloft apply' to try that version again, or change the file`;
          this.#o.logger.warn({ revision: current.number }, notice);
          this.#setDesired({ ...before, loaded });
          return { revision: current.number, recorded: false, held: notice, plan };
        }
      }
      const rolling = current && before && plan.restart.length === 0 && plan.refused.length === 0 ? plan.deployments.filter((d) => d.action === 'change' && d.rollout !== undefined) : [];
      if (current && before && rolling.length > 0) {
        const names = rolling.map((d) => `'${d.name}' (${d.from!.model}@${d.from!.version} → ${d.to!.model}@${d.to!.version}, ${d.rollout!.strategy})`).join(', ');
        this.#o.logger.info({ revision: current.number, deployments: rolling.map((d) => d.name) }, `the spec file moves ${names} to a new version under a rollout: serving revision ${current.number} first, then applying the file so the rollout runs as declared`);
        this.#deferred = {
          prepared, message: `aloft up -f ${relative(process.cwd(), loaded.file) || loaded.file}: rolled out from revision ${current.number}`, from: current.number,
          // The newest revision when held (an interrupted one may be newer than what runs): anything after it is newer than the file.
          base: latest?.number ?? 0,
          timer: this.#o.clock.setTimeout(() => this.#applyDeferred('timeout'), this.#o.applyTimeoutMs ?? 300_000),
        };
        this.#setDesired(before);
        return { revision: current.number, recorded: false, plan };
      }
      await this.#takeApplyLease();
      const number = await this.#record(prepared, plan, latest?.number ?? 0, 'startup', null, { actor: SYSTEM_ACTOR, source: 'system' }, `aloft up -f ${relative(process.cwd(), loaded.file) || loaded.file}`).catch(async (err: unknown) => {
        await this.#releaseApplyLease();
        throw err;
      });
      await this.#converge(number, 'startup', null, prepared, undefined);
      return { revision: number, recorded: true, plan };
    });
  }

  /** What applying `sub` would do. Changes nothing. */
  async plan(sub: SpecSubmission): Promise<Plan> {
    // Several gateways: plan against the newest applied revision, not one this gateway has not followed yet.
    if (this.#o.shared) await this.follow();
    const prepared = await this.#prepareSubmission(sub);
    const [latest, current] = await Promise.all([this.#revisions.latest(), this.#revisions.current()]);
    return this.#plan(prepared, latest?.number ?? 0, current ?? undefined, this.#desired);
  }

  /**
   * Apply `sub` as a new revision, planned against revision `base` (default: the newest).
   * Resolves once the revision is recorded and converging; `wait` resolves when it ends.
   */
  async apply(sub: SpecSubmission, who: Author, opts: { base?: number; message?: string } = {}): Promise<ApplyResult> {
    return this.#exclusive(async () => {
      const latest = await this.#checkBase(opts.base);
      const prepared = await this.#prepareSubmission(sub, true);
      return this.#applyPrepared(prepared, latest, 'apply', null, who, opts.message ?? '');
    });
  }

  /** Restore revision `to` (default: the applied one before the current) exactly, by model hash, as a new revision. */
  async rollback(who: Author, opts: { to?: number; base?: number; message?: string; dryRun?: boolean } = {}): Promise<ApplyResult> {
    if (opts.dryRun && this.#o.shared) await this.follow();
    return this.#exclusive(async () => {
      const latest = await this.#checkBase(opts.base);
      const current = await this.#revisions.current();
      let target: RevisionRecord | undefined;
      if (opts.to !== undefined) {
        target = await this.#revisions.get(opts.to);
        if (!target) throw fail('ALOFT_REVISION_NOT_FOUND', `there is no revision ${opts.to}; 'aloft revisions list' shows them (newest is ${latest})`);
      } else {
        // The one that ran before: applied, or applied and later undone by a rollback. Not one
        // whose own rollout rolled it back (it never took the traffic: restoring it would
        // restore the version its analysis refused).
        const earlier = (await this.#revisions.list(1000)).find((r) => r.number < (current?.number ?? 0) && (r.outcome === 'applied' || (r.outcome === 'rolled_back' && r.reason?.startsWith(UNDONE_BY) === true)));
        target = earlier && await this.#revisions.get(earlier.number);
        if (!target) throw fail('ALOFT_REVISION_NOT_FOUND', `there is no applied revision before the current one (${current?.number ?? 'none'}) to roll back to; pass --to N`);
      }
      if (target.outcome === 'failed' || target.outcome === 'applying') {
        throw fail('ALOFT_BAD_REQUEST', `revision ${target.number} ${target.outcome === 'failed' ? 'failed' : 'is still being applied'}; it never ran, so there is nothing to restore. Pick an applied revision ('aloft revisions list').`);
      }
      // Rolled back by its own rollout: its analysis refused the version, which never took the
      // traffic. A rollback switches at once with no analysis, so it would put that version at
      // 100% unjudged; applying it again rolls it out with the analysis. (A revision that ran
      // and was undone by a rollback is restorable.)
      if (target.outcome === 'rolled_back' && target.reason?.startsWith(UNDONE_BY) !== true) {
        throw fail('ALOFT_BAD_REQUEST', `revision ${target.number} was rolled back by its own rollout (${(target.reason ?? 'no reason recorded').slice(0, 200)}): its version never took the traffic, and a rollback would switch all of it there at once, without analysis. To try that version again, apply a spec that names it: it rolls out with its analysis. Or pick an applied revision ('aloft revisions list').`);
      }
      const prepared = await this.#prepareRevision(target);
      if (opts.dryRun) {
        const plan = this.#plan(prepared, latest, current ?? undefined, this.#desired);
        return { revision: null, changed: plan.changes, plan, restores: target.number, dryRun: true };
      }
      const r = await this.#applyPrepared(prepared, latest, 'rollback', target.number, who, opts.message ?? `rollback to revision ${target.number}`);
      return { ...r, restores: target.number };
    });
  }

  /**
   * Delete a model version, unless a live revision uses it: the desired one, the newest
   * applied one, or one being applied (an earlier revision may still name it: rolling
   * back to that revision then fails with a clear not-found).
   */
  async deleteVersion(model: string, version: number, who: Author): Promise<void> {
    return this.#exclusive(async () => {
      const users: string[] = [];
      const uses = (deps: readonly { model: string; version: number }[]) => deps.some((d) => d.model === model && d.version === version);
      const current = await this.#revisions.current();
      if (current && uses(current.deployments)) users.push(`revision ${current.number} (current)`);
      for (const r of await this.#revisions.applying()) if (uses(r.deployments)) users.push(`revision ${r.number} (being applied)`);
      if (this.#desired && uses(this.#desired.deployments) && !users.some((u) => u.startsWith(`revision ${this.#desired!.revision} `))) users.push(`revision ${this.#desired.revision} (desired)`);
      if (users.length > 0) {
        const deps = (this.#desired?.deployments ?? []).filter((d) => d.model === model && d.version === version).map((d) => `'${d.name}'`);
        throw fail('ALOFT_VERSION_IN_USE', `${model}@${version} is used by ${users.join(', ')}${deps.length ? ` (deployment ${deps.join(', ')})` : ''}; apply a spec that no longer uses it, then delete it`);
      }
      await this.#o.registry.deleteVersion(model, version, (tx, v) => this.#o.audit.append({ actor: who.actor, action: 'model.version.deleted', target: `${model}@${version}`, source: who.source, before: { sha256: v.sha256, sizeBytes: v.sizeBytes } }, tx));
    });
  }

  /** Remove model files no live version references (see Registry.gc). */
  async gc(who: Author, opts: { dryRun?: boolean } = {}): Promise<{ sha256: string; sizeBytes: number }[]> {
    return this.#exclusive(async () => {
      const removed = await this.#o.registry.gc({ ...opts, now: this.#o.clock.date().getTime() });
      if (removed.length > 0 && !opts.dryRun) {
        await this.#o.audit.append({ actor: who.actor, action: 'artifacts.collected', target: 'artifacts', source: who.source, after: { removed: removed.length, freedBytes: removed.reduce((n, r) => n + r.sizeBytes, 0), sha256: removed.map((r) => r.sha256) } });
      }
      return removed;
    });
  }

  /** Resolves with the revision once its apply has ended (applied or failed). */
  async wait(number: number): Promise<RevisionRecord> {
    const t = this.#tracking;
    if (t && t.revision === number) return new Promise((resolve) => t.waiters.push({ resolve }));
    const r = await this.#revisions.get(number);
    if (!r) throw fail('ALOFT_REVISION_NOT_FOUND', `there is no revision ${number}`);
    return r;
  }

  async status(): Promise<ControlStatus> {
    const [current, applying] = await Promise.all([this.#revisions.current(), this.#revisions.applying()]);
    const summary = (r: RevisionRecord | undefined): RevisionSummary | null => {
      if (!r) return null;
      const { specText: _t, spec: _s, ...rest } = r;
      return rest;
    };
    const last = this.#last && this.#last.desired === this.#desired?.deployments ? this.#last : undefined;
    return {
      current: summary(current), applying: summary(applying[applying.length - 1]),
      converged: last?.converged === true && this.#tracking === undefined && (current === undefined || this.#desired === undefined || current.number <= this.#desired.revision || this.#behind?.revision === current.number),
      running: this.#desired?.revision ?? null,
      ...(this.#peers !== undefined ? { peers: this.#peers } : {}),
      ...(this.#behind && current?.number === this.#behind.revision ? { behind: this.#behind } : {}),
      deployments: last?.deployments ?? [],
      autoscaling: this.#o.autoscaling?.() ?? [],
    };
  }

  /** The deployments reconciler's report after each pass. */
  onPass(report: PassReport): void {
    this.#last = report;
    if (this.#deferred && report.converged && report.desired === this.#desired?.deployments && this.#tracking === undefined) this.#applyDeferred('converged');
    const t = this.#tracking;
    if (!t || report.desired !== this.#desired?.deployments) return;
    if (report.converged) void this.#finish(t, 'applied', null);
    else if (report.failed) void this.#finish(t, report.failed.rolledBack ? 'rolled_back' : 'failed', `deployment '${report.failed.deployment}': ${report.failed.reason}`);
  }

  /**
   * Apply the spec file held back at start: once the revision that ran before has converged,
   * or after the apply timeout if it never does (its replicas no longer start). Dropped when
   * another revision landed meanwhile (an operator's apply is newer than the file).
   */
  #applyDeferred(why: 'converged' | 'timeout'): void {
    const deferred = this.#deferred;
    if (!deferred) return;
    this.#deferred = undefined;
    deferred.timer.cancel();
    void this.#exclusive(async () => {
      const latest = (await this.#revisions.latest())?.number ?? 0;
      if (latest !== deferred.base) {
        this.#o.logger.warn({ from: deferred.from, latest }, `the spec file held back at start was not applied: revision ${latest} landed since, and it is newer`);
        return;
      }
      if (why === 'timeout') this.#o.logger.warn({ from: deferred.from }, `revision ${deferred.from} did not converge after the start; applying the spec file anyway`);
      await this.#applyPrepared(deferred.prepared, latest, 'apply', null, { actor: SYSTEM_ACTOR, source: 'system' }, deferred.message);
    }).catch((err: unknown) => this.#o.logger.error({ err, from: deferred.from }, 'the spec file could not be rolled out after the start; the previous revision keeps running'));
  }

  /**
   * With a shared database (several gateways), one pass of following the others: renew the
   * apply lease while this process applies; record as interrupted a revision left applying
   * by a process that no longer holds the lease (it stopped or crashed); and converge to a
   * newer applied revision another process recorded. That revision already passed its
   * rollout where it was applied, so here each deployment switches once its new replicas are
   * warm, like a rollback, and nothing is recorded: the revision is the same one.
   */
  async follow(): Promise<void> {
    const shared = this.#o.shared;
    if (!shared) return;
    this.#peers = await shared.peers();
    if (this.#tracking) {
      if (!(await shared.applyLease.hold(APPLY_LEASE_MS))) this.#o.logger.warn({ revision: this.#tracking.revision }, 'the apply lease was taken by another gateway while this one was converging a revision');
      return;
    }
    await this.#exclusive(async () => {
      if (this.#tracking || this.#deferred || !this.#desired) return;
      if (!(await shared.applyLease.current())) {
        for (const r of await this.#revisions.applying()) {
          if (await this.#revisions.finish(r.number, 'failed', `interrupted: the gateway applying revision ${r.number} stopped before it converged, so it is not what runs`)) {
            this.#o.logger.warn({ revision: r.number }, 'a revision another gateway was applying was left unfinished (that gateway stopped); recorded as failed');
          }
        }
      }
      const current = await this.#revisions.current();
      if (!current || current.number <= this.#desired.revision || this.#behind?.revision === current.number) return;
      let deployments: ResolvedDeployment[];
      let loaded: LoadedSpec;
      try {
        const p = await this.#prepareRevision(current);
        loaded = p.loaded;
        deployments = (await this.#open(p.targets)).map((d) => ({ ...d, rollback: true }));
      } catch (err) {
        const reason = this.#cannotOpen(current, err);
        this.#behind = { revision: current.number, reason };
        this.#o.logger.error({ revision: current.number, running: this.#desired.revision, reason }, `revision ${current.number}, applied by another gateway, cannot run here; this gateway keeps serving revision ${this.#desired.revision}`);
        return;
      }
      this.#behind = undefined;
      this.#o.logger.info({ revision: current.number, from: this.#desired.revision, author: current.author }, `following revision ${current.number}, applied through another gateway by ${current.author}`);
      this.#setDesired({ revision: current.number, loaded, deployments });
    });
  }

  /**
   * The targets that move a deployment off what `current` runs to a version (by hash) a
   * revision ended up rolled back from: its rollout's analysis refused it, or a rollback
   * undid it. One line each, naming the revision and why.
   */
  async #rolledBackTargets(targets: readonly TargetDeployment[], current: RevisionRecord): Promise<string[]> {
    const history = (await this.#revisions.list(1000)).filter((r) => r.outcome === 'rolled_back' && r.number !== current.number);
    const out: string[] = [];
    for (const t of targets) {
      const running = current.deployments.find((d) => d.name === t.name);
      if (!running || running.sha256 === t.sha256) continue;
      const r = history.find((x) => x.deployments.some((d) => d.name === t.name && d.sha256 === t.sha256));
      if (r) out.push(`deployment '${t.name}': the file moves it to ${t.model}@${t.version} (sha256 ${t.sha256.slice(0, 12)}), which revision ${r.number} ${r.reason?.startsWith(UNDONE_BY) ? 'ran until it was rolled back by hand' : 'rolled back'} (${(r.reason ?? 'no reason recorded').slice(0, 160)})`);
    }
    return out;
  }

  /** Why a recorded revision cannot be opened here: the models missing from this process's artifact store, else the error. */
  #cannotOpen(r: RevisionRecord, err: unknown): string {
    const artifacts = this.#o.registry.artifacts;
    const missing = r.deployments.filter((d) => !existsSync(artifacts.path(d.sha256)));
    if (missing.length === 0) return (err as Error).message.replace(/\.$/, '');
    return `${missing.map((d) => `${d.model}@${d.version} (sha256 ${d.sha256.slice(0, 12)})`).join(', ')} ${missing.length === 1 ? 'is' : 'are'} not in this gateway's artifact store ${artifacts.dir}: gateways that share a database must share state.artifacts`;
  }

  async #takeApplyLease(): Promise<void> {
    const lease = this.#o.shared?.applyLease;
    if (!lease || await lease.hold(APPLY_LEASE_MS)) return;
    const holder = await lease.current();
    throw fail('ALOFT_REVISION_CONFLICT', `another gateway${holder ? ` (${holder.holder})` : ''} is applying a revision now; wait until it has converged or failed ('aloft status'), then run 'aloft plan' again`);
  }

  async #releaseApplyLease(): Promise<void> {
    await this.#o.shared?.applyLease.release().catch((err: unknown) => this.#o.logger.warn({ err }, 'could not release the apply lease; it runs out by itself'));
  }

  /** Stop tracking (the system is stopping): an apply still converging stays `applying`, and the next start records it as interrupted. */
  close(): void {
    this.#deferred?.timer.cancel();
    this.#deferred = undefined;
    this.#tracking?.timer.cancel();
    this.#tracking = undefined;
  }

  // ---------------------------------------------------------------- steps

  async #checkBase(base: number | undefined): Promise<number> {
    const latest = await this.#revisions.latest();
    const n = latest?.number ?? 0;
    if (latest?.outcome === 'applying') {
      // Several gateways: say who applies it, and when a gateway that stopped lets it go (its lease runs out, then the revision is recorded interrupted).
      const holder = this.#tracking ? undefined : await this.#o.shared?.applyLease.current();
      const who = holder
        ? ` by gateway ${holder.holder}; if that gateway stopped, its apply lease runs out at ${holder.expiresAt} (in ${Math.max(0, Math.ceil((Date.parse(holder.expiresAt) - this.#o.clock.date().getTime()) / 1000))} s) and the revision is then recorded as interrupted`
        : '';
      throw fail('ALOFT_REVISION_CONFLICT', `revision ${n} is still being applied${who}; wait until it has converged or failed ('aloft status'), then run 'aloft plan' again`);
    }
    if (base !== undefined && base > n) {
      throw fail('ALOFT_REVISION_CONFLICT', `this change was planned against revision ${base}, which does not exist: the newest revision is ${n === 0 ? 'none yet' : n}; run 'aloft plan' against this system and apply that`, { details: { base, latest: n } });
    }
    if (base !== undefined && base !== n) {
      throw fail('ALOFT_REVISION_CONFLICT', `this change was planned against revision ${base}, but revision ${n} has landed since; run 'aloft plan' again and apply that`, { details: { base, latest: n } });
    }
    return n;
  }

  async #applyPrepared(prepared: Prepared, latest: number, kind: RevisionKind, rollbackOf: number | null, who: Author, message: string): Promise<ApplyResult> {
    const current = await this.#revisions.current();
    const plan = this.#plan(prepared, latest, current ?? undefined, this.#desired);
    if (plan.restart.length > 0) {
      throw fail('ALOFT_NEEDS_RESTART', `this change cannot be applied to a running system; nothing was changed:\n${plan.restart.map((r) => `  ${r}`).join('\n')}\nStop aloft up and start it again with the new file.`, { details: { restart: plan.restart } });
    }
    if (plan.refused.length > 0) {
      throw fail('ALOFT_BAD_REQUEST', `this change is refused; nothing was changed:\n${plan.refused.map((r) => `  ${r}`).join('\n')}`, { details: { refused: plan.refused } });
    }
    if (!plan.changes) return { revision: current?.number ?? null, changed: false, plan };
    await this.#takeApplyLease();
    const number = await this.#record(prepared, plan, latest, kind, rollbackOf, who, message).catch(async (err: unknown) => {
      await this.#releaseApplyLease();
      throw err;
    });
    await this.#converge(number, kind, rollbackOf, prepared, this.#desired);
    return { revision: number, changed: true, plan };
  }

  /** Register new versions, then insert the revision and its audit entry in one transaction. */
  async #record(prepared: Prepared, plan: Plan, latest: number, kind: RevisionKind, rollbackOf: number | null, who: Author, message: string): Promise<number> {
    const { registry, audit } = this.#o;
    if (!prepared.pinned) {
      for (const m of prepared.models) {
        if (!m.register) continue;
        const bytes = await registry.artifacts.bytesOf(m.sha256);
        if (!bytes) throw fail('ALOFT_ARTIFACT_NOT_UPLOADED', `model '${m.model}': this Aloft does not have the file with sha256 ${m.sha256}; upload it with PUT /api/v1/artifacts/${m.sha256} (aloft apply does) and apply again`);
        const source = relativeSource(prepared, m.model);
        const { version } = await registry.register(m.model, bytes, {
          source, createdBy: who.actor.name,
          record: (tx, v) => audit.append({ actor: who.actor, action: 'model.registered', target: `${v.model}@${v.version}`, source: who.source, after: { sha256: v.sha256, sizeBytes: v.sizeBytes, source } }, tx),
        });
        m.version = version.version;
      }
      // Resolve again: the versions now exist (another push may have taken a number).
      prepared.targets = await this.#targets(prepared.loaded, prepared.models);
    }
    const number = latest + 1;
    await atomically(this.#o.store, async (tx) => {
      await new RevisionRepository(tx, { now: () => this.#o.clock.date() }).create({
        number, author: who.actor.name, message, kind, rollbackOf, specFile: prepared.file, specText: prepared.specText, spec: prepared.canonical,
        models: prepared.models.map((m) => ({ model: m.model, version: m.version, sha256: m.sha256, created: m.register })),
        deployments: prepared.targets.map((t) => ({ name: t.name, ref: t.ref, model: t.model, version: t.version, sha256: t.sha256 })),
        diff: diffOf(plan),
      });
      await audit.append({
        actor: who.actor, action: kind === 'rollback' ? 'spec.rolled_back' : 'spec.applied', target: `revision ${number}`, source: who.source,
        after: { revision: number, author: who.actor.name, message, ...(rollbackOf !== null ? { rollbackOf } : {}), diff: diffOf(plan) },
      }, tx);
    });
    if (kind !== 'startup') failpoint('apply.recorded');
    return number;
  }

  /** Make the revision desired and track it until it converges or fails. */
  async #converge(number: number, kind: RevisionKind, rollbackOf: number | null, prepared: Prepared, previous: DesiredState | undefined): Promise<void> {
    let deployments: ResolvedDeployment[];
    try {
      deployments = await this.#open(prepared.targets);
    } catch (err) {
      await this.#revisions.finish(number, 'failed', (err as Error).message);
      await this.#releaseApplyLease();
      throw err;
    }
    // A rollback is instant: each deployment switches back once warm, with no rollout phase.
    if (kind === 'rollback') deployments = deployments.map((d) => ({ ...d, rollback: true }));
    // The apply timeout, plus as long as the slowest rollout it starts may take by its own
    // bounds (each ends itself by its analysis): an A/B test ends only by hand.
    const rolling = kind === 'rollback' ? 0 : Math.max(0, ...deployments.map((d) => {
      const before = previous?.deployments.find((x) => x.name === d.name);
      return before && before.version !== d.version && before.sha256 !== d.sha256 ? rolloutBoundMs(d.spec.rollout) : 0;
    }));
    const timeoutMs = (this.#o.applyTimeoutMs ?? 300_000) + rolling;
    const tracking: Tracking = {
      revision: number, kind, rollbackOf, previous, waiters: [],
      timer: !Number.isFinite(timeoutMs) ? { cancel: () => undefined } : this.#o.clock.setTimeout(() => {
        const waiting = this.#last?.deployments.filter((d) => d.ready < d.desired).map((d) => `${d.name} ${d.ready}/${d.desired} ready`).join(', ');
        void this.#finish(tracking, 'failed', `did not converge within ${Math.round(timeoutMs / 1000)} s${waiting ? ` (${waiting})` : ''}`);
      }, timeoutMs),
    };
    this.#tracking = tracking;
    this.#setDesired({ revision: number, loaded: prepared.loaded, deployments });
  }

  async #finish(t: Tracking, outcome: 'applied' | 'failed' | 'rolled_back', reason: string | null): Promise<void> {
    if (this.#tracking !== t || t.finishing) return;
    t.finishing = true;
    t.timer.cancel();
    if (outcome !== 'applied') {
      this.#o.logger.error({ revision: t.revision, reason, outcome }, 'apply did not land; back to the previous revision');
      if (t.previous) this.#setDesired(t.previous);
    }
    try {
      // The outcome, and for a rollback the revisions it undid, in one transaction: a crash
      // leaves either all of it or none (and then the next start records the interruption).
      await atomically(this.#o.store, async (tx) => {
        const revisions = new RevisionRepository(tx, { now: () => this.#o.clock.date() });
        await revisions.finish(t.revision, outcome, reason);
        if (outcome === 'rolled_back') {
          await this.#o.audit.append({ actor: SYSTEM_ACTOR, action: 'rollout.rolled_back', target: `revision ${t.revision}`, source: 'system', after: { revision: t.revision, reason } }, tx);
        }
        for (const r of this.#o.rollouts?.() ?? []) {
          if (outcome === 'applied' && r.state === 'promoted' && !this.#audited.has(`${r.deployment}\u0000${r.candidate.group}`)) {
            this.#audited.add(`${r.deployment}\u0000${r.candidate.group}`);
            await this.#o.audit.append({ actor: SYSTEM_ACTOR, action: 'rollout.promoted', target: `${r.deployment}@${r.candidate.version}`, source: 'system', after: { revision: t.revision, steps: r.verdicts.filter((v) => v.action !== 'hold').map((v) => ({ step: v.step, weight: v.weight, action: v.action, failures: v.failures.reason, latency: v.latency.reason })) } }, tx);
          }
        }
        // A rollback marks only the revision it replaced, the one that was running; the
        // revisions before it keep their history (each was applied, then replaced by the next).
        if (outcome === 'applied' && t.kind === 'rollback') {
          const replaced = (await revisions.list(1000)).find((r) => r.number < t.revision && r.number > (t.rollbackOf ?? 0) && r.outcome === 'applied');
          if (replaced) await revisions.undone(replaced.number, `${UNDONE_BY}${t.revision}`);
        }
      });
    } catch (err) {
      this.#o.logger.error({ err, revision: t.revision }, 'could not record the outcome of an apply');
    }
    // Only now does status say converged: never before the outcome is recorded.
    if (this.#tracking === t) this.#tracking = undefined;
    await this.#releaseApplyLease();
    const record = await this.#revisions.get(t.revision).catch(() => undefined);
    for (const w of t.waiters) if (record) w.resolve(record);
  }

  #setDesired(d: DesiredState): void {
    this.#desired = d;
    this.#o.onDesired?.(d);
    this.#o.enqueue();
  }

  // ---------------------------------------------------------------- resolution

  /** `store`: keep model files read here in the artifact store (apply); a plan only hashes them. */
  async #prepareSubmission(sub: SpecSubmission, store = false): Promise<Prepared> {
    if (typeof sub?.spec !== 'string' || sub.spec.length === 0) throw fail('ALOFT_BAD_REQUEST', 'send {"spec": "<the YAML>", "file": "aloft.yaml", "models": {"<name>": {"sha256": "…", "sizeBytes": N}}}');
    const file = typeof sub.file === 'string' && sub.file.length > 0 ? sub.file : 'aloft.yaml';
    const result = validateSpecText(sub.spec, file, this.#o.dir);
    if (!result.ok) throw specError(result);
    await checkReferences(result.loaded.spec, file);
    const files: Record<string, ModelFile> = {};
    const given = sub.models ?? {};
    if (given === null || typeof given !== 'object' || Array.isArray(given)) throw fail('ALOFT_BAD_REQUEST', 'models must be an object: {"<name>": {"sha256": "…", "sizeBytes": N}}');
    for (const name of Object.keys(result.loaded.spec.models)) {
      const m = (given as Record<string, ModelFile | undefined>)[name];
      if (m && typeof m.sha256 === 'string' && /^[0-9a-f]{64}$/.test(m.sha256) && Number.isInteger(m.sizeBytes) && m.sizeBytes >= 0) {
        files[name] = { sha256: m.sha256, sizeBytes: m.sizeBytes, ...(m.signature ? { signature: m.signature } : {}) };
        continue;
      }
      // No hash given: read the file here (a spec on this machine's disk, e.g. curl with a local path).
      const path = result.loaded.spec.models[name]!.path;
      const bytes = await readFile(path).catch(() => {
        throw fail('ALOFT_SPEC_INVALID', `${file} models.${name}.path: model file not found: ${path}; send its sha256 and size in models.${name} (aloft plan and apply do), or a path this server can read`);
      });
      const sha256 = createHash('sha256').update(bytes).digest('hex');
      if (store) await this.#o.registry.artifacts.put(bytes);
      const signature = safeSignature(bytes);
      if (!signature) throw fail('ALOFT_MODEL_INVALID', `${file} models.${name}.path: ${path} is not a readable ONNX model`);
      files[name] = { sha256, sizeBytes: bytes.length, signature };
    }
    return this.#prepare({ loaded: result.loaded, specText: sub.spec, file }, files);
  }

  async #prepare(src: { loaded: LoadedSpec; specText: string; file: string }, files: Record<string, ModelFile>): Promise<Prepared> {
    const { registry } = this.#o;
    const models: PlannedModel[] = [];
    const signatures = new Map<string, ModelSignature>();
    for (const name of Object.keys(src.loaded.spec.models)) {
      const f = files[name]!;
      // The file's content names the version: the newest version with this hash, or a new one.
      const versions = await registry.listVersions(name).catch(() => [] as ModelVersion[]);
      const same = versions.filter((v) => v.sha256 === f.sha256).pop();
      const register = same === undefined;
      const next = (versions[versions.length - 1]?.version ?? 0) + 1;
      models.push({ model: name, version: same?.version ?? next, sha256: f.sha256, sizeBytes: f.sizeBytes, register });
      if (register) {
        const bytes = await registry.artifacts.bytesOf(f.sha256);
        const signature = bytes ? safeSignature(bytes) : f.signature;
        if (bytes && !signature) throw fail('ALOFT_MODEL_INVALID', `models.${name}: the file with sha256 ${f.sha256} is not a readable ONNX model`);
        if (signature) signatures.set(name, signature);
      }
    }
    const targets = await this.#targets(src.loaded, models, signatures);
    return { ...src, canonical: canonicalSpec(src.loaded, files), models, targets };
  }

  /** Every deployment at the exact version its reference names, counting versions this apply registers. */
  async #targets(loaded: LoadedSpec, models: readonly PlannedModel[], signatures: ReadonlyMap<string, ModelSignature> = new Map()): Promise<TargetDeployment[]> {
    const out: TargetDeployment[] = [];
    for (const [name, dep] of Object.entries(loaded.spec.deployments)) {
      const planned = models.find((m) => m.model === dep.model.name);
      const ref = formatModelRef(dep.model);
      const sel = dep.model.selector;
      // A deployment of a model the spec declares runs that file's version (unless it names a version or alias).
      if (planned && (sel.kind === 'latest' || (planned.register && sel.kind === 'version' && sel.version === planned.version))) {
        const signature = signatures.get(planned.model) ?? (await this.#o.registry.getVersion(planned.model, planned.version).catch(() => undefined))?.signature;
        out.push({ name, spec: dep, ref, model: planned.model, version: planned.version, sha256: planned.sha256, signature: signature ?? { inputs: [], outputs: [], batchable: false } });
        continue;
      }
      const v = await this.#o.registry.resolve(dep.model);
      out.push({ name, spec: dep, ref, model: v.model, version: v.version, sha256: v.sha256, signature: v.signature });
    }
    return out;
  }

  /** A revision's spec and versions, exactly as recorded (pinned by hash). */
  async #prepareRevision(r: RevisionRecord): Promise<Prepared> {
    const result = validateSpecText(r.specText, r.specFile, this.#o.dir);
    if (!result.ok) throw fail('ALOFT_SPEC_INVALID', `revision ${r.number}'s spec no longer validates here (a secret it references may be unset): ${result.message}`, { details: { issues: result.issues } });
    const targets: TargetDeployment[] = [];
    for (const d of r.deployments) {
      const v = await this.#o.registry.getVersion(d.model, d.version).catch((err: unknown) => {
        // A version deleted since (aloft models delete) cannot come back by rollback: say which, and the way out.
        if (isAloftError(err) && (err.code === 'ALOFT_VERSION_NOT_FOUND' || err.code === 'ALOFT_MODEL_NOT_FOUND')) {
          throw fail(err.code, `revision ${r.number} ran ${d.model}@${d.version} (sha256 ${d.sha256.slice(0, 12)}) for deployment '${d.name}', and that version has been deleted since: ${err.message}. Push the same file again (aloft models push) and apply a spec that names it, or roll back to another revision ('aloft revisions list')`, { cause: err });
        }
        throw err;
      });
      if (v.sha256 !== d.sha256) throw fail('ALOFT_ARTIFACT_CORRUPT', `revision ${r.number} ran ${d.model}@${d.version} with sha256 ${d.sha256}, but the registry now has ${v.sha256}; the state database was edited`);
      const dep = result.loaded.spec.deployments[d.name];
      if (!dep) throw fail('ALOFT_STORE', `revision ${r.number} records deployment '${d.name}', which its spec does not declare; the state database was edited`);
      targets.push({ name: d.name, spec: dep, ref: d.ref, model: d.model, version: d.version, sha256: d.sha256, signature: v.signature });
    }
    return {
      loaded: result.loaded, specText: r.specText, file: r.specFile, canonical: r.spec as CanonicalSpec, targets, pinned: r,
      models: r.models.map((m) => ({ model: m.model, version: m.version, sha256: m.sha256, sizeBytes: 0, register: false })),
    };
  }

  /** The desired state a recorded revision describes. */
  async #stateOf(r: RevisionRecord): Promise<DesiredState> {
    const p = await this.#prepareRevision(r);
    return { revision: r.number, loaded: p.loaded, deployments: await this.#open(p.targets) };
  }

  /** Targets with their verified artifacts. */
  async #open(targets: readonly TargetDeployment[]): Promise<ResolvedDeployment[]> {
    const out: ResolvedDeployment[] = [];
    for (const t of targets) {
      const v = await this.#o.registry.getVersion(t.model, t.version);
      out.push({ name: t.name, spec: t.spec, model: t.model, version: t.version, sha256: t.sha256, signature: v.signature, artifactPath: await this.#o.registry.open(v) });
    }
    return out;
  }

  #plan(prepared: Prepared, latest: number, current: RevisionRecord | undefined, before: DesiredState | undefined): Plan {
    const listening = this.#o.listening?.();
    const beforeSide = current && before ? {
      canonical: current.spec as CanonicalSpec,
      deployments: before.deployments.map((d) => ({ name: d.name, spec: d.spec, ref: current.deployments.find((x) => x.name === d.name)?.ref ?? d.model, model: d.model, version: d.version, sha256: d.sha256, signature: d.signature })),
    } : undefined;
    // Cost lines, with the new spec's prices, when it has any.
    const rates = ratesOf(prepared.loaded.spec.cost);
    const priced = rates.cpu !== undefined || rates.memory !== undefined || rates.gpu !== undefined;
    const sizes = new Map<string, number>(prepared.models.map((m) => [m.sha256, m.sizeBytes]));
    for (const d of before?.deployments ?? []) if (!sizes.has(d.sha256)) { try { sizes.set(d.sha256, statSync(d.artifactPath).size); } catch { /* not metered: the default memory has no model part */ } }
    const cores = this.#o.cores ?? 1;
    // The runtime threads a replica of d runs: its running group's, else what its side's replicas divide the cores into.
    const threads = (d: TargetDeployment) => {
      const side = prepared.targets.includes(d) ? prepared.targets : beforeSide?.deployments ?? [];
      return runningThreads(d, cores, replicasSharingCores(side), this.#o.runningGroup);
    };
    const plan = makePlan({
      base: latest, current: current?.number ?? null, before: beforeSide, after: { canonical: prepared.canonical, deployments: prepared.targets },
      models: prepared.pinned ? [] : prepared.models, recentRequests: (d) => this.#o.recentRequests(d),
      ...(this.#o.recentReplicas ? { recentReplicas: (d: string) => this.#o.recentReplicas!(d) } : {}),
      ...(listening ? { listening } : {}),
      // Shared revisions: sockets, state folder and the like are this process's own (what it started with).
      ...(this.#o.shared && this.#local ? { restartOnly: prepared.pinned ? 'ignore' as const : { local: this.#local } } : {}),
      ...(prepared.pinned ? { rollback: true } : {}),
      ...(this.#o.runningGroup ? { runningReplicas: (d: TargetDeployment) => this.#o.runningGroup!(groupKey(d))?.replicas } : {}),
      ...(this.#o.cores !== undefined ? {
        machine: {
          cores,
          cpu: (d: TargetDeployment) => reservationOf(d.spec, threads(d), 0).cpu,
        },
      } : {}),
      ...(priced ? {
        cost: {
          currency: rates.currency,
          hourly: (d: TargetDeployment) => hourlyCost(reservationOf(d.spec, threads(d), sizes.get(d.sha256) ?? 0), rates),
        },
      } : {}),
    });
    // The diagram names the state folder as the spec does: relative to the spec's folder.
    plan.topology.stateDir = relative(this.#o.dir, plan.topology.stateDir) || '.';
    return plan;
  }

  #exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#lock.then(fn, fn);
    this.#lock = run.catch(() => undefined);
    return run;
  }
}

/** The parts of a plan stored as a revision's diff and audited. */
function diffOf(plan: Plan): unknown {
  return { models: plan.models.filter((m) => m.register), deployments: plan.deployments, settings: plan.settings, warnings: plan.warnings };
}

function safeSignature(bytes: Uint8Array): ModelSignature | undefined {
  try {
    return readSignature(bytes);
  } catch (err) {
    if (isAloftError(err)) return undefined;
    throw err;
  }
}

function relativeSource(p: Prepared, model: string): string {
  const path = p.loaded.spec.models[model]?.path ?? '';
  return path.startsWith(p.loaded.dir) ? path.slice(p.loaded.dir.length).replace(/^[/\\]/, '') : path;
}
