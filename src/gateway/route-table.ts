/**
 * What the data plane serves, held in memory: deployments, the model versions each
 * serves, and the batcher and replica set of each version. The control plane fills it;
 * the hot path only reads it (no database I/O per request).
 */
import type { ModelSignature } from '../runtime/tensor.js';
import type { Batcher } from './batcher.js';
import type { ReplicaSet } from './replica-set.js';
import type { ModelStats } from './stats.js';

export interface ServedVersion {
  /** The replica group that serves it, e.g. "credit-risk@3". */
  group: string;
  /** Registered model name (the registry's, which may differ from the deployment's). */
  model: string;
  version: number;
  signature: ModelSignature;
  /** OIP platform string, e.g. "onnxruntime_onnx". */
  platform: string;
  /** Replicas the deployment wants for this version (for readiness messages). */
  desiredReplicas: number;
  batcher: Batcher;
  replicas: ReplicaSet;
  stats: ModelStats;
}

export interface DeploymentRoute {
  name: string;
  /** Version that unversioned requests go to. */
  current: number;
  versions: Map<number, ServedVersion>;
  /** Per-request deadline. */
  timeoutMs: number;
}

export type VersionState = 'READY' | 'LOADING' | 'UNAVAILABLE';

export function versionState(v: ServedVersion): { state: VersionState; reason?: string } {
  const ready = v.replicas.readyCount();
  if (ready > 0) return { state: 'READY' };
  if (v.desiredReplicas === 0) return { state: 'UNAVAILABLE', reason: 'scaled to zero replicas' };
  return { state: 'LOADING', reason: `0 of ${v.desiredReplicas} replicas ready` };
}

export class RouteTable {
  #deployments = new Map<string, DeploymentRoute>();

  get(name: string): DeploymentRoute | undefined {
    return this.#deployments.get(name);
  }

  /** Route exactly these deployments from now on (one assignment: no request sees half). */
  replace(deployments: ReadonlyMap<string, DeploymentRoute>): void {
    this.#deployments = new Map(deployments);
  }

  list(): DeploymentRoute[] {
    return [...this.#deployments.values()].sort((a, b) => a.name.localeCompare(b.name));
  }

  names(): string[] {
    return this.list().map((d) => d.name);
  }
}
