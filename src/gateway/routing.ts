/**
 * Routes as data. The controller computes a `RouteConfig` (deployment → versions, which
 * one unversioned requests go to, each version's replica group, signature and batching)
 * and every gateway applies it with `apply`, at one instant: the route table the pipeline
 * reads is replaced whole, so a request sees either the old routes or the new ones. The
 * same config can be sent to gateways in other processes (it is plain JSON).
 *
 * Behind the table, the gateway keeps per replica group a replica set (its endpoints come
 * from `setEndpoints`, as the orchestrator reports replicas) and per group and batching
 * settings a batcher. A version that leaves the config is retired: it takes no new
 * requests but finishes what it has queued and in flight; `status()` says when it is idle,
 * and `drop()` releases it once its replicas are gone. A version whose batching changes
 * gets a new batcher over the same replicas (no restart), the old one drains the same way.
 */
import { Admission, type AdmissionOptions } from './admission.js';
import type { Clock } from '../clock.js';
import type { GatewayMetrics } from '../monitor/metrics.js';
import { PLATFORM } from '../runtime/replica-spec.js';
import type { ModelSignature } from '../runtime/tensor.js';
import { PowerOfTwoChoices } from './balancers/index.js';
import { Batcher } from './batcher.js';
import { ReplicaSet, type EndpointInfo, type ReplicaTransport } from './replica-set.js';
import { RouteTable, TICKETS, versionState, type DeploymentRoute, type ServedVersion, type ShadowRoute, type TrafficSplit, type VersionState } from './route-table.js';
import { ModelStats } from './stats.js';

/** How a version's replicas are reached: HTTP to a process (or pod), messages to a thread. */
export type TransportKind = 'http' | 'thread';

export interface BatchingConfig {
  /** 1 disables batching. */
  maxBatchSize: number;
  maxQueueDelayMs: number;
  maxQueueSize: number;
  /**
   * Send what one event-loop turn read as one batch (batcher.ts `coalesce`). Default true:
   * every batch costs a round trip to a replica (HTTP to a process, a message and a
   * wake-up to a thread).
   */
  coalesce?: boolean;
}

/** One model version a deployment routes to. */
export interface VersionRoute {
  /** The replica group that serves it, e.g. "credit-risk@3". */
  group: string;
  /** The registered model and version. */
  model: string;
  version: number;
  signature: ModelSignature;
  batching: BatchingConfig;
  transport: TransportKind;
  /** Replicas the group should have, for readiness messages. */
  desiredReplicas: number;
  /** Autoscaled with min 0: at zero replicas it still accepts requests (they wait while one starts). */
  scalesFromZero?: boolean;
  /** Admission control of the version's queue (admission.ts). Default: none (only maxQueueSize bounds it). */
  admission?: AdmissionOptions;
  /**
   * Percent of the deployment's unversioned requests (a canary step, an A/B split). When
   * any version of a deployment has a weight, all its weights must sum to 100; without
   * weights every unversioned request goes to `current`. A weight of 0 drains a version:
   * it keeps only requests that name it.
   */
  weight?: number;
}

export interface DeploymentRouteConfig {
  name: string;
  /** Per-request deadline, ms. */
  timeoutMs: number;
  /** The version unversioned requests go to without weights, and whose metadata the deployment shows; one of `versions`. */
  current: number;
  versions: VersionRoute[];
  /** With weights: assign callers by their key (API key or token subject), so one caller always meets the same version. */
  sticky?: boolean;
  /** With sticky: assign by this request header's value (lower case) where a request has it. */
  stickyHeader?: string;
  /** Unversioned inference requests of these callers (key names or token subjects) go to `version` (a blue-green preview). */
  preview?: { version: number; names: string[] };
  /**
   * Copy a `sample` share of the answered unversioned requests to `version` (a shadow
   * rollout, shadow.ts): its answers are compared with the primary's, never returned.
   */
  shadow?: { version: number; sample: number; compare: 'argmax' | 'absdiff'; tolerance: number; queue: number };
}

/** Everything a gateway routes, as data (JSON). */
export interface RouteConfig {
  deployments: DeploymentRouteConfig[];
}

export interface VersionStatus {
  deployment: string;
  group: string;
  version: number;
  model: string;
  /** In the route table (false: retired, finishing its work). */
  routed: boolean;
  /** Requests queued or in flight. */
  busy: number;
  queued: number;
  ready: number;
  desiredReplicas: number;
  state: VersionState;
  reason?: string;
}

export interface RoutingOptions {
  clock: Clock;
  /** The transport to one replica of a version (`deployment`: the name its replicas serve the model under). */
  connect(kind: TransportKind, endpoint: EndpointInfo, version: VersionRoute & { deployment: string }): ReplicaTransport;
  metrics?: GatewayMetrics | undefined;
  /** Batches in flight per replica. Default 2: a replica starts the next batch while the last one's answer travels. */
  maxInFlightPerReplica?: number;
}

interface Group {
  key: string;
  replicas: ReplicaSet;
  stats: ModelStats;
  /** The version's settings the group was last routed with. */
  route: VersionRoute;
  deployment: string;
  /** The current batcher, and its settings. */
  batcher: Batcher;
  batching: string;
  /** Batchers replaced by a batching change, finishing their queue. */
  old: Batcher[];
  routed: boolean;
}

/** The traffic split of a deployment's weights, or undefined without weights. Throws on weights that do not make 100. */
function splitOf(d: DeploymentRouteConfig, versions: ReadonlyMap<number, ServedVersion>): TrafficSplit | undefined {
  const weighted = d.versions.filter((v) => v.weight !== undefined);
  if (weighted.length === 0) return undefined;
  if (weighted.length !== d.versions.length) throw new Error(`route config: deployment '${d.name}' gives weights to some versions but not all`);
  const bad = weighted.find((v) => !Number.isFinite(v.weight) || v.weight! < 0 || v.weight! > 100);
  if (bad) throw new Error(`route config: deployment '${d.name}' version ${bad.version} has weight ${bad.weight}; weights are percentages 0-100`);
  const total = weighted.reduce((n, v) => n + v.weight!, 0);
  if (Math.abs(total - 100) > 1e-9) throw new Error(`route config: deployment '${d.name}' weights sum to ${total}, not 100`);
  const bounds: number[] = [];
  const served: ServedVersion[] = [];
  let acc = 0;
  for (const v of weighted) {
    if (v.weight === 0) continue;
    acc += v.weight!;
    bounds.push(Math.round((acc / 100) * TICKETS));
    served.push(versions.get(v.version)!);
  }
  bounds[bounds.length - 1] = TICKETS;
  return { bounds, served, sticky: d.sticky === true, ...(d.stickyHeader ? { stickyHeader: d.stickyHeader } : {}) };
}

/** A listed version of a deployment's config, or a config error. */
function listed(d: DeploymentRouteConfig, versions: ReadonlyMap<number, ServedVersion>, version: number, what: string): ServedVersion {
  const v = versions.get(version);
  if (!v) throw new Error(`route config: deployment '${d.name}' ${what} version ${version}, which it does not list`);
  return v;
}

function shadowOf(d: DeploymentRouteConfig, versions: ReadonlyMap<number, ServedVersion>): ShadowRoute | undefined {
  const sh = d.shadow;
  if (!sh) return undefined;
  if (!(sh.sample > 0 && sh.sample <= 1)) throw new Error(`route config: deployment '${d.name}' shadows a share of ${sh.sample}; use a share in (0, 1]`);
  if (sh.version === d.current) throw new Error(`route config: deployment '${d.name}' shadows the version it serves (${sh.version})`);
  const served = listed(d, versions, sh.version, 'shadows');
  const primary = versions.get(d.current)!;
  const validate = JSON.stringify(served.signature.inputs) !== JSON.stringify(primary.signature.inputs);
  return { served, below: Math.round(sh.sample * TICKETS), compare: sh.compare, tolerance: sh.tolerance, queue: sh.queue, validate };
}

const key = (b: BatchingConfig) => `${b.maxBatchSize}/${b.maxQueueDelayMs}/${b.maxQueueSize}/${b.coalesce !== false}`;

export class Routing {
  /** What the serving pipeline reads; replaced whole by `apply`. */
  readonly table = new RouteTable();
  readonly #opts: RoutingOptions;
  readonly #groups = new Map<string, Group>();
  #config: RouteConfig = { deployments: [] };

  constructor(opts: RoutingOptions) {
    this.#opts = opts;
  }

  /** The config applied last. */
  get config(): RouteConfig {
    return this.#config;
  }

  /** Route exactly `config`, at one instant. */
  apply(config: RouteConfig): void {
    const next = new Map<string, DeploymentRoute>();
    const routed = new Set<string>();
    for (const d of config.deployments) {
      const versions = new Map<number, ServedVersion>();
      for (const v of d.versions) {
        versions.set(v.version, this.#serve(d.name, v));
        routed.add(v.group);
      }
      if (!versions.has(d.current)) throw new Error(`route config: deployment '${d.name}' routes to version ${d.current}, which it does not list`);
      const split = splitOf(d, versions);
      const shadow = shadowOf(d, versions);
      const preview = d.preview ? { served: listed(d, versions, d.preview.version, 'previews'), names: new Set(d.preview.names) } : undefined;
      next.set(d.name, { name: d.name, current: d.current, timeoutMs: d.timeoutMs, versions, ...(split ? { split } : {}), ...(shadow ? { shadow } : {}), ...(preview ? { preview } : {}) });
    }
    for (const [name, g] of this.#groups) g.routed = routed.has(name);
    this.table.replace(next);
    this.#config = structuredClone(config);
  }

  /** The ready replicas of a group (level-based: the full list). */
  setEndpoints(group: string, endpoints: readonly EndpointInfo[]): void {
    this.#groups.get(group)?.replicas.setEndpoints(endpoints);
  }

  /** Every version the gateway holds, routed or retired. */
  status(): VersionStatus[] {
    return [...this.#groups.values()].map((g) => {
      const queued = g.batcher.queued + g.old.reduce((n, b) => n + b.queued, 0);
      const busy = g.batcher.busy + g.old.reduce((n, b) => n + b.busy, 0);
      const s = versionState(this.#served(g));
      return {
        deployment: g.deployment, group: g.key, version: g.route.version, model: g.route.model, routed: g.routed,
        busy, queued, ready: g.replicas.readyCount(), desiredReplicas: g.route.desiredReplicas, state: s.state, ...(s.reason ? { reason: s.reason } : {}),
      };
    });
  }

  /** Release a retired group (its replicas are stopped): what is still queued there fails with 503. */
  async drop(group: string): Promise<void> {
    const g = this.#groups.get(group);
    if (!g || g.routed) return;
    this.#groups.delete(group);
    for (const b of [g.batcher, ...g.old]) b.close();
    await g.replicas.close();
  }

  /** Stop everything: queued requests fail with 503, connections to replicas close. */
  async close(): Promise<void> {
    const groups = [...this.#groups.values()];
    for (const g of groups) for (const b of [g.batcher, ...g.old]) b.close();
    await Promise.all(groups.map((g) => g.replicas.close()));
  }

  #served(g: Group): ServedVersion {
    return {
      group: g.key, model: g.route.model, version: g.route.version, signature: g.route.signature, platform: PLATFORM,
      desiredReplicas: g.route.desiredReplicas, ...(g.route.scalesFromZero ? { scalesFromZero: true } : {}), batcher: g.batcher, replicas: g.replicas, stats: g.stats,
    };
  }

  /** The served version for a route, reusing the group's replicas and, where the batching is unchanged, its batcher. */
  #serve(deployment: string, v: VersionRoute): ServedVersion {
    const { clock, metrics } = this.#opts;
    let g = this.#groups.get(v.group);
    if (!g) {
      const replicas = new ReplicaSet({
        balancer: new PowerOfTwoChoices(), maxInFlightPerReplica: this.#opts.maxInFlightPerReplica ?? 2, clock,
        connect: (info) => this.#opts.connect(v.transport, info, { ...v, deployment }),
      });
      const stats = new ModelStats(metrics ? (size) => metrics.batch(deployment, v.version, size) : undefined);
      g = { key: v.group, replicas, stats, route: v, deployment, batcher: this.#batcher(replicas, v, stats), batching: key(v.batching), old: [], routed: true };
      this.#groups.set(v.group, g);
    } else if (g.batching !== key(v.batching) || g.route.signature.batchable !== v.signature.batchable || JSON.stringify(g.route.admission) !== JSON.stringify(v.admission)) {
      g.old.push(g.batcher);
      const drained = g.batcher;
      g.batcher = this.#batcher(g.replicas, v, g.stats);
      g.batching = key(v.batching);
      // A replaced batcher takes no new requests (the table no longer names it) and goes once its queue is empty.
      void drained.idle().then(() => {
        drained.close();
        const group = this.#groups.get(v.group);
        if (group) group.old = group.old.filter((b) => b !== drained);
      });
    }
    g.route = v;
    g.deployment = deployment;
    return this.#served(g);
  }

  #batcher(replicas: ReplicaSet, v: VersionRoute, stats: ModelStats): Batcher {
    return new Batcher(replicas, {
      maxBatchSize: v.batching.maxBatchSize,
      maxQueueDelayMs: v.batching.maxQueueDelayMs,
      maxQueueSize: v.batching.maxQueueSize,
      batchable: v.signature.batchable,
      coalesce: v.batching.coalesce !== false,
      ...(v.admission && v.admission.limit !== 'off' ? { admission: new Admission(v.admission) } : v.admission?.refuseLate ? { admission: new Admission(v.admission) } : {}),
    }, this.#opts.clock, stats);
  }
}
