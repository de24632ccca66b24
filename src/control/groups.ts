/**
 * From desired state (spec deployments resolved to registered versions) to the replica
 * groups an orchestrator runs. Pure: the same input gives the same groups.
 */
import { createHash } from 'node:crypto';
import type { ModelSignature } from '../runtime/tensor.js';
import type { DeploymentSpec } from '../spec/types.js';
import type { ReplicaGroup } from './orchestrators/types.js';

export interface ResolvedDeployment {
  name: string;
  spec: DeploymentSpec;
  model: string;
  version: number;
  artifactPath: string;
  sha256: string;
  /** What the version accepts and returns (from the registry). */
  signature: ModelSignature;
  /**
   * Desired by a rollback: the deployment switches to this version once its replicas are
   * warm, with no canary, blue-green or shadow phase (a rollback is instant, as Argo
   * Rollouts' rollbackWindow makes it). The next apply rolls out as its strategy says.
   */
  rollback?: boolean;
}

/**
 * ONNX Runtime intra-op threads for `auto`: the machine's cores shared evenly among every
 * replica Aloft runs, at least one each. Oversubscribing cores makes every replica slower.
 */
export function autoThreads(cores: number, totalReplicas: number): number {
  return Math.max(1, Math.floor(cores / Math.max(1, totalReplicas)));
}

/**
 * The replicas `auto` threads are shared among: a fixed count as written, a range at its
 * `max`. A range is sized for the count the autoscaler may reach, because a running group
 * keeps its threads: sized at the starting count, a range of 1 to 4 on 2 cores would run
 * 4 replicas of 2 threads each once scaled up, 8 threads fighting over 2 cores.
 */
export function replicasSharingCores(deployments: readonly { spec: Pick<ResolvedDeployment['spec'], 'replicas'> }[]): number {
  return deployments.reduce((n, d) => n + d.spec.replicas.max, 0);
}

/**
 * The key of a deployment's replica group: `credit-risk@2.5f3a9c`, the deployment, the
 * model version and a digest of what its replicas run (the artifact and the declared
 * runtime settings, `auto` threads as written). Any change a replica must restart for gives
 * a new key, so the reconciler brings it up beside the old group and switches at once;
 * a replica count, batching or timeout change keeps the key (no restart).
 */
export function groupKey(d: Pick<ResolvedDeployment, 'name' | 'version' | 'sha256' | 'model' | 'spec'>): string {
  const r = d.spec.runtime;
  const identity = JSON.stringify([d.model, d.sha256, r.intraOpThreads, r.interOpThreads, r.graphOptimization, r.executionMode, r.allowSpinning, r.isolation]);
  return `${d.name}@${d.version}.${createHash('sha256').update(identity).digest('hex').slice(0, 6)}`;
}

/**
 * The replica groups of the desired deployments. `auto` intra-op threads are sized over
 * every replica desired (a range at its max, replicasSharingCores); `running` are the groups already running, which keep the
 * thread count they started with (a replica count change never restarts replicas).
 */
export function planGroups(deployments: readonly ResolvedDeployment[], cores: number, running: ReadonlyMap<string, ReplicaGroup> = new Map(), replicasOf?: (d: ResolvedDeployment, key: string) => number | undefined): ReplicaGroup[] {
  const total = replicasSharingCores(deployments);
  return deployments.map((d) => {
    const key = groupKey(d);
    // The autoscaler owns the count of a range (within min and max); a fixed count is the spec's.
    // Clamped to the range as it is now: an apply that raised min (or lowered max) takes effect in this pass, before the autoscaler's next decision.
    const scaled = replicasOf?.(d, key);
    const replicas = scaled === undefined ? d.spec.replicas.initial : Math.min(d.spec.replicas.max, Math.max(d.spec.replicas.min, scaled));
    const existing = running.get(key);
    if (existing) return { ...existing, replicas };
    return { ...fresh(d, key, cores, total), replicas };
  });
}

/** ONNX Runtime intra-op threads of a replica: as written, else the vCPUs it reserves (resources.cpu, at least 1), else the 'auto' share of the cores. */
export function threadsOf(spec: ResolvedDeployment['spec'], cores: number, totalReplicas: number): number {
  const t = spec.runtime.intraOpThreads;
  if (t !== 'auto') return t;
  return spec.resources.cpu !== undefined ? Math.max(1, Math.floor(spec.resources.cpu)) : autoThreads(cores, totalReplicas);
}

/**
 * The intra-op threads a deployment's replicas run: those of its group when that group runs
 * already (a running group keeps the count it started with, whatever the 'auto' share is
 * now), else what a new group would get (threadsOf).
 */
export function runningThreads(
  d: Pick<ResolvedDeployment, 'name' | 'version' | 'sha256' | 'model' | 'spec'>, cores: number, totalReplicas: number,
  running?: (key: string) => ReplicaGroup | undefined,
): number {
  return running?.(groupKey(d))?.spec.runtime.intraOpThreads ?? threadsOf(d.spec, cores, totalReplicas);
}

function fresh(d: ResolvedDeployment, key: string, cores: number, total: number): ReplicaGroup {
  return {
    key,
    deployment: d.name,
    replicas: d.spec.replicas.initial,
    spec: {
      servedAs: d.name,
      model: d.model,
      version: d.version,
      sha256: d.sha256,
      artifact: d.artifactPath,
      runtime: {
        intraOpThreads: threadsOf(d.spec, cores, total),
        interOpThreads: d.spec.runtime.interOpThreads,
        graphOptimization: d.spec.runtime.graphOptimization,
        executionMode: d.spec.runtime.executionMode,
        allowSpinning: d.spec.runtime.allowSpinning,
      },
      isolation: d.spec.runtime.isolation,
    },
  };
}
