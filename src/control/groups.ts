/**
 * From desired state (spec deployments resolved to registered versions) to the replica
 * groups an orchestrator runs. Pure: the same input gives the same groups.
 */
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
}

/**
 * ONNX Runtime intra-op threads for `auto`: the machine's cores shared evenly among every
 * replica Aloft runs, at least one each. Oversubscribing cores makes every replica slower.
 */
export function autoThreads(cores: number, totalReplicas: number): number {
  return Math.max(1, Math.floor(cores / Math.max(1, totalReplicas)));
}

export function groupKey(deployment: string, version: number): string {
  return `${deployment}@${version}`;
}

export function planGroups(deployments: readonly ResolvedDeployment[], cores: number): ReplicaGroup[] {
  const total = deployments.reduce((n, d) => n + d.spec.replicas.initial, 0);
  return deployments.map((d) => ({
    key: groupKey(d.name, d.version),
    deployment: d.name,
    replicas: d.spec.replicas.initial,
    spec: {
      servedAs: d.name,
      model: d.model,
      version: d.version,
      sha256: d.sha256,
      artifact: d.artifactPath,
      runtime: {
        intraOpThreads: d.spec.runtime.intraOpThreads === 'auto' ? autoThreads(cores, total) : d.spec.runtime.intraOpThreads,
        interOpThreads: d.spec.runtime.interOpThreads,
        graphOptimization: d.spec.runtime.graphOptimization,
        executionMode: d.spec.runtime.executionMode,
        allowSpinning: d.spec.runtime.allowSpinning,
      },
      isolation: d.spec.runtime.isolation,
    },
  }));
}
