/**
 * Roles and what each may do. Roles are sets of actions, not a strict ladder: `predictor`
 * (an application calling models) may infer and use the protocol's discovery endpoints but
 * not read the admin API or /metrics; `viewer` (a person or dashboard) may read
 * everything but infer nothing. `operator` is both plus admin writes; `admin` is all.
 *
 * | action      | endpoints                                                        | roles |
 * | ---         | ---                                                              | --- |
 * | health      | GET /v2/health/live, /v2/health/ready (open to probes)           | anyone |
 * | infer       | POST /v2/models/{d}[/versions/{v}]/infer (scoped)                | predictor, operator, admin |
 * | feedback    | POST /v2/models/{d}/feedback (scoped; never anonymous)           | predictor, operator, admin |
 * | model       | GET /v2/models/{d}[/versions/{v}][/ready] (scoped)               | all roles |
 * | read        | GET /v2, /v2/models, stats, POST /v2/repository/index            | all roles |
 * | metrics     | GET /metrics                                                     | viewer, operator, admin |
 * | admin.read  | GET /api/…                                                       | viewer, operator, admin |
 * | admin.write | POST/PUT/PATCH/DELETE /api/… (push, alias, apply, scale, rollout) | operator, admin |
 * | admin.keys  | /api/v1/keys…                                                    | admin |
 * | admin.audit | /api/v1/audit…                                                   | admin |
 * | admin.capture | GET /api/v1/capture/{d} (decrypted captured predictions)       | admin |
 *
 * Leaf module (types only).
 */
import type { Role } from '../spec/types.js';

export type Action = 'health' | 'infer' | 'feedback' | 'model' | 'read' | 'metrics' | 'admin.read' | 'admin.write' | 'admin.keys' | 'admin.audit' | 'admin.capture';

export const ACTIONS: readonly Action[] = ['health', 'infer', 'feedback', 'model', 'read', 'metrics', 'admin.read', 'admin.write', 'admin.keys', 'admin.audit', 'admin.capture'];

const VIEWER: readonly Action[] = ['health', 'model', 'read', 'metrics', 'admin.read'];
const PREDICTOR: readonly Action[] = ['health', 'infer', 'feedback', 'model', 'read'];
const OPERATOR: readonly Action[] = [...new Set([...VIEWER, ...PREDICTOR, 'admin.write' as const])];

/** The grant table: the one place that says which role may do what. */
export const GRANTS: Readonly<Record<Role, ReadonlySet<Action>>> = {
  viewer: new Set(VIEWER),
  predictor: new Set(PREDICTOR),
  operator: new Set(OPERATOR),
  admin: new Set(ACTIONS),
};

export function can(role: Role, action: Action): boolean {
  return GRANTS[role].has(action);
}

/** Roles that may perform `action`, most privileged last, for error messages. */
export function rolesFor(action: Action): Role[] {
  return (['viewer', 'predictor', 'operator', 'admin'] as const).filter((r) => can(r, action));
}

/** How privileged a role is, for picking one role out of several JWT claim values. */
export const ROLE_RANK: Readonly<Record<Role, number>> = { viewer: 0, predictor: 1, operator: 2, admin: 3 };
