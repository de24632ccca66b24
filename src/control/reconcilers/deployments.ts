/**
 * The deployments reconciler: makes what runs (the orchestrator's replica groups) and what
 * is routed (the gateway's route config) match the desired deployments, without dropping a
 * request. Level-based: every pass reads the desired deployments, the orchestrator's
 * replicas and the gateway's routing status, and takes the next step; any replica change
 * or desired-state change enqueues a pass, and a pass that is mid-transition asks to be
 * run again shortly.
 *
 * A deployment moving to another replica group (a new model version, or replica settings
 * that need new replicas) goes through these states, one pass at a time:
 *   1. the new group is started beside the old one; the route stays on the old group;
 *   2. once every replica of the new group is ready, the route switches at one instant
 *      (gateway routing.apply);
 *   3. the old group takes no new requests and finishes its queue and in-flight batches;
 *   4. once it is idle, it is stopped and released.
 * A deployment with no route yet is routed to its group at once (requests wait for the
 * first replica, as at startup). Replica counts within a group change in place; batching
 * and timeouts change in the route config without new replicas.
 *
 * Endpoints follow replicas at once: every replica change updates the gateway's endpoints
 * for its group synchronously, so no batch is sent to a replica after it stops being ready.
 */
import { failpoint } from '../../failpoints.js';
import type { Rollouts } from '../rollouts.js';
import type { Orchestrator, ReplicaGroup, ReplicaStatus } from '../orchestrators/types.js';
import type { Reconciler, ReconcileResult } from '../controller.js';
import { planGroups, type ResolvedDeployment } from '../groups.js';
import type { DeploymentRouteConfig, RouteConfig, Routing, VersionRoute } from '../../gateway/routing.js';
import type { AdmissionOptions } from '../../gateway/admission.js';

export const DEPLOYMENTS = 'deployments';
/** The one key: replica groups are applied as a whole set. */
export const ALL = 'all';

export interface DeploymentsReconcilerOptions {
  /** The deployments as they should be (resolved to exact model versions). */
  desired(): readonly ResolvedDeployment[];
  orchestrator: Orchestrator;
  routing: Routing;
  /** Cores to size `intraOpThreads: auto` against. */
  cores: number;
  /** Ask the controller for a pass (the reconciler calls it on replica changes). */
  enqueue(): void;
  /** How soon a pass mid-transition looks again. Default 50 ms. */
  pollMs?: number;
  /** Told after every pass what it found (the control plane tracks an apply's convergence with it). */
  onPass?(report: PassReport): void;
  /** Rollouts: the steps and analysis of deployments that declare a `rollout.strategy` other than replace. */
  rollouts?: Rollouts;
  /** The autoscaler's count for a deployment's group, when it scales it (control/autoscaler.ts). */
  replicas?(deployment: string, group: string): number | undefined;
}

/** What one pass found. */
export interface PassReport {
  /** The desired deployments the pass converged towards (the very array `desired()` returned). */
  desired: readonly ResolvedDeployment[];
  /** Every deployment is routed to its group, every group has all its replicas ready, and nothing else runs or drains. */
  converged: boolean;
  /** A desired group has a replica that failed terminally (it will not be restarted), or its canary was rolled back (`rolledBack`). */
  failed?: { deployment: string; group: string; reason: string; rolledBack?: boolean };
  /** Per deployment: its target group's ready replicas and the group routed now. */
  deployments: { name: string; group: string; routed: string | undefined; ready: number; desired: number }[];
}

export class DeploymentsReconciler implements Reconciler {
  readonly name = DEPLOYMENTS;
  readonly #o: DeploymentsReconcilerOptions;
  /** The groups last handed to the orchestrator, by key (what it runs). */
  #applied = new Map<string, ReplicaGroup>();

  constructor(o: DeploymentsReconcilerOptions) {
    this.#o = o;
    o.orchestrator.onChange((s) => {
      this.#syncEndpoints(s.group);
      o.enqueue();
    });
  }

  /** The group last handed to the orchestrator under this key (what its replicas run), if any. */
  group(key: string): ReplicaGroup | undefined {
    return this.#applied.get(key);
  }

  async reconcile(): Promise<ReconcileResult | void> {
    const { orchestrator, routing } = this.#o;
    const desired = this.#o.desired();
    const targets = planGroups(desired, this.#o.cores, this.#applied, this.#o.replicas ? (d, key) => this.#o.replicas!(d.name, key) : undefined);
    const status = orchestrator.status();
    const ready = (group: string) => status.filter((r) => r.group === group && r.state === 'ready').length;
    const previous = new Map(routing.config.deployments.map((d) => [d.name, d]));
    const routedBefore = new Set(routing.status().filter((v) => v.routed).map((v) => v.group));

    const keep = new Map<string, ReplicaGroup>();
    const routes: DeploymentRouteConfig[] = [];
    let transitioning = false;
    let switched = false;
    let rolledBack: PassReport['failed'];
    desired.forEach((d, i) => {
      const target = targets[i]!;
      keep.set(target.key, target);
      const route = versionRoute(d, target);
      const prev = previous.get(d.name);
      // During a rollout the config routes two groups; the one it moves from is the other one
      // while the target is the candidate of a rollout not promoted (under way, or rolled back
      // and routed back). Otherwise (promoted, or a reverted desired state going back to a
      // group that is still routed) the target's own.
      const prevRoute = prev && prev.versions.length > 1 && prev.versions.some((v) => v.group === target.key)
        ? (this.#o.rollouts?.isCandidate(d.name, target.key) ? prev.versions.find((v) => v.group !== target.key) : prev.versions.find((v) => v.group === target.key))
        : prev?.versions.find((v) => v.version === prev.current);
      let current = route;
      /** Keep the group a rollout moves from; its route, with the count it now has. */
      const holdOld = (): VersionRoute => {
        const old = this.#applied.get(prevRoute!.group);
        // The group a rollout moves from keeps serving its share; the autoscaler sizes it by that share (a range), else it keeps its count.
        const scaled = old ? this.#o.replicas?.(d.name, old.key) : undefined;
        if (old) keep.set(old.key, scaled !== undefined ? { ...old, replicas: scaled } : old);
        transitioning = true;
        const { weight: _w, ...baseline } = prevRoute!;
        return scaled !== undefined ? { ...baseline, desiredReplicas: scaled } : baseline;
      };
      if (prevRoute && prevRoute.group !== target.key) {
        const warm = ready(target.key) >= target.replicas;
        // A canary or blue-green rollout (a new version, not only new replica settings) moves as control/rollouts.ts decides.
        // A new version with the very bytes of the one serving (the same file pushed again) has
        // nothing to analyse: it switches once warm, as a replace does.
        const sameBytes = this.#applied.get(prevRoute.group)?.spec.sha256 === d.sha256;
        // A rollback (d.rollback) switches once warm too: it goes back to what served before, at once.
        const decision = d.spec.rollout.strategy !== 'replace' && this.#o.rollouts && prevRoute.version !== d.version && !sameBytes && d.rollback !== true
          ? this.#o.rollouts.decide(d.name, d.spec.rollout, { version: prevRoute.version, group: prevRoute.group }, { version: d.version, group: target.key }, warm, desired)
          : warm ? { kind: 'promoted' as const } : { kind: 'warming' as const };
        if (decision.kind === 'split') {
          const baseline = holdOld();
          const current = decision.current === 'candidate' ? route.version : prevRoute.version;
          const r = d.spec.rollout;
          routes.push({
            name: d.name, timeoutMs: d.spec.timeout, current, versions: [{ ...baseline, weight: 100 - decision.weight }, { ...route, weight: decision.weight }],
            ...(decision.sticky ? { sticky: true, ...(r.stickyHeader ? { stickyHeader: r.stickyHeader } : {}) } : {}),
            ...(decision.preview && r.previewKeys.length > 0 ? { preview: { version: route.version, names: [...r.previewKeys] } } : {}),
          });
          return;
        }
        if (decision.kind === 'shadow') {
          // The baseline answers everything; the candidate gets copies (gateway/shadow.ts).
          const baseline = holdOld();
          const { weight: _c, ...candidate } = route;
          const sh = d.spec.rollout.shadow;
          routes.push({
            name: d.name, timeoutMs: d.spec.timeout, current: prevRoute.version, versions: [baseline, candidate],
            shadow: { version: route.version, sample: sh.sample, compare: shadowCompare(sh.compare, d), tolerance: sh.tolerance, queue: sh.queue },
          });
          return;
        }
        if (decision.kind === 'promoted') {
          // Every new replica is warm (and a canary passed its steps): switch now; the old group drains (below).
          switched = true;
        } else {
          // Keep serving from the old group: the new one is warming, or its canary was rolled back.
          current = holdOld();
          if (decision.kind === 'rolled_back') rolledBack = { deployment: d.name, group: target.key, reason: decision.reason, rolledBack: true };
        }
      }
      const { weight: _weight, ...only } = current;
      routes.push({ name: d.name, timeoutMs: d.spec.timeout, current: current.version, versions: [only] });
      // One version serves alone: an ended rollout that put another one there is history now.
      if (current === route) this.#o.rollouts?.serving(d.name, current.version);
    });
    const config: RouteConfig = { deployments: routes };
    routing.apply(config);
    if (switched) failpoint('apply.switched');

    // Groups no longer routed: kept while they have work, then stopped and released.
    const routedNow = new Set(routes.map((r) => r.versions[0]!.group));
    for (const v of routing.status()) {
      if (routedNow.has(v.group) || keep.has(v.group)) continue;
      const old = this.#applied.get(v.group);
      if (old && (v.busy > 0 || routedBefore.has(v.group))) {
        keep.set(old.key, old);
        transitioning = true;
        failpoint('apply.draining');
      }
    }
    const starting = [...keep.keys()].some((k) => !this.#applied.has(k)) && this.#applied.size > 0;
    await orchestrator.apply([...keep.values()]);
    if (starting) failpoint('apply.starting');
    this.#applied = keep;
    for (const g of keep.keys()) this.#syncEndpoints(g);
    for (const v of routing.status()) if (!v.routed && !keep.has(v.group)) await routing.drop(v.group);
    this.#o.onPass?.(this.#report(desired, targets, routes, transitioning, rolledBack));
    return transitioning ? { requeueAfterMs: this.#o.pollMs ?? 50 } : undefined;
  }

  #report(desired: readonly ResolvedDeployment[], targets: readonly ReplicaGroup[], routes: readonly DeploymentRouteConfig[], transitioning: boolean, rolledBack: PassReport['failed']): PassReport {
    const status = this.#o.orchestrator.status();
    const wanted = new Set(targets.map((t) => t.key));
    const deployments = targets.map((t, i) => ({
      name: t.deployment, group: t.key, routed: routes[i]?.versions[0]?.group,
      ready: status.filter((r) => r.group === t.key && r.state === 'ready').length, desired: t.replicas,
    }));
    const extra = status.some((r) => !wanted.has(r.group) && r.state !== 'stopped') || this.#o.routing.status().some((v) => !wanted.has(v.group));
    const converged = !transitioning && !extra && deployments.every((d) => d.routed === d.group && d.ready >= d.desired);
    const broken = status.find((r) => wanted.has(r.group) && r.state === 'failed');
    const failed = rolledBack ?? (broken ? { deployment: broken.deployment, group: broken.group, reason: broken.lastError ?? 'a replica failed' } : undefined);
    return { desired, converged, deployments, ...(failed ? { failed } : {}) };
  }

  /** The gateway's endpoints of a group: its ready replicas now. */
  #syncEndpoints(group: string): void {
    const ready = this.#o.orchestrator.status().filter((r: ReplicaStatus) => r.group === group && r.state === 'ready' && r.url);
    this.#o.routing.setEndpoints(group, ready.map((r) => ({ id: r.id, url: r.url!, ...(r.socket !== undefined ? { socket: r.socket } : {}) })));
  }
}

/** 'auto' resolved by the candidate's first output: argmax for 2 to 64 scores per row, else absdiff. */
function shadowCompare(compare: 'auto' | 'argmax' | 'absdiff', d: ResolvedDeployment): 'argmax' | 'absdiff' {
  if (compare !== 'auto') return compare;
  const first = d.signature.outputs[0];
  const width = first && first.shape.length >= 2 ? first.shape[first.shape.length - 1]! : 1;
  return width >= 2 && width <= 64 ? 'argmax' : 'absdiff';
}

/** What the gateway needs to route to a deployment's group. */
export function versionRoute(d: ResolvedDeployment, group: ReplicaGroup): VersionRoute {
  const b = d.spec.batching;
  return {
    group: group.key, model: d.model, version: d.version, signature: d.signature,
    batching: { maxBatchSize: b.enabled ? b.maxBatchSize : 1, maxQueueDelayMs: b.enabled ? b.maxQueueDelay : 0, maxQueueSize: b.maxQueueSize },
    transport: group.spec.isolation === 'thread' ? 'thread' : 'http',
    desiredReplicas: group.replicas,
    ...(d.spec.autoscaling && d.spec.replicas.min === 0 ? { scalesFromZero: true } : {}),
    admission: admissionOf(d.spec),
  };
}

/** The admission settings of a route, the adaptive limit's bounds defaulted from the batching. */
function admissionOf(spec: ResolvedDeployment['spec']): AdmissionOptions {
  const a = spec.admission;
  const b = spec.batching;
  const maxLimit = a.maxLimit ?? Math.max(b.maxQueueSize, a.minLimit ?? 1);
  return { limit: a.limit, minLimit: a.minLimit ?? Math.min(maxLimit, Math.max(16, b.enabled ? b.maxBatchSize : 1)), maxLimit, refuseLate: a.refuseLate };
}
