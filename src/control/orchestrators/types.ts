/**
 * An orchestrator runs model replicas: local child processes on a laptop, Deployments on
 * Kubernetes. The reconciler hands it the complete desired set of replica groups
 * (level-based: `apply` is idempotent) and listens for status changes. Every
 * implementation runs the shared suite in `orchestrator.case.ts`.
 */

import type { ReplicaSpec } from '../../runtime/replica-spec.js';

export type { ReplicaSpec } from '../../runtime/replica-spec.js';

export interface ReplicaGroup {
  /** Unique, stable key, e.g. "credit-risk@3". */
  key: string;
  deployment: string;
  replicas: number;
  /** What every replica of the group runs (runtime/replica-spec.ts); a changed spec replaces the group's replicas. */
  spec: ReplicaSpec;
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
  /** A process replica on this machine: the Unix socket its wire protocol is served on (runtime/wire.ts), which the gateway uses instead of `url`. */
  socket?: string;
  pid?: number;
  restarts: number;
  lastError?: string;
  /** Wall-clock ms of the last transition. */
  since: number;
  /** Its last start, once ready: ms from launch to ready, and the replica's own account of the parts. */
  startup?: ReplicaStartup;
}

export interface ReplicaStartup {
  /** From the orchestrator launching it to its ready report. */
  totalMs: number;
  /** Process or thread start to the replica's code running (node, imports). */
  bootMs?: number;
  /** Reading the artifact and checking its sha256. */
  verifyMs?: number;
  /** ONNX Runtime's session creation. */
  loadMs?: number;
  warmUpMs?: number;
  listenMs?: number;
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
