/**
 * Aloft in one process (the embedded shape): the control plane and the gateway together,
 * replicas as child processes, state in SQLite (or PostgreSQL) and a content-addressed
 * artifact folder. `startAloft` is what `aloft up` runs; tests and embedders call it too.
 */
import { statSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import type { Server } from 'node:http';
import { availableParallelism, hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { Lease, Membership } from './store/leases.js';
import { join, relative } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { readAddress, removeAddress, writeAddress } from './address-file.js';
import { systemClock, type Clock } from './clock.js';
import { Controller } from './control/controller.js';
import { ControlPlane, type AutoscalingStatus } from './control/control-plane.js';
import type { Plan } from './control/plan.js';
import { registerControlRoutes } from './control/admin-control.js';
import { RecentTraffic } from './monitor/traffic.js';
import { VariantWindows } from './monitor/variants.js';
import { ShadowCounts } from './monitor/shadow.js';
import { Capture, type CaptureConfig } from './monitor/capture/capture.js';
import { JsonlSink } from './monitor/capture/jsonl.js';
import { WorkerWriter } from './monitor/capture/worker-writer.js';
import { CAPTURE_RETENTION, CaptureRetention } from './monitor/capture/retention.js';
import { openRecord, registerCaptureExportRoute, registerFeedbackRoute, registerMonitorRoute } from './monitor/capture/routes.js';
import { CaptureStore } from './monitor/capture/store.js';
import { DRIFT, DriftMonitor } from './monitor/drift-monitor.js';
import { createMonitoring } from './monitor/monitoring.js';
import { ALERTS } from './monitor/alerts/alerts.js';
import { registerAlertsRoute } from './monitor/alerts/routes.js';
import type { Condition } from './monitor/alerts/model.js';
import { SLO } from './monitor/slo.js';
import { COST, CostMeters, CostStore } from './cost/meters.js';
import { costReport, idleFindings, oversubscription, reservationOf, type IdleFinding, type LiveDeployment } from './cost/report.js';
import { registerCostRoute } from './cost/routes.js';
import { candidates, capturedInputs, choose, measure, syntheticInputs } from './cost/recommend.js';
import { registerRecommendRoute } from './cost/recommend-route.js';
import { procUsage } from './cost/meters.js';
import { budgetConditions, budgetStatus, type BudgetStatus } from './cost/budgets.js';
import { ratesOf, rolloutCost } from './cost/report.js';
import { hourlyCost } from './cost/prices.js';
import { Rollouts } from './control/rollouts.js';
import { RolloutStateStore } from './control/rollout-store.js';
import { DeploymentStateStore } from './store/deployment-state.js';

import { AUTOSCALER, Autoscaler, type AutoscalerSaved } from './control/autoscaler.js';
import { groupKey, replicasSharingCores, runningThreads, type ResolvedDeployment } from './control/groups.js';
import { LocalOrchestrator } from './control/orchestrators/local.js';
import { SplitOrchestrator } from './control/orchestrators/split.js';
import { ThreadOrchestrator } from './control/orchestrators/thread.js';
import type { Orchestrator } from './control/orchestrators/types.js';
import { ALL, DEPLOYMENTS, DeploymentsReconciler } from './control/reconcilers/deployments.js';
import { fail } from './errors.js';
import { checkReferences } from './monitor/reference.js';
import { createGateway, createHttpServer, OIP_EXTENSIONS, type Gateway } from './gateway/server.js';
import { checkExposure, readTls, reloadTls } from './gateway/tls.js';
import type { Routing } from './gateway/routing.js';
import { processTransport } from './gateway/transports/process.js';
import { ThreadTransport } from './gateway/transports/thread.js';
import { Lifecycle } from './lifecycle.js';
import { silentLogger, type Logger } from './log.js';
import { GatewayMetrics } from './monitor/metrics.js';
import { ArtifactStore, sweepPushLeftovers } from './registry/artifacts.js';
import { Registry } from './registry/registry.js';
import { replicaEntry } from './runtime/entry.js';
import { loadSpec } from './spec/load.js';
import type { LoadedSpec, Spec } from './spec/types.js';
import { openStore, type Store } from './store/db.js';
import { adminRoutes } from './control/admin-api.js';
import { registerAuditRoutes } from './control/admin-audit.js';
import { registerKeyRoutes } from './control/admin-keys.js';
import { registerAuth } from './gateway/auth-hook.js';
import { createRateLimiter } from './gateway/ratelimit/index.js';
import { BodyBudget } from './gateway/body-budget.js';
import { AuditLog, authFailuresEntry, FailureBurstDetector, SYSTEM_ACTOR } from './security/audit.js';
import { Authenticator } from './security/authenticator.js';
import { ensureAdminKey, type BootstrapResult } from './security/bootstrap.js';
import { KeyRepository } from './store/keys.js';
import { VERSION } from './version.js';

/** How long after a start an interrupted rollout may be taken up (the restart path applies the file once the old revision converged). */
const RESUME_WINDOW_MS = 10 * 60_000;
/** With a shared database: how often a gateway looks for revisions another applied, and how long its membership lasts unrenewed. */
const FOLLOW_EVERY_MS = 2_000;
const MEMBER_TTL_MS = 15_000;
/** The reconciler that follows the revisions other gateways apply. */
const REVISIONS = 'revisions';

/** Progress of long steps, for the CLI's output and progress bars. */
export type ProgressEvent =
  | { kind: 'registered'; model: string; version: number; created: boolean; sha256: string; source: string }
  | { kind: 'replicas'; deployment: string; version: number; ready: number; desired: number }
  | { kind: 'replica-failed'; id: string; error: string }
  | { kind: 'listening'; url: string; adminUrl: string }
  | { kind: 'warning'; message: string }
  /** What the start runs: a revision recorded from the file (replacing `plan.current`), the one that ran before, or the one other gateways run. */
  | { kind: 'revision'; revision: number; recorded: boolean; joined: boolean; held: boolean; plan: Plan }
  | { kind: 'admin-key'; file: string; created: boolean };

export interface StartOptions {
  /** Path of aloft.yaml, or an already loaded spec. */
  spec: string | LoadedSpec;
  /** Override server.port (0 = any free port). */
  port?: number;
  host?: string;
  /** Override the database URL (default: ALOFT_DATABASE_URL, then state.database, then SQLite). */
  databaseUrl?: string;
  logger?: Logger;
  clock?: Clock;
  onProgress?: (e: ProgressEvent) => void;
  /** Replace the orchestrator (tests, Kubernetes). */
  orchestrator?: Orchestrator;
  /** Cores to size `intraOpThreads: auto` against. Default: this machine's. */
  cores?: number;
  /** Accept an unsafe exposure (auth off, or a non-loopback address without TLS), with warnings. */
  insecure?: boolean;
  /** Use this token as the admin key, as ALOFT_ADMIN_KEY does (default: that variable, else the key file). */
  adminKey?: string;
}

export interface RunningAloft {
  /** Base URL the gateway serves on, e.g. http://127.0.0.1:8080 */
  url: string;
  /** The gateway's HTTP(S) server, e.g. to count connections. */
  server: Server;
  /** Base URL of the admin API (/api/v1): the gateway's URL unless server.adminPort is set. */
  adminUrl: string;
  spec: LoadedSpec;
  store: Store;
  registry: Registry;
  orchestrator: Orchestrator;
  /** The gateway: its HTTP app and its routing (what is routed, and the batchers and replicas behind it). */
  gateway: Gateway;
  /** The control plane's work queue and what each reconciler last did. */
  controller: Controller;
  /** Plan, apply, rollback and the revision history. */
  control: ControlPlane;
  /** The deployments of the desired revision, resolved to exact versions. */
  readonly deployments: readonly ResolvedDeployment[];
  /** The revision `up` started on. */
  revision: number;
  audit: AuditLog;
  /** How the first admin credential was provided (ALOFT_ADMIN_KEY, the key file, …). */
  adminKey: BootstrapResult;
  /** Resolves when every deployment has all its initial replicas ready; rejects after `timeoutMs` or on a terminal replica failure. */
  waitReady(timeoutMs?: number): Promise<void>;
  /** Re-read the TLS certificate and key (SIGHUP); open connections keep theirs. No-op without TLS. */
  reloadTls(): Promise<void>;
  /** Drain in-flight requests, then stop replicas and close the store. Idempotent. */
  close(): Promise<void>;
}

export async function startAloft(opts: StartOptions): Promise<RunningAloft> {
  const logger = opts.logger ?? silentLogger;
  const clock = opts.clock ?? systemClock;
  const progress = opts.onProgress ?? (() => undefined);
  const loaded = typeof opts.spec === 'string' ? await loadSpec(opts.spec) : opts.spec;
  const specText = await readFile(loaded.file, 'utf8');
  const { spec } = loaded;
  // A drift reference that cannot be read is the spec's error now, as validate and plan say, not a warning in the log while drift never runs.
  await checkReferences(spec, loaded.file);
  // Settings that change live (public, limits, auth on/off) are read from the desired revision's spec.
  let live: Spec = spec;
  let listeningAt: { host: string; port: number } | undefined;
  const host = opts.host ?? spec.server.host;
  const warnings = checkExposure({ host, tls: spec.security.tls !== undefined, authEnabled: spec.security.auth.enabled, insecure: opts.insecure === true });
  for (const message of warnings) progress({ kind: 'warning', message });
  const tls = spec.security.tls ? await readTls(spec.security.tls) : undefined;

  // Every part is started here, in order, and stopped by the lifecycle in reverse order.
  const life = new Lifecycle(logger);
  await claimStateDir(spec.state.dir, clock.date().toISOString(), life);
  const databaseUrl = opts.databaseUrl ?? process.env.ALOFT_DATABASE_URL ?? spec.state.database;
  const store = await openStore({ url: databaseUrl, stateDir: spec.state.dir });
  life.own('store', () => store.close());
  try {
    const registry = new Registry(store, new ArtifactStore(spec.state.artifacts));
    // What crashed pushes left: temporary files of dead processes, older servers' staging folders.
    const leftovers = [...await registry.artifacts.sweep(), ...await sweepPushLeftovers()];
    if (leftovers.length > 0) logger.info({ removed: leftovers }, 'removed temporary files left by interrupted model pushes');
    const audit = new AuditLog(store, { clock });
    const keys = new KeyRepository(store, { now: () => clock.date() });
    const adminKey = await ensureAdminKey({
      keys, stateDir: spec.state.dir, env: opts.adminKey ? { ...process.env, ALOFT_ADMIN_KEY: opts.adminKey } : process.env, log: logger, now: () => clock.date(),
      record: (tx, key) => audit.append({ actor: SYSTEM_ACTOR, action: 'key.created', target: key.name, source: 'system', after: { name: key.name, role: key.role, scopes: key.scopes, expiresAt: key.expiresAt }, details: { from: key.createdBy } }, tx),
    });
    if (adminKey.file) progress({ kind: 'admin-key', file: adminKey.file, created: adminKey.created });
    const authenticator = new Authenticator({ keys, ...(spec.security.auth.jwt ? { jwt: spec.security.auth.jwt } : {}), clock, logger });
    await authenticator.load();
    life.run('key reload', (signal) => authenticator.start(signal));

    const threads = new ThreadOrchestrator({ logger, clock });
    const orchestrator = opts.orchestrator ?? new SplitOrchestrator(new LocalOrchestrator({ entry: replicaEntry(), logger, clock }), threads);
    // The metrics and the access policy read the gateway's routing, made below.
    const built: { routing?: Routing; rollouts?: Rollouts } = {};
    const shadows = new ShadowCounts();
    // Prediction capture (monitor/capture): sampled at the observation point, written off the request path.
    const captureConfig = (d: string): CaptureConfig | undefined => {
      const dep = live.deployments[d];
      return dep?.capture ? { capture: dep.capture, ...(dep.features ? { features: dep.features } : {}) } : undefined;
    };
    const captureStore = new CaptureStore(store);
    const jsonl = new JsonlSink({ dir: join(spec.state.dir, 'capture'), clock });
    // Records are built, sealed and written in their own thread (capture-worker.ts), off the gateway's event loop.
    const capture = new Capture({ clock, logger, config: captureConfig, writer: new WorkerWriter({ url: databaseUrl, stateDir: spec.state.dir, jsonlDir: join(spec.state.dir, 'capture') }, logger) });
    life.own('capture', () => capture.close());
    const feedbackCounts = new Map<string, { accepted: number; notCaptured: number; rejected: number }>();
    const variants = new VariantWindows();
    const adminAt = { url: '' };
    // Cost (cost/): meters sampled by a reconciler, priced when reported; idle findings feed the alerts.
    const cores = opts.cores ?? availableParallelism();
    const costStore = new CostStore(store);
    const artifactBytes = new Map<string, number>();
    // What each deployment reserves and runs now; computed once per second at most (the meters ask per replica).
    let liveCostCache: { atMs: number; value: LiveDeployment[] } | undefined;
    const liveCost = (): LiveDeployment[] => {
      const nowMs = clock.now();
      if (liveCostCache && nowMs - liveCostCache.atMs < 1000) return liveCostCache.value;
      liveCostCache = { atMs: nowMs, value: computeLiveCost() };
      return liveCostCache.value;
    };
    const computeLiveCost = (): LiveDeployment[] => {
      const deps = ctl.control?.deployments() ?? [];
      const total = replicasSharingCores(deps);
      const running = orchestrator.status();
      return deps.map((d) => {
        let bytes = artifactBytes.get(d.sha256);
        if (bytes === undefined) { try { bytes = statSync(d.artifactPath).size; } catch { bytes = 0; } artifactBytes.set(d.sha256, bytes); }
        return {
          name: d.name, version: d.version, spec: d.spec, labels: live.models[d.model]?.labels ?? {},
          reservation: reservationOf(d.spec, runningThreads(d, cores, total, (key) => reconcilers.deployments?.group(key)), bytes),
          replicas: running.filter((r) => r.deployment === d.name && (r.state === 'ready' || r.state === 'starting' || r.state === 'unhealthy')).length,
        };
      });
    };
    const idle: { findings: IdleFinding[]; budgets: BudgetStatus[] } = { findings: [], budgets: [] };
    const ctl: { control?: ControlPlane } = {};
    const reconcilers: { deployments?: DeploymentsReconciler } = {};
    const scaler: { autoscaler?: Autoscaler } = {};
    // SLOs, drift results and alerts (monitor/monitoring.ts): reconcilers below, one observer on the gateway.
    const monitoring = createMonitoring({
      clock, logger, store, spec: () => live, variants, externalURL: () => adminAt.url,
      replicas: () => orchestrator.status(),
      captureDrops: () => capture.counts().map((c) => ({ deployment: c.deployment, dropped: c.counts.droppedFull + c.counts.droppedSink, full: c.counts.droppedFull, failedBy: c.counts.failedBy ?? {} })),
      conditions: (): Condition[] => budgetConditions(idle.budgets),
      localConditions: (): Condition[] => idle.findings.map((f): Condition => ({
        labels: { alertname: 'IdleDeployment', deployment: f.deployment, severity: 'ticket' },
        annotations: { summary: `${f.deployment}: ${f.replicas === 1 ? 'its replica' : `its ${f.replicas} replicas`} used ${(100 * f.utilisation).toFixed(1)}% of the CPU ${f.replicas === 1 ? 'it reserves' : 'they reserve'} over ${f.window} (${f.unpriced.length > 0 || f.monthlyCost === null ? `unpriced: ${f.unpriced.join(', ')}` : `${f.monthlyCost.toFixed(2)} ${live.cost.currency} a month`}): ${f.recommendation}` },
        value: f.utilisation,
      })),
    });
    life.own('alerts', () => monitoring.alerts.close());
    const metrics = new GatewayMetrics({
      cost: () => {
        const rates = ratesOf(live.cost);
        return liveCost().map((d) => ({ deployment: d.name, hourly: hourlyCost(d.reservation, rates).priced * d.replicas, reservedCpu: d.reservation.cpu * d.replicas, reservedMemoryGiB: d.reservation.memoryGiB * d.replicas }));
      },
      autoscaling: () => (scaler.autoscaler?.last() ?? []).map((e) => ({ deployment: e.deployment, version: e.version, desired: e.to, ready: e.ready, stable: e.stable, panic: e.panic, panicking: e.panicking, ...scaler.autoscaler!.counts(e.deployment) })),
      slos: () => monitoring.slo.last(),
      alerts: () => {
        const r = monitoring.alerts.report();
        return { evaluating: r.evaluator.leading, alerts: r.active.map((a) => (a.silencedBy ? { ...a, state: 'silenced' } : a)), deliveries: monitoring.alerts.counts() };
      },
      drift: () => monitoring.driftChecks().map((c) => ({ deployment: c.deployment, drifted: c.result!.drifted, share: c.result!.share, features: c.result!.features.map((f) => ({ feature: f.feature, drifted: f.drifted, statistic: f.statistic })) })),
      captures: () => capture.counts(),
      feedback: () => [...feedbackCounts].map(([deployment, counts]) => ({ deployment, counts })),
      shadows: () => shadows.list(),
      versions: () => {
        const config = built.routing?.config.deployments ?? [];
        const weightOf = (d: string, version: number) => {
          const c = config.find((x) => x.name === d);
          const v = c?.versions.find((x) => x.version === version);
          return v?.weight ?? (c?.current === version ? 100 : 0);
        };
        return (built.routing?.status() ?? []).filter((v) => v.routed).map((v) => ({
          deployment: v.deployment, version: v.version, queued: v.queued, ready: v.ready, desired: v.desiredReplicas, weight: weightOf(v.deployment, v.version),
        }));
      },
      rollouts: () => built.rollouts?.status() ?? [],
    });
    const bursts = new FailureBurstDetector({
      clock,
      onBurst: (b) => { void audit.append(authFailuresEntry(b)).catch((err: unknown) => logger.warn({ err }, 'audit append failed')); },
    });
    const auth = {
      authenticator,
      policy: {
        get enabled() { return live.security.auth.enabled; },
        isPublic: (d: string) => Object.hasOwn(live.deployments, d) && live.deployments[d]!.public,
        modelOf: (d: string) => { const r = built.routing?.table.get(d); return r?.versions.get(r.current)?.model; },
      },
      onFailure: (f: { status: number; ip: string }) => { if (f.status === 401) bursts.record(f.ip); },
    };
    const limiter = await createRateLimiter(spec.limits, { logger, clock });
    life.own('rate limiter', () => limiter.close());
    const budget = new BodyBudget(spec.server.bodyMemory);
    const traffic = new RecentTraffic(clock);
    const meters = new CostMeters({
      clock, logger, store: costStore, replicas: () => orchestrator.status(), everyMs: () => live.cost.every, windowMs: () => live.cost.idle.for,
      reservation: (d, v) => { const all = liveCost(); return (all.find((x) => x.name === d && x.version === v) ?? all.find((x) => x.name === d))?.reservation; },
    });
    // A rollout a stop interrupted is taken up where it was by the same move soon after this start (the restart path re-applies the file).
    const rolloutState = new RolloutStateStore(store, logger);
    const interrupted = await rolloutState.load();
    const resumeUntil = clock.now() + RESUME_WINDOW_MS;
    life.own('rollout state', () => rolloutState.flush());
    const rollouts = new Rollouts({
      clock, windows: variants, shadows, logger,
      resume: (d) => {
        const prior = interrupted.get(d);
        interrupted.delete(d);
        return clock.now() <= resumeUntil ? prior : undefined;
      },
      onChange: (st) => void rolloutState.save(st, clock.date().toISOString()),
      slos: (d) => live.deployments[d]?.slos ?? [],
      drift: (d) => { const c = monitoring.driftOf(d); return c?.result ? { drifted: c.result.drifted, at: c.at, features: c.result.driftedFeatures } : undefined; },
    });
    built.rollouts = rollouts;
    const gateway = createGateway({
      bodyLimit: spec.server.bodyLimit, bodyTimeoutMs: spec.server.bodyTimeout, budget, headersTimeoutMs: spec.server.headersTimeout,
      wire: spec.server.fastInferPath, logger, clock,
      info: { name: 'aloft', version: VERSION, extensions: OIP_EXTENSIONS },
      ...(tls ? { https: tls } : {}),
      metrics, auth,
      limits: {
        limiter, registry: metrics.registry,
        deploymentLimit: (name) => live.deployments[name]?.limits,
        perKeyDefault: () => live.limits.perKey,
      },
      observers: [traffic.observer(), variants.observer(), capture.observer(), monitoring.slo.observer(), meters.observer()],
      activate: (d) => scaler.autoscaler?.activate(d),
      shadow: { counts: shadows, observe: variants.observer() },
      // The transport by what the version's replicas speak (the replica spec's isolation).
      connect: (kind, info, v) => {
        if (kind === 'http') return processTransport(info, v.deployment);
        const worker = threads.worker(info.url);
        if (worker) return new ThreadTransport(worker);
        // The thread ended between the status event and now: a transport that says so.
        return { infer: () => Promise.reject(fail('ALOFT_NOT_READY', 'the replica thread stopped')), abandon: () => undefined, close: async () => undefined };
      },
    });
    const routing = gateway.routing;
    built.routing = routing;
    // Replicas stop after the gateway has drained (reverse order): then the batchers close.
    life.own('replicas', async () => { await orchestrator.stop(); await routing.close(); });
    // The control plane: reconcilers converge what runs and what is routed to the desired
    // revision; the control plane records revisions and tracks each apply to its outcome.
    const controller = new Controller({ clock, logger });
    // Several gateways on one PostgreSQL database (scaled mode) follow each other's revisions.
    const holder = `${hostname()}/${process.pid}/${randomBytes(3).toString('hex')}`;
    const members = store.dialect === 'postgres' ? new Membership(store, { holder, clock, artifacts: await registry.artifacts.id() }) : undefined;
    if (members) {
      await members.renew(MEMBER_TTL_MS);
      life.own('membership', () => members.release().catch(() => undefined));
      // Gateways on one database open each other's models from one artifact folder: one with its own folder cannot follow them, nor they it.
      const strangers = await members.onOtherStores();
      if (strangers.length > 0) {
        throw fail('ALOFT_USAGE', `${strangers.length === 1 ? `gateway ${strangers[0]} serves` : `${strangers.length} gateways (${strangers.join(', ')}) serve`} this database with another artifact folder than this one's (${spec.state.artifacts}): gateways that share a database must share state.artifacts, or none can open the models the others register. Set state.artifacts to the folder they use (a shared volume) and start again`);
      }
    }
    const control = new ControlPlane({
      ...(members ? { shared: { applyLease: new Lease(store, { name: 'apply', holder, clock }), peers: () => members.peers() } } : {}),
      store, registry, audit, clock, logger, dir: loaded.dir,
      enqueue: () => controller.enqueue(DEPLOYMENTS, ALL),
      recentRequests: (d) => traffic.count(d),
      recentReplicas: (d) => meters.recentReplicas(d),
      runningGroup: (key) => reconcilers.deployments?.group(key),
      onDesired: (d) => { live = d.loaded.spec; },
      listening: () => listeningAt,
      rollouts: () => rollouts.status(),
      cores,
      autoscaling: (): AutoscalingStatus[] => {
        const last = new Map(control.deployments().map((d) => [d.name, autoscaler.last().find((e) => e.deployment === d.name && e.version === d.version)]));
        return control.deployments().filter((d) => d.spec.autoscaling).map((d) => {
          const e = last.get(d.name);
          const decision = autoscaler.decisions(d.name).at(-1);
          return { deployment: d.name, min: d.spec.replicas.min, max: d.spec.replicas.max, metric: d.spec.autoscaling!.metric, target: d.spec.autoscaling!.target, ...(e ? { last: e } : {}), ...(decision ? { lastDecision: decision } : {}) };
        });
      },
    });
    // The autoscaler owns the replica count of deployments with a range (control/autoscaler.ts).
    // What it chose before a restart within RESUME_WINDOW_MS is where each deployment starts again.
    const autoscalerState = new DeploymentStateStore<AutoscalerSaved>(store, 'autoscaler_state', {
      logger,
      accept: (v): v is AutoscalerSaved => typeof v === 'object' && v !== null && Number.isInteger((v as AutoscalerSaved).replicas) && (v as AutoscalerSaved).replicas >= 0 && Array.isArray((v as AutoscalerSaved).decisions),
      unreadable: 'that deployment starts at its initial replica count',
      unsaved: 'a restart would start this deployment at its initial replica count',
    });
    const wallNow = clock.date().getTime();
    const restoredScale = new Map([...await autoscalerState.load()]
      .filter(([, s]) => wallNow - Date.parse(s.updatedAt) <= RESUME_WINDOW_MS)
      .map(([d, s]) => [d, s.value]));
    life.own('autoscaler state', () => autoscalerState.flush());
    const autoscaler = new Autoscaler({
      clock,
      restored: restoredScale,
      save: (d, st) => void autoscalerState.save(d, st, clock.date().toISOString()),
      // Each deployment's group, and during a rollout the group it moves from: each scaled by the traffic it gets.
      targets: () => control.deployments().filter((d) => d.spec.autoscaling).flatMap((d) => {
        // A spent budget with capReplicas holds what it covers at its minimum (at least 1) until the month ends.
        const capped = idle.budgets.find((b) => b.exhausted && b.deployments.includes(d.name) && live.cost.budgets.find((x) => x.name === b.name)?.capReplicas === true);
        const max = capped ? Math.max(1, d.spec.replicas.min) : d.spec.replicas.max;
        const t = {
          deployment: d.name, spec: d.spec.autoscaling!, min: d.spec.replicas.min, max, initial: Math.min(max, d.spec.replicas.initial),
          ...(capped && max < d.spec.replicas.max ? { maxWhy: `budget ${capped.name} is spent and caps replicas until the month ends; the spec's max is ${d.spec.replicas.max}` } : {}),
        };
        const r = rollouts.underWayOf(d.name);
        const group = groupKey(d);
        return [
          { ...t, version: d.version, group },
          ...(r && r.baseline.group !== group ? [{ ...t, version: r.baseline.version, group: r.baseline.group, newest: false }] : []),
        ];
      }),
      observe: (t) => {
        const v = routing.status().find((x) => x.group === t.group);
        // Answers and rows per version, counted by the cost meters (one counter for both).
        const c = meters.served(t.deployment, t.version);
        return { concurrency: v?.busy ?? 0, ready: v?.ready ?? 0, answered: c.answered, rows: c.rows };
      },
      onChange: () => controller.enqueue(DEPLOYMENTS, ALL),
    });
    scaler.autoscaler = autoscaler;
    life.own('autoscaler', () => autoscaler.close());
    ctl.control = control;
    reconcilers.deployments = new DeploymentsReconciler({
      desired: () => control.deployments(), orchestrator, routing, cores: opts.cores ?? availableParallelism(),
      enqueue: () => controller.enqueue(DEPLOYMENTS, ALL),
      onPass: (r) => control.onPass(r),
      rollouts,
      replicas: (d, g) => autoscaler.replicas(d, g),
    });
    controller.add(reconcilers.deployments);
    if (members) {
      controller.add({
        name: REVISIONS,
        reconcile: async () => {
          await members.renew(MEMBER_TTL_MS);
          await control.follow();
          return { requeueAfterMs: FOLLOW_EVERY_MS };
        },
      });
      controller.enqueue(REVISIONS, ALL);
    }
    controller.add(autoscaler);
    controller.enqueue(AUTOSCALER, ALL);
    orchestrator.onChange((s) => {
      if (s.state === 'failed') progress({ kind: 'replica-failed', id: s.id, error: s.lastError ?? 'failed' });
      const d = control.deployments().find((x) => groupKey(x) === s.group);
      if (d) progress({ kind: 'replicas', deployment: d.name, version: d.version, ready: orchestrator.status().filter((r) => r.group === s.group && r.state === 'ready').length, desired: autoscaler.replicas(d.name, s.group) ?? d.spec.replicas.initial });
    });

    // The admin API shares the gateway's port unless server.adminPort gives it its own.
    const adminApp = spec.server.adminPort === undefined ? gateway.app : createHttpServer({
      bodyLimit: spec.server.bodyLimit, bodyTimeoutMs: spec.server.bodyTimeout, budget, headersTimeoutMs: spec.server.headersTimeout, logger, ...(tls ? { https: tls } : {}),
    });
    if (adminApp !== gateway.app) registerAuth(adminApp, auth);
    adminRoutes(adminApp, { registry, routing, orchestrator, audit });
    registerKeyRoutes(adminApp, { keys, authenticator, audit, clock, logger });
    registerAuditRoutes(adminApp, { audit });
    registerControlRoutes(adminApp, { control, registry, rollouts, audit, enqueue: () => controller.enqueue(DEPLOYMENTS, ALL), rolloutCost: (r) => rolloutCost(r, liveCost(), orchestrator.status(), live.cost, clock.date().getTime()) });
    const captureRoutes = {
      capture, store: captureStore, clock, config: captureConfig, exists: (d: string) => routing.table.get(d) !== undefined,
      feedbackCounts: (d: string) => feedbackCounts.get(d),
      onFeedback: (d: string, c: { accepted: number; notCaptured: number; rejected: number }) => {
        const t = feedbackCounts.get(d) ?? { accepted: 0, notCaptured: 0, rejected: 0 };
        feedbackCounts.set(d, { accepted: t.accepted + c.accepted, notCaptured: t.notCaptured + c.notCaptured, rejected: t.rejected + c.rejected });
      },
      onLabels: (d: string, labelled: Parameters<typeof monitoring.onLabels>[1]) => monitoring.onLabels(d, labelled),
      slos: (d: string) => monitoring.slo.evaluate(d),
      alerts: (d: string) => monitoring.alerts.report({ deployment: d }).active,
    };
    const drift = new DriftMonitor({
      clock, logger, capture, store: captureStore,
      spec: (d) => live.deployments[d], deployments: () => Object.keys(live.deployments),
      onCheck: (c) => monitoring.onDriftCheck(c),
    });
    controller.add(drift);
    controller.enqueue(DRIFT, ALL);
    controller.add(monitoring.slo);
    controller.enqueue(SLO, ALL);
    controller.add(monitoring.alerts);
    controller.enqueue(ALERTS, ALL);
    registerAlertsRoute(adminApp, {
      alerts: monitoring.alerts, exists: (d) => routing.table.get(d) !== undefined, deployments: () => Object.keys(live.deployments),
      silences: monitoring.silences, audit, clock,
    });
    controller.add({
      name: COST,
      // Sample, flush, and now and then look for idle deployments (their findings become IdleDeployment alerts).
      reconcile: (() => {
        let lastIdleMs = -Infinity;
        let oversubscribed: ReturnType<typeof oversubscription>['level'] = 'ok';
        return async () => {
          await meters.reconcile();
          const now = clock.now();
          // As often as a quarter of idle.for, at most once a minute.
          if (now - lastIdleMs >= Math.min(60_000, live.cost.idle.for / 4)) {
            lastIdleMs = now;
            const deps = liveCost();
            const over = oversubscription(deps, cores, rollouts.deploymentsUnderWay());
            if (over.level !== oversubscribed && over.message) {
              if (over.level === 'over') logger.warn({ reservedCpu: over.reserved, cores }, over.message);
              else logger.info({ reservedCpu: over.reserved, cores }, over.message);
            }
            oversubscribed = over.level;
            idle.findings = await idleFindings({ store: costStore, spec: live.cost, nowMs: clock.date().getTime(), deployments: deps, window: (d, since) => meters.window(d, since) });
            const before = new Set(idle.budgets.filter((b) => b.exhausted).map((b) => b.name));
            idle.budgets = await budgetStatus({ store: costStore, spec: live.cost, nowMs: clock.date().getTime(), deployments: liveCost() });
            // A budget that caps replicas and was just spent (or a new month freed one): the autoscaler's bounds changed.
            if (idle.budgets.some((b) => b.exhausted !== before.has(b.name))) controller.enqueue(AUTOSCALER, ALL);
          }
          return { requeueAfterMs: live.cost.every };
        };
      })(),
    });
    controller.enqueue(COST, ALL);
    // The capacity planner: one fresh replica per candidate, on orchestrators of its own (never the system's groups).
    const recentCaptured = async (name: string) => {
      const c = captureConfig(name);
      if (!c) return { reason: 'the deployment does not capture predictions' };
      const d = control.deployments().find((x) => x.name === name)!;
      await capture.flush();
      const records = [];
      for await (const stored of captureStore.list(name, new Date(clock.date().getTime() - 86_400_000).toISOString(), capture.ring(name, c.capture))) {
        try { records.push(openRecord(stored)); } catch { /* a record under a retired key: skipped */ }
        if (records.length >= 256) break;
      }
      if (records.length === 0) return { reason: 'no prediction captured in the last day' };
      return capturedInputs(records, d.signature, { ...(c.features ? { features: c.features } : {}), redact: c.capture.redact, hash: c.capture.hash });
    };
    let recommending = false;
    registerRecommendRoute(adminApp, {
      exists: (d) => control.deployments().some((x) => x.name === d),
      run: async (name, rps, p99Ms, durationMs, onProgress) => {
        if (recommending) throw fail('ALOFT_REVISION_CONFLICT', 'a recommendation is already being measured; wait for it to finish');
        recommending = true;
        try {
          const d = control.deployments().find((x) => x.name === name)!;
          const list = candidates(cores, d.signature.batchable);
          // Captured requests when there are some (the last day's, up to 256), else synthetic ones from the signature.
          const replay = await recentCaptured(name);
          const inputs = 'inputs' in replay ? replay.inputs : syntheticInputs(d);
          const measured = [];
          for (const [i, c] of list.entries()) {
            const threadsOrch = new ThreadOrchestrator({ logger, clock });
            const orch = c.isolation === 'thread' ? threadsOrch : new LocalOrchestrator({ entry: replicaEntry(), logger, clock });
            const m = await measure({
              deployment: d, candidate: c, inputs, durationMs, concurrency: Math.min(128, Math.max(4, 2 * c.maxBatchSize)), clock, orchestrator: orch,
              connect: (info) => (c.isolation === 'thread' ? new ThreadTransport(threadsOrch.worker(info.url)!) : processTransport(info, d.name)),
              rssBytes: (pid) => procUsage.rssBytes(pid),
            });
            measured.push(m);
            onProgress(m, i + 1, list.length);
          }
          const bytes = liveCost().find((x) => x.name === name)?.reservation.memoryGiB ?? 0.25;
          return choose(measured, { deployment: name, rps, p99Ms, rates: ratesOf(live.cost), currency: live.cost.currency, defaultMemoryMiB: bytes * 1024, range: { min: d.spec.replicas.min, max: d.spec.replicas.max }, inputs: 'inputs' in replay ? 'captured' : 'synthetic', ...('reason' in replay ? { inputsWhy: replay.reason } : { inputsWhy: `${replay.inputs.length} captured predictions of the last day` }) });
        } finally {
          recommending = false;
        }
      },
    });
    // A removed deployment's labels, from the newest revision that had it: its spend stays under its team.
    const pastLabels = async (names: readonly string[]): Promise<Map<string, Record<string, string>>> => {
      const out = new Map<string, Record<string, string>>();
      const missing = new Set(names);
      for (const r of await control.revisions.list(1000)) {
        const here = r.deployments.filter((d) => missing.has(d.name));
        if (here.length === 0) continue;
        const models = ((await control.revisions.get(r.number))?.spec as { models?: Record<string, { labels?: Record<string, string> } | undefined> } | undefined)?.models ?? {};
        for (const d of here) {
          out.set(d.name, models[d.model]?.labels ?? {});
          missing.delete(d.name);
        }
        if (missing.size === 0) break;
      }
      return out;
    };
    registerCostRoute(adminApp, {
      report: async (by, sinceMs, visible) => {
        await meters.flush();
        const nowMs = clock.date().getTime();
        const r = await costReport({ store: costStore, spec: live.cost, nowMs, sinceMs, by, deployments: liveCost(), cores, rolling: rollouts.deploymentsUnderWay(), window: (d, since) => meters.window(d, since), visible, pastLabels });
        // A budget is shown to a caller who may see what it covers: its deployment; a label's
        // deployments (some, all visible); everything (every live deployment visible).
        const all = liveCost().every((d) => visible(d.name));
        const covered = (b: BudgetStatus) => {
          if (all) return true;
          const spec = live.cost.budgets.find((x) => x.name === b.name);
          if (spec?.deployment !== undefined) return visible(spec.deployment);
          return spec?.label !== undefined && b.deployments.length > 0 && b.deployments.every(visible);
        };
        return { ...r, budgets: (await budgetStatus({ store: costStore, spec: live.cost, nowMs, deployments: liveCost() })).filter(covered) };
      },
    });
    Object.assign(captureRoutes, { drift });
    registerFeedbackRoute(gateway.app, captureRoutes);
    registerCaptureExportRoute(adminApp, captureRoutes);
    registerMonitorRoute(adminApp, captureRoutes);
    controller.add(new CaptureRetention({
      clock, logger, store: captureStore, jsonl,
      configs: () => new Map(Object.keys(live.deployments).flatMap((d) => { const c = captureConfig(d); return c ? [[d, c] as const] : []; })),
    }));
    controller.enqueue(CAPTURE_RETENTION, ALL);

    // Desired state: the revision the spec file gives (recorded when it changed), converging from now on.
    const started = await control.start(loaded, specText);
    // A file that was not applied (joined, held) registered nothing: only what was recorded is said.
    for (const m of started.plan.models.filter((x) => started.recorded || !x.register)) progress({ kind: 'registered', model: m.model, version: m.version, created: m.register, sha256: m.sha256, source: relativeTo(loaded, m.model) });
    // What plan would warn of (features that miss columns, a public deployment, a cold start), said at start too.
    progress({ kind: 'revision', revision: started.revision, recorded: started.recorded, joined: started.joined === true, held: started.held !== undefined, plan: started.plan });
    for (const message of started.plan.warnings) progress({ kind: 'warning', message });
    if (started.held) progress({ kind: 'warning', message: started.held });
    if (started.joined) progress({ kind: 'warning', message: `other gateways serve this database: this one joined revision ${started.revision}, which they run; this spec file differs from it and was not applied ('aloft plan' shows how, 'aloft apply' applies it)` });
    life.own('control plane', () => control.close());
    const { url, adminUrl } = await listen(gateway, adminApp, host, opts.port ?? spec.server.port, spec.server.adminPort, tls !== undefined, life, spec.server.drainTimeout);
    listeningAt = { host, port: Number(new URL(url).port || (tls ? 443 : 80)) };
    adminAt.url = adminUrl;
    // Where the CLI finds this server, whatever the spec file says by now.
    await writeAddress(spec.state.dir, { url, adminUrl, startedAt: clock.date().toISOString() });
    progress({ kind: 'listening', url, adminUrl });

    controller.enqueue(DEPLOYMENTS, ALL);
    life.run('controller', (signal) => controller.start(signal));

    const running: RunningAloft = {
      url, adminUrl, server: gateway.app.server, spec: loaded, store, registry, orchestrator, gateway, audit, adminKey, controller, control,
      get deployments() { return control.deployments(); },
      revision: started.revision,
      waitReady: (timeoutMs = 120_000) => waitReady(orchestrator, control.deployments(), timeoutMs),
      async reloadTls() {
        if (!spec.security.tls) return;
        await reloadTls(gateway.app.server, spec.security.tls);
        if (adminApp !== gateway.app) await reloadTls(adminApp.server, spec.security.tls);
      },
      close: () => life.stop(),
    };
    return running;
  } catch (err) {
    await life.stop();
    throw err;
  }
}

/**
 * One server per state folder: a second one on the same folder would run replicas and
 * record revisions the first does not serve, and `status`/`plan` would then speak of a
 * spec nothing runs. The folder is claimed (server.json, without an address until the
 * gateway listens) before anything is opened; the claim of a process that died is taken
 * over. Released when this server stops.
 */
async function claimStateDir(dir: string, startedAt: string, life: Lifecycle): Promise<void> {
  await mkdir(dir, { recursive: true });
  const other = readAddress(dir);
  if (other && other.pid !== process.pid) {
    throw fail('ALOFT_USAGE', `another Aloft (pid ${other.pid}) ${other.url ? `serving ${other.url}` : 'starting'} uses the state folder ${dir}; stop it first (its changes go through 'aloft apply'), or give this server its own state.dir`);
  }
  await writeAddress(dir, { url: '', adminUrl: '', startedAt });
  life.own('state folder claim', () => removeAddress(dir));
}

function relativeTo(loaded: LoadedSpec, model: string): string {
  const path = loaded.spec.models[model]?.path ?? model;
  return relative(loaded.dir, path) || path;
}

/** Listen on the gateway's port (and the admin API's own, if it has one); both stop with the lifecycle, the gateway draining first. */
async function listen(gateway: Gateway, adminApp: FastifyInstance, host: string, port: number, adminPort: number | undefined, tls: boolean, life: Lifecycle, drainTimeoutMs: number): Promise<{ url: string; adminUrl: string }> {
  try {
    await gateway.app.listen({ host, port });
  } catch (err) {
    if ((err as { code?: string }).code === 'EADDRINUSE') throw fail('ALOFT_USAGE', `port ${port} on ${host} is already in use; stop the other server or pass --port`, { cause: err });
    throw err;
  }
  const origin = (app: FastifyInstance) => {
    const a = app.server.address();
    return `${tls ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${typeof a === 'object' && a ? a.port : port}`;
  };
  const url = origin(gateway.app);
  let adminUrl = url;
  if (adminApp !== gateway.app) {
    try {
      await adminApp.listen({ host, port: adminPort ?? 0 });
    } catch (err) {
      await gateway.app.close();
      if ((err as { code?: string }).code === 'EADDRINUSE') throw fail('ALOFT_USAGE', `admin port ${adminPort} on ${host} is already in use; change server.adminPort`, { cause: err });
      throw err;
    }
    adminUrl = origin(adminApp);
    life.own('admin API', () => adminApp.close());
  }
  life.own('gateway', async () => {
    gateway.drain();
    const drained = gateway.app.close();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([drained, new Promise<void>((r) => { timer = setTimeout(r, drainTimeoutMs); timer.unref(); })]);
    clearTimeout(timer);
  });
  return { url, adminUrl };
}

/** Resolves when every deployment has all its initial replicas ready; rejects on a terminal replica failure or after `timeoutMs`. */
function waitReady(orchestrator: Orchestrator, deployments: readonly ResolvedDeployment[], timeoutMs: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let done = false;
    const wasReady = new Set<string>();
    const check = () => {
      if (done) return;
      const status = orchestrator.status();
      const failed = status.find((r) => r.state === 'failed');
      if (failed) {
        finish();
        reject(fail('ALOFT_REPLICA_START', `replica ${failed.id} failed: ${failed.lastError ?? 'unknown error'}`));
        return;
      }
      // A group counts once it has had its initial replicas ready: one that may scale to zero can
      // be scaled down (idle) before a slower group is ready, and must not hold the start for ever.
      for (const d of deployments) {
        if (status.filter((r) => r.group === groupKey(d) && r.state === 'ready').length >= d.spec.replicas.initial) wasReady.add(groupKey(d));
      }
      const allReady = deployments.every((d) => wasReady.has(groupKey(d)));
      if (allReady) {
        finish();
        resolve();
      }
    };
    const timer = setTimeout(() => {
      finish();
      const waiting = orchestrator.status().filter((r) => r.state !== 'ready').map((r) => `${r.id} (${r.state}${r.lastError ? `: ${r.lastError}` : ''})`);
      reject(fail('ALOFT_REPLICA_START', `replicas not ready after ${timeoutMs} ms: ${waiting.join(', ')}`));
    }, timeoutMs);
    timer.unref();
    const finish = () => { done = true; clearTimeout(timer); };
    orchestrator.onChange(check);
    check();
  });
}
