/**
 * Aloft in one process (the embedded shape): the control plane and the gateway together,
 * replicas as child processes, state in SQLite (or PostgreSQL) and a content-addressed
 * artifact folder. `startAloft` is what `aloft up` runs; tests and embedders call it too.
 */
import type { Server } from 'node:http';
import { availableParallelism } from 'node:os';
import { join, relative } from 'node:path';
import { systemClock, type Clock } from './clock.js';
import { planGroups, groupKey, type ResolvedDeployment } from './control/plan.js';
import { LocalOrchestrator } from './control/orchestrators/local.js';
import { SplitOrchestrator } from './control/orchestrators/split.js';
import { ThreadOrchestrator } from './control/orchestrators/thread.js';
import { ThreadTransport } from './gateway/thread-transport.js';
import type { Orchestrator, ReplicaStatus } from './control/orchestrators/types.js';
import { fail } from './errors.js';
import { PowerOfTwoChoices } from './gateway/balancers/index.js';
import { Batcher } from './gateway/batcher.js';
import { ReplicaClient } from './gateway/replica-client.js';
import { ReplicaSet } from './gateway/replica-set.js';
import { RouteTable, type ServedVersion } from './gateway/route-table.js';
import { createGateway, createHttpServer, OIP_EXTENSIONS, type Gateway } from './gateway/server.js';
import { ModelStats } from './gateway/stats.js';
import { checkExposure, readTls, reloadTls } from './gateway/transport.js';
import { silentLogger, type Logger } from './log.js';
import { GatewayMetrics } from './monitor/metrics.js';
import { ArtifactStore, sweepPushLeftovers } from './registry/artifacts.js';
import { Registry } from './registry/registry.js';
import { replicaEntry } from './runtime/entry.js';
import { loadSpec } from './spec/load.js';
import type { LoadedSpec } from './spec/types.js';
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
import { redactSecrets } from './spec/secrets.js';
import { KeyRepository } from './store/keys.js';
import { VERSION } from './version.js';

/** Progress of long steps, for the CLI's output and progress bars. */
export type ProgressEvent =
  | { kind: 'registered'; model: string; version: number; created: boolean; sha256: string; source: string }
  | { kind: 'replicas'; deployment: string; version: number; ready: number; desired: number }
  | { kind: 'replica-failed'; id: string; error: string }
  | { kind: 'listening'; url: string; adminUrl: string }
  | { kind: 'warning'; message: string }
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
  routes: RouteTable;
  orchestrator: Orchestrator;
  deployments: ResolvedDeployment[];
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
  const { spec } = loaded;
  const host = opts.host ?? spec.server.host;
  const warnings = checkExposure({ host, tls: spec.security.tls !== undefined, authEnabled: spec.security.auth.enabled, insecure: opts.insecure === true });
  for (const message of warnings) progress({ kind: 'warning', message });
  const tls = spec.security.tls ? await readTls(spec.security.tls) : undefined;

  const store = await openStore({ url: opts.databaseUrl ?? process.env.ALOFT_DATABASE_URL ?? spec.state.database, stateDir: spec.state.dir });
  const cleanup: (() => Promise<void>)[] = [() => store.close()];
  try {
    const registry = new Registry(store, new ArtifactStore(join(spec.state.dir, 'artifacts')));
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
    const stopAuth = new AbortController();
    const authLoop = authenticator.start(stopAuth.signal);
    cleanup.unshift(async () => { stopAuth.abort(); await authLoop; });

    for (const [name, model] of Object.entries(spec.models)) {
      const source = relative(loaded.dir, model.path) || model.path;
      const { version, created } = await registry.register(name, model.path, {
        source, ...(model.description ? { description: model.description } : {}),
        record: (tx, v) => audit.append({ actor: SYSTEM_ACTOR, action: 'model.registered', target: `${name}@${v.version}`, source: 'system', after: { sha256: v.sha256, sizeBytes: v.sizeBytes, source } }, tx),
      });
      progress({ kind: 'registered', model: name, version: version.version, created, sha256: version.sha256, source });
    }
    await audit.append({ actor: SYSTEM_ACTOR, action: 'spec.applied', target: loaded.file, source: 'system', after: redactSecrets(loaded) });

    const deployments: ResolvedDeployment[] = [];
    for (const [name, dep] of Object.entries(spec.deployments)) {
      const v = await registry.resolve(dep.model);
      const artifactPath = await registry.open(v);
      deployments.push({ name, spec: dep, model: v.model, version: v.version, artifactPath, sha256: v.sha256 });
    }

    const threads = new ThreadOrchestrator({ logger, clock });
    const orchestrator = opts.orchestrator ?? new SplitOrchestrator(new LocalOrchestrator({ entry: replicaEntry(), logger, clock }), threads);
    const routes = new RouteTable();
    const sets = new Map<string, ReplicaSet>();
    const metrics = new GatewayMetrics({
      versions: () => routes.list().flatMap((dep) => [...dep.versions.values()].map((v) => ({
        deployment: dep.name, version: v.version, queued: v.batcher.queued, ready: v.replicas.readyCount(), desired: v.desiredReplicas,
      }))),
    });
    for (const d of deployments) {
      const v = await registry.getVersion(d.model, d.version);
      const replicas = new ReplicaSet({
        balancer: new PowerOfTwoChoices(),
        maxInFlightPerReplica: 2,
        clock,
        connect: (info) => {
          if (!info.url.startsWith('thread://')) return new ReplicaClient({ url: info.url, model: d.name, connections: 2 });
          const worker = threads.worker(info.url);
          if (worker) return new ThreadTransport(worker);
          // The thread ended between the status event and now: a transport that says so.
          return { infer: () => Promise.reject(fail('ALOFT_NOT_READY', 'the replica thread stopped')), abandon: () => undefined, close: async () => undefined };
        },
      });
      sets.set(groupKey(d.name, d.version), replicas);
      const stats = new ModelStats((size) => metrics.batch(d.name, d.version, size));
      const b = d.spec.batching;
      const batcher = new Batcher(replicas, {
        maxBatchSize: b.enabled ? b.maxBatchSize : 1,
        maxQueueDelayMs: b.enabled ? b.maxQueueDelay : 0,
        maxQueueSize: b.maxQueueSize,
        batchable: v.signature.batchable,
        // Every batch costs a round trip (HTTP to a process, a message and a wake-up to a
        // thread): send what one event-loop turn read as one batch.
        coalesce: true,
      }, clock, stats);
      const served: ServedVersion = {
        model: d.model, version: d.version, signature: v.signature, platform: 'onnxruntime_onnx',
        desiredReplicas: d.spec.replicas.initial, batcher, replicas, stats,
      };
      routes.set({ name: d.name, current: d.version, versions: new Map([[d.version, served]]), timeoutMs: d.spec.timeout });
    }

    const readyWaiters = new Set<() => void>();
    const onChange = (s: ReplicaStatus) => {
      const set = sets.get(s.group);
      if (!set) return;
      const ready = orchestrator.status().filter((r) => r.group === s.group && r.state === 'ready' && r.url);
      set.setEndpoints(ready.map((r) => ({ id: r.id, url: r.url! })));
      const d = deployments.find((x) => groupKey(x.name, x.version) === s.group);
      if (d) progress({ kind: 'replicas', deployment: d.name, version: d.version, ready: ready.length, desired: d.spec.replicas.initial });
      if (s.state === 'failed') progress({ kind: 'replica-failed', id: s.id, error: s.lastError ?? 'failed' });
      for (const w of readyWaiters) w();
    };
    orchestrator.onChange(onChange);
    cleanup.unshift(async () => {
      for (const dep of routes.list()) for (const v of dep.versions.values()) v.batcher.close();
      await orchestrator.stop();
      await Promise.all([...sets.values()].map((s) => s.close()));
    });

    const bursts = new FailureBurstDetector({
      clock,
      onBurst: (b) => { void audit.append(authFailuresEntry(b)).catch((err: unknown) => logger.warn({ err }, 'audit append failed')); },
    });
    const auth = {
      authenticator,
      policy: {
        enabled: spec.security.auth.enabled,
        isPublic: (d: string) => Object.hasOwn(spec.deployments, d) && spec.deployments[d]!.public,
        modelOf: (d: string) => { const r = routes.get(d); return r?.versions.get(r.current)?.model; },
      },
      onFailure: (f: { status: number; ip: string }) => { if (f.status === 401) bursts.record(f.ip); },
    };
    const limiter = await createRateLimiter(spec.limits, { logger, clock });
    cleanup.unshift(() => limiter.close());
    const budget = new BodyBudget(spec.server.bodyMemory);
    const gateway: Gateway = createGateway({
      routes, bodyLimit: spec.server.bodyLimit, bodyTimeoutMs: spec.server.bodyTimeout, budget, headersTimeoutMs: spec.server.headersTimeout,
      wire: spec.server.fastInferPath, logger, clock,
      info: { name: 'aloft', version: VERSION, extensions: OIP_EXTENSIONS },
      ...(tls ? { https: tls } : {}),
      metrics, auth,
      limits: {
        limiter, registry: metrics.registry,
        deploymentLimit: (name) => spec.deployments[name]?.limits,
        ...(spec.limits.perKey ? { perKeyDefault: spec.limits.perKey } : {}),
      },
    });
    // The admin API shares the gateway's port unless server.adminPort gives it its own.
    const adminApp = spec.server.adminPort === undefined ? gateway.app : createHttpServer({
      bodyLimit: spec.server.bodyLimit, bodyTimeoutMs: spec.server.bodyTimeout, budget, headersTimeoutMs: spec.server.headersTimeout, logger, ...(tls ? { https: tls } : {}),
    });
    if (adminApp !== gateway.app) registerAuth(adminApp, auth);
    adminRoutes(adminApp, { registry, routes, orchestrator, deployments, audit });
    registerKeyRoutes(adminApp, { keys, authenticator, audit, clock, logger });
    registerAuditRoutes(adminApp, { audit });
    const port = opts.port ?? spec.server.port;
    try {
      await gateway.app.listen({ host, port });
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (code === 'EADDRINUSE') throw fail('ALOFT_USAGE', `port ${port} on ${host} is already in use; stop the other server or pass --port`, { cause: err });
      throw err;
    }
    const addr = gateway.app.server.address();
    const actualPort = typeof addr === 'object' && addr ? addr.port : port;
    const origin = (p: number) => `${tls ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${p}`;
    const url = origin(actualPort);
    let adminUrl = url;
    if (adminApp !== gateway.app) {
      try {
        await adminApp.listen({ host, port: spec.server.adminPort ?? 0 });
      } catch (err) {
        await gateway.app.close();
        if ((err as { code?: string }).code === 'EADDRINUSE') throw fail('ALOFT_USAGE', `admin port ${spec.server.adminPort} on ${host} is already in use; change server.adminPort`, { cause: err });
        throw err;
      }
      const a = adminApp.server.address();
      adminUrl = origin(typeof a === 'object' && a ? a.port : spec.server.adminPort ?? 0);
      cleanup.unshift(() => adminApp.close());
    }
    let closing: Promise<void> | undefined;
    cleanup.unshift(async () => {
      gateway.drain();
      const drained = gateway.app.close();
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([drained, new Promise<void>((r) => { timer = setTimeout(r, spec.server.drainTimeout); timer.unref(); })]);
      clearTimeout(timer);
    });
    progress({ kind: 'listening', url, adminUrl });

    await orchestrator.apply(planGroups(deployments, opts.cores ?? availableParallelism()));

    const running: RunningAloft = {
      url, adminUrl, server: gateway.app.server, spec: loaded, store, registry, routes, orchestrator, deployments, audit, adminKey,
      waitReady(timeoutMs = 120_000) {
        return new Promise<void>((resolve, reject) => {
          const check = () => {
            const status = orchestrator.status();
            const failed = status.find((r) => r.state === 'failed');
            if (failed) {
              done();
              reject(fail('ALOFT_REPLICA_START', `replica ${failed.id} failed: ${failed.lastError ?? 'unknown error'}`));
              return;
            }
            const allReady = deployments.every((d) => status.filter((r) => r.group === groupKey(d.name, d.version) && r.state === 'ready').length >= d.spec.replicas.initial);
            if (allReady) {
              done();
              resolve();
            }
          };
          const timer = setTimeout(() => {
            done();
            const waiting = orchestrator.status().filter((r) => r.state !== 'ready').map((r) => `${r.id} (${r.state}${r.lastError ? `: ${r.lastError}` : ''})`);
            reject(fail('ALOFT_REPLICA_START', `replicas not ready after ${timeoutMs} ms: ${waiting.join(', ')}`));
          }, timeoutMs);
          timer.unref();
          const done = () => { clearTimeout(timer); readyWaiters.delete(check); };
          readyWaiters.add(check);
          check();
        });
      },
      async reloadTls() {
        if (!spec.security.tls) return;
        await reloadTls(gateway.app.server, spec.security.tls);
        if (adminApp !== gateway.app) await reloadTls(adminApp.server, spec.security.tls);
      },
      close() {
        closing ??= (async () => {
          for (const step of cleanup) {
            try { await step(); } catch (err) { logger.warn({ err }, 'error during shutdown'); }
          }
        })();
        return closing;
      },
    };
    return running;
  } catch (err) {
    for (const step of cleanup) await step().catch(() => undefined);
    throw err;
  }
}
