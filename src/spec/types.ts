/**
 * The normalized spec: what the rest of Aloft reads. Every default is applied, durations
 * are milliseconds, sizes are bytes, paths are absolute, model references are parsed.
 * Loaded specs are deep-frozen. Field meanings are documented in docs/spec.md (generated
 * from schema.ts).
 */
import type { ModelRef } from './modelref.js';

export interface ServerSpec {
  readonly host: string;
  readonly port: number;
  /** The admin API's own port; undefined means the gateway's port. */
  readonly adminPort?: number;
  /** bytes */
  readonly bodyLimit: number;
  /** bytes of request bodies held at once across connections (at least bodyLimit) */
  readonly bodyMemory: number;
  /** ms a body may take once the head has arrived */
  readonly bodyTimeout: number;
  /** ms */
  readonly requestTimeout: number;
  /** ms */
  readonly headersTimeout: number;
  /** Plain infer requests are read off the socket (gateway/wire.ts) rather than by node:http. */
  readonly fastInferPath: boolean;
  /** ms */
  readonly drainTimeout: number;
}

export interface StateSpec {
  /** Absolute path of the state folder. */
  readonly dir: string;
  /** Absolute path of the artifact store (default: artifacts/ inside `dir`). */
  readonly artifacts: string;
  /** Database URL as written; undefined means a SQLite file inside `dir`. ALOFT_DATABASE_URL overrides it. */
  readonly database?: string;
}

export interface ModelSpec {
  /** Absolute path of the model file. */
  readonly path: string;
  readonly description?: string;
  readonly labels: Readonly<Record<string, string>>;
}

export interface ReplicasSpec {
  readonly min: number;
  readonly max: number;
  /** Replicas started first: `min`, or 1 when `min` is 0 and `max` ≥ 1. */
  readonly initial: number;
}

export interface BatchingSpec {
  readonly enabled: boolean;
  readonly maxBatchSize: number;
  /** ms */
  readonly maxQueueDelay: number;
  readonly maxQueueSize: number;
}

import type { ExecutionMode, GraphOptimization, Isolation } from '../runtime/replica-spec.js';

export type { ExecutionMode, GraphOptimization, Isolation } from '../runtime/replica-spec.js';

export interface RuntimeSpec {
  readonly intraOpThreads: 'auto' | number;
  readonly interOpThreads: number;
  readonly graphOptimization: GraphOptimization;
  readonly executionMode: ExecutionMode;
  /** ONNX Runtime's worker threads busy-wait between pieces of work (its default) instead of sleeping. */
  readonly allowSpinning: boolean;
  /** Replicas as processes (HTTP) or as worker threads of the Aloft process. */
  readonly isolation: Isolation;
}

export type Role = 'admin' | 'operator' | 'predictor' | 'viewer';

export interface RateLimitSpec {
  /** requests per second */
  readonly rate: number;
  readonly burst: number;
  readonly daily?: number;
}

export interface LimitsSpec {
  readonly backend: 'memory' | 'redis';
  readonly redis: { readonly url: string; readonly prefix: string; readonly failMode: 'open' | 'closed' };
  readonly perKey?: RateLimitSpec;
}

export interface JwtSpec {
  readonly issuer: string;
  readonly audience: string;
  /** Absolute file path, or an http(s) URL. */
  readonly jwks: string;
  readonly roleClaim: string;
  readonly roles?: Readonly<Record<string, Role>>;
  readonly scopeClaim: string;
  /** ms */
  readonly clockTolerance: number;
}

export interface SecuritySpec {
  readonly auth: { readonly enabled: boolean; readonly jwt?: JwtSpec };
  /** Absolute paths. */
  readonly tls?: { readonly cert: string; readonly key: string };
}

export interface RolloutSpec {
  readonly strategy: 'replace' | 'canary' | 'blueGreen' | 'abTest' | 'shadow';
  /** Percentages, increasing; 100 (or the end) promotes. */
  readonly steps: readonly number[];
  /** ms */
  readonly interval: number;
  readonly allowSignatureChange: boolean;
  /** abTest: percent of callers on the new version */
  readonly split: number;
  /** ms, blueGreen: preview-only time before the switch */
  readonly bake: number;
  /** ms, blueGreen: the old group stays warm this long after the switch */
  readonly keepOld: number;
  /** abTest: hash this header's value (lower case) instead of the caller's key */
  readonly stickyHeader?: string;
  /** blueGreen: key names whose unversioned requests go to the new version during bake */
  readonly previewKeys: readonly string[];
  readonly shadow: {
    /** share of requests copied, (0, 1] */
    readonly sample: number;
    readonly compare: 'auto' | 'argmax' | 'absdiff';
    readonly tolerance: number;
    /** promote automatically at this agreement share */
    readonly agreement?: number;
    /** copies in flight at most */
    readonly queue: number;
  };
  readonly webhooks: readonly { readonly url: string; readonly before: 'step' | 'promotion'; /** ms */ readonly timeout: number; readonly headers: Readonly<Record<string, string>> }[];
  readonly analysis: {
    readonly alpha: number;
    readonly minSamples: number;
    /** ms */
    readonly maxDuration: number;
    readonly onInconclusive: 'wait' | 'rollback' | 'promote';
    readonly gates: readonly ('errors' | 'latency' | 'latencyP50' | 'outputShift' | 'slo' | 'accuracy' | 'drift')[];
    readonly maxShift: number;
    readonly maxBurn: number;
  };
}

export interface DeploymentSpec {
  readonly model: ModelRef;
  readonly replicas: ReplicasSpec;
  /** How a replica range is sized; set (defaults applied) whenever replicas is a range. */
  readonly autoscaling?: AutoscalingSpec;
  readonly batching: BatchingSpec;
  readonly admission: AdmissionSpec;
  readonly resources: ResourcesSpec;
  readonly runtime: RuntimeSpec;
  /** Per-request deadline, ms. */
  readonly timeout: number;
  readonly description?: string;
  /** Callable without credentials (inference and metadata only). */
  readonly public: boolean;
  readonly limits?: RateLimitSpec;
  /** How a new version reaches traffic. */
  readonly rollout: RolloutSpec;
  /** Names of the first input's columns. */
  readonly features?: readonly FeatureSpec[];
  readonly capture?: CaptureSpec;
  readonly drift?: DriftSpec;
  /** Service-level objectives, names unique. */
  readonly slos: readonly SloSpec[];
}

export interface SloSpec {
  /** Unique in the deployment; the kind when not given. */
  readonly name: string;
  readonly kind: 'availability' | 'latency' | 'accuracy';
  /** Percent, in (1, 100). */
  readonly objective: number;
  /** ms */
  readonly window: number;
  /** ms, latency only */
  readonly threshold?: number;
  /** accuracy of regression outputs */
  readonly tolerance?: number;
}

export interface AlertsSpec {
  readonly webhooks: readonly { readonly url: string; /** ms */ readonly timeout: number; readonly headers: Readonly<Record<string, string>> }[];
  readonly log: boolean;
  /** ms */
  readonly every: number;
  /** ms */
  readonly for: number;
  /** ms */
  readonly repeat: number;
  readonly retries: number;
  readonly crashLoop: number;
}

export interface ResourcesSpec {
  /** vCPUs; undefined: the replica's intra-op threads. */
  readonly cpu?: number;
  /** GiB; undefined: twice the model file plus 256 MiB. */
  readonly memory?: number;
  readonly gpu: number;
}

export interface CostSpec {
  readonly prices: { readonly cpu?: number; readonly memory?: number; readonly gpu?: number };
  readonly instance?: string;
  readonly instances: readonly { readonly name: string; readonly vcpu: number; readonly memory: number; readonly gpu: number; readonly hourly: number }[];
  readonly currency: string;
  /** ms */
  readonly every: number;
  readonly idle: { readonly below: number; /** ms */ readonly for: number };
  readonly budgets: readonly BudgetSpec[];
}

export interface BudgetSpec {
  readonly name: string;
  readonly deployment?: string;
  readonly label?: string;
  readonly amount: number;
  readonly period: 'month';
  readonly alertAt: readonly number[];
  readonly capReplicas: boolean;
}

export interface AdmissionSpec {
  readonly limit: 'adaptive' | 'off' | number;
  /** Default: max(16, the batch size), at most maxLimit. */
  readonly minLimit?: number;
  /** Default: batching.maxQueueSize. */
  readonly maxLimit?: number;
  readonly refuseLate: boolean;
}

export interface AutoscalingSpec {
  readonly metric: 'concurrency' | 'rows';
  /** Per replica: concurrent requests, or rows per second. */
  readonly target: number;
  /** ms */
  readonly scaleToZeroAfter: number;
  /** ms */
  readonly stableWindow: number;
  /** ms */
  readonly panicWindow: number;
  readonly panicThreshold: number;
  readonly maxScaleUpRate: number;
  readonly maxScaleDownRate: number;
  /** ms */
  readonly scaleDownDelay: number;
}

export interface DriftSpec {
  /** Absolute path. */
  readonly reference?: string;
  readonly referenceSize: number;
  /** ms */
  readonly window: number;
  /** ms */
  readonly every: number;
  readonly share: number;
  readonly minRows: number;
}

export interface FeatureSpec {
  readonly name: string;
  readonly kind: 'numeric' | 'categorical';
  readonly values?: readonly (string | number)[];
}

export interface CaptureSpec {
  readonly sampleRate: number;
  readonly redact: readonly string[];
  readonly hash: readonly string[];
  /** Secret. */
  readonly hashKey?: string;
  /** Secret: base64 of 32 bytes. */
  readonly key: string;
  readonly previousKeys: readonly string[];
  /** ms */
  readonly retention: number;
  readonly sinks: readonly ('store' | 'jsonl' | 'nats')[];
  readonly nats: { readonly url: string; readonly stream: string; readonly subject: string };
  readonly buffer: number;
}

/** One top-level key per section; later sections (rollouts, slos, …) are added here. */
export interface Spec {
  readonly version: 1;
  readonly server: ServerSpec;
  readonly state: StateSpec;
  readonly models: Readonly<Record<string, ModelSpec>>;
  readonly deployments: Readonly<Record<string, DeploymentSpec>>;
  readonly limits: LimitsSpec;
  readonly security: SecuritySpec;
  readonly alerts: AlertsSpec;
  readonly cost: CostSpec;
}

export interface LoadedSpec {
  /**
   * Absolute path of the spec file. (A loaded spec also carries, not enumerable, the values
   * it resolved from ${env:}/${file:} references, for spec/secrets.ts `redactSecrets`.)
   */
  readonly file: string;
  /** Absolute folder of the spec file; relative paths in the spec resolve against it. */
  readonly dir: string;
  readonly spec: Spec;
}

/** One violation, located in the file. `line`/`col` are 1-based; 0 when there is no position (file missing). */
export interface SpecIssue {
  file: string;
  line: number;
  col: number;
  /** Dotted path of the offending field, e.g. `deployments.credit-risk.replicas`; '' for the whole file. */
  path: string;
  message: string;
  hint?: string;
}
