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
  /** At zero replicas it still accepts requests: they wait while the autoscaler starts one. */
  scalesFromZero?: boolean;
  batcher: Batcher;
  replicas: ReplicaSet;
  stats: ModelStats;
}

export interface DeploymentRoute {
  name: string;
  /** Version that unversioned requests go to (without a split), and whose metadata the deployment shows. */
  current: number;
  versions: Map<number, ServedVersion>;
  /** Per-request deadline. */
  timeoutMs: number;
  /**
   * Unversioned requests shared among versions by weight (a canary, an A/B test): a
   * request's ticket in [0, 10000) goes to the first version whose bound is above it.
   * Sticky: the ticket is a hash of the caller's key, so one caller always meets one version.
   */
  split?: TrafficSplit;
  /** blueGreen preview: unversioned inference requests of these callers (key names, token subjects) go to `served`. */
  preview?: { served: ServedVersion; names: ReadonlySet<string> };
  /** A shadow rollout: a sampled copy of every answered unversioned request goes to this version too (shadow.ts). */
  shadow?: ShadowRoute;
}

export interface ShadowRoute {
  served: ServedVersion;
  /** Requests whose ticket is below this are copied (sample × TICKETS). */
  below: number;
  compare: 'argmax' | 'absdiff';
  tolerance: number;
  /** Copies in flight at most. */
  queue: number;
  /** The candidate's inputs differ from the primary's: check each copy against its signature. */
  validate: boolean;
}

export interface TrafficSplit {
  /** Cumulative bounds out of 10000, ascending, the last 10000. */
  bounds: readonly number[];
  served: readonly ServedVersion[];
  sticky: boolean;
  /** Sticky by this request header's value (lower case), falling back to the caller's key. */
  stickyHeader?: string;
}

/** Tickets: 10000 slots, so weights have two decimals of a percent. */
export const TICKETS = 10_000;

/** The version a ticket in [0, TICKETS) lands on. Constant time for the few versions a split has; allocates nothing. */
export function pick(split: TrafficSplit, ticket: number): ServedVersion {
  const { bounds, served } = split;
  for (let i = 0; i < bounds.length; i++) if (ticket < bounds[i]!) return served[i]!;
  return served[served.length - 1]!;
}

/** A caller's sticky ticket: FNV-1a of the key, onto [0, TICKETS). */
export function stickyTicket(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  // Mix the high bits down: FNV's low bits alone split similar keys unevenly.
  h ^= h >>> 15;
  h = Math.imul(h, 0x2c1b3c6d);
  h ^= h >>> 12;
  return (h >>> 0) % TICKETS;
}

export type VersionState = 'READY' | 'LOADING' | 'UNAVAILABLE';

export function versionState(v: ServedVersion): { state: VersionState; reason?: string } {
  const ready = v.replicas.readyCount();
  if (ready > 0) return { state: 'READY' };
  if (v.desiredReplicas === 0 && v.scalesFromZero) return { state: 'READY', reason: 'scaled to zero (not loaded): the next request starts a replica and waits for it' };
  if (v.desiredReplicas === 0) return { state: 'UNAVAILABLE', reason: 'replicas: 0 (declared, serving nothing)' };
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
