/**
 * The admin API's requests and answers, shared by the server (control/admin-*.ts) and its
 * clients (api/client.ts, the CLI, the dashboard): one contract, no second copy. Types only.
 */
import type { ModelSummary, ModelVersion } from '../registry/registry.js';
import type { AuditEntry, AuditVerification } from '../security/audit.js';
import type { Role } from '../security/principal.js';
import type { ReplicaStatus } from '../control/orchestrators/types.js';

export type { ModelSummary, ModelVersion } from '../registry/registry.js';
export type { AuditEntry, AuditVerification } from '../security/audit.js';
export type { ReplicaStatus } from '../control/orchestrators/types.js';
export type { Plan, PlannedModel, DeploymentPlan, SettingPlan, FieldChange } from '../control/plan.js';
export type { SpecSubmission, ModelFile, ControlStatus } from '../control/control-plane.js';
export type { RevisionRecord, RevisionSummary, RevisionOutcome, RevisionKind } from '../store/revisions.js';
export type { RolloutStatus, StepVerdict } from '../control/rollouts.js';
import type { RolloutStatus } from '../control/rollouts.js';
import type { Plan } from '../control/plan.js';
import type { SpecSubmission } from '../control/control-plane.js';
import type { RevisionRecord, RevisionSummary } from '../store/revisions.js';

/** A model file the server does not have yet: upload it before applying. */
export interface UploadNeeded { model: string; sha256: string; sizeBytes: number }
/** POST /api/v1/plan */
export interface PlanResult { plan: Plan; upload: UploadNeeded[] }
/** POST /api/v1/apply */
export interface ApplyRequest extends SpecSubmission { base?: number; message?: string }
/** POST /api/v1/apply and /rollback: 202 while converging (changed), 200 when there was nothing to do. */
/** `restores`: a rollback's target revision; `dryRun`: a rollback planned only (nothing recorded). */
export interface ApplyAnswer { revision: number | null; changed: boolean; plan: Plan; restores?: number; dryRun?: boolean }
/** POST /api/v1/rollback */
/** `dryRun`: plan the rollback (which revision it restores, and what changes) and change nothing. */
export interface RollbackRequest { to?: number; base?: number; message?: string; dryRun?: boolean }
/** GET /api/v1/revisions */
export interface RevisionList { revisions: RevisionSummary[] }
/** GET /api/v1/revisions/:number */
export type RevisionDetail = RevisionRecord;
/** PUT /api/v1/artifacts/:sha256 */
export interface ArtifactStored { sha256: string; sizeBytes: number }
/** DELETE /api/v1/models/:name/versions/:version */
export interface VersionDeleted { model: string; version: number; deleted: true }
/** POST /api/v1/gc */
export interface GcResult { removed: { sha256: string; sizeBytes: number }[]; freedBytes: number; dryRun: boolean }

/** GET /api/v1/models */
export interface ModelList { models: ModelSummary[] }
/** GET /api/v1/models/:name */
export interface ModelDetail { model: ModelSummary; versions: ModelVersion[] }
/** POST /api/v1/models/:name/versions (201 when new) */
export interface PushResult { created: boolean; version: ModelVersion }
/** PUT /api/v1/models/:name/aliases/:alias */
export interface AliasResult { model: string; alias: string; version: number }
/** DELETE /api/v1/models/:name/aliases/:alias */
export interface AliasDeleted { deleted: true }

/** One version of a deployment in GET /api/v1/deployments. */
export interface DeploymentVersionStatus {
  model: string;
  version: number;
  state: 'READY' | 'LOADING' | 'UNAVAILABLE';
  reason?: string;
  desiredReplicas: number;
  queued: number;
  replicas: ReplicaStatus[];
}
/** GET /api/v1/deployments */
export interface DeploymentList {
  deployments: { name: string; currentVersion: number; versions: DeploymentVersionStatus[] }[];
}

/** A key as the admin API shows it: never the secret or its hash. */
export interface KeyView {
  id: string;
  name: string;
  role: Role;
  scopes: string[];
  createdAt: string;
  createdBy: string | null;
  expiresAt: string | null;
  revokedAt: string | null;
  /** The key's own rate limit (replacing limits.perKey); null: limits.perKey applies. */
  limits: KeyLimits | null;
  /** 'low': the key's requests are shed first under overload. */
  priority: 'low' | 'normal';
  /** damaged: the stored key cannot be read whole (see `problem`) and does not work. */
  status: 'active' | 'expired' | 'revoked' | 'damaged';
  problem?: string;
}
/** POST /api/v1/keys */
export interface KeyRequest { name: string; role: Role; scopes?: string[]; expires?: string; limits?: { rate: number; burst?: number; daily?: number }; priority?: 'low' | 'normal' }
/** A key's rate limit: requests per second, the bucket size, and an optional quota per UTC day. */
export interface KeyLimits { rate: number; burst: number; daily?: number }
/** The answer to POST /api/v1/keys: `key` is the token, shown this once. */
export interface KeyCreated { id: string; key: string; name: string; role: Role; scopes: string[]; expiresAt: string | null; createdAt: string; limits: KeyLimits | null; priority: 'low' | 'normal' }
/** GET /api/v1/keys */
export interface KeyList { keys: KeyView[] }
/** DELETE /api/v1/keys/:name */
export interface KeyRevoked { id: string; name: string; revoked: true; revokedAt: string | null }

/** GET /api/v1/audit */
export interface AuditList { entries: AuditEntry[] }
/** GET /api/v1/audit/verify */
export type AuditCheck = AuditVerification;

/** GET /api/v1/rollouts */
export interface RolloutList { rollouts: RolloutStatus[] }
/** POST /api/v1/rollouts/:name/{promote,abort,pause,resume} */
export interface RolloutChanged {
  rollout: RolloutStatus;
  /** False when the command found it so already (pause on a paused rollout, resume on a running one): nothing changed, nothing was audited. */
  changed: boolean;
}
