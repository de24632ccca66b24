/**
 * An orchestrator runs model replicas: local child processes on a laptop, Deployments on
 * Kubernetes. The reconciler hands it the complete desired set of replica groups
 * (level-based: `apply` is idempotent) and listens for status changes. Every
 * implementation runs the shared suite in `orchestrator.case.ts`.
 */

export interface RuntimeOptions {
  intraOpThreads: number;
  interOpThreads: number;
  graphOptimization: 'all' | 'extended' | 'basic' | 'disabled';
  executionMode: 'sequential' | 'parallel';
  /** ONNX Runtime's worker threads busy-wait instead of sleeping; defaults to false. */
  allowSpinning?: boolean;
  /** Replicas as processes or as worker threads; defaults to 'process'. */
  isolation?: 'process' | 'thread';
}

/** What every replica of a group runs. */
export interface ReplicaTemplate {
  /** Name the replica serves the model under (the deployment's name). */
  model: string;
  version: number;
  /** Verified artifact path and its hash; the replica re-checks the hash before loading. */
  artifactPath: string;
  sha256: string;
  runtime: RuntimeOptions;
}

export interface ReplicaGroup {
  /** Unique, stable key, e.g. "credit-risk@3". */
  key: string;
  deployment: string;
  replicas: number;
  template: ReplicaTemplate;
}

export type ReplicaState =
  | 'starting'   // spawned, loading and warming up
  | 'ready'      // passed warm-up; serving
  | 'unhealthy'  // was ready, now fails its liveness probe: not routed to; restarted if it keeps failing
  | 'backoff'    // exited or failed; waiting to be restarted
  | 'failed'     // a terminal error (e.g. corrupted artifact); not restarted
  | 'stopping'
  | 'stopped';

export interface ReplicaStatus {
  /** Stable across restarts: `<group key>#<slot>`. */
  id: string;
  group: string;
  deployment: string;
  version: number;
  state: ReplicaState;
  url?: string;
  pid?: number;
  restarts: number;
  lastError?: string;
  /** Wall-clock ms of the last transition. */
  since: number;
}

export interface Orchestrator {
  readonly kind: string;
  /** Converge to exactly these groups: start, restart or stop replicas as needed. */
  apply(groups: readonly ReplicaGroup[]): Promise<void>;
  status(): ReplicaStatus[];
  /** Called after any replica changes state. */
  onChange(listener: (changed: ReplicaStatus) => void): void;
  /** Stop every replica gracefully (drain, then kill after the grace period). */
  stop(): Promise<void>;
}

// A replica whose startup error is `terminal` in the error registry (errors.ts) is not
// restarted: no restart fixes a corrupt artifact or a model that does not load.
