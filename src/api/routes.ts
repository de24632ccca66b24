/**
 * Every HTTP route Aloft serves, declared once: method, path, the access-policy action it
 * needs, the path parameter that scopes it to a deployment or a registered model, and what
 * it does. From this one table come the routes the servers register (`routeOf`), the 405
 * answers for known paths with the wrong method (`allowedMethods`), the access policy's
 * classification (security/policy.ts), the CLI's paths (`pathOf`) and docs/api.md. A test
 * checks that every route declared answers and that every other method gets 405. Leaf
 * module: plain data.
 */
import type { Action } from '../security/roles.js';

export type Method = 'GET' | 'POST' | 'PUT' | 'DELETE';

export interface RouteDef {
  /** Stable id, e.g. 'models.show'. */
  id: string;
  method: Method;
  /** Fastify's syntax: `/api/v1/models/:name`. */
  path: string;
  /** What the access policy checks (security/roles.ts). */
  action: Action;
  /** The parameter naming what the route is scoped to, if any. */
  scope?: { param: string; kind: 'deployment' | 'model' };
  /**
   * Acts on the whole system (the spec, every model file, the keys): only credentials for
   * every deployment (scopes *) may call it, so a scoped key cannot widen its own reach.
   */
  whole?: true;
  /** For docs/api.md: what it does. */
  summary: string;
}

const dep = (param = 'name') => ({ param, kind: 'deployment' as const });
const model = (param = 'name') => ({ param, kind: 'model' as const });

export const ROUTES = [
  // Open Inference Protocol v2 (docs: reference/oip.md of the protocol).
  { id: 'server.metadata', method: 'GET', path: '/v2', action: 'read', summary: 'Server metadata: name, version, protocol extensions.' },
  { id: 'server.metadata.slash', method: 'GET', path: '/v2/', action: 'read', summary: 'The same, with a trailing slash.' },
  { id: 'health.live', method: 'GET', path: '/v2/health/live', action: 'health', summary: 'Liveness probe: the process answers. No credentials.' },
  { id: 'health.ready', method: 'GET', path: '/v2/health/ready', action: 'health', summary: 'Readiness probe: every deployment can take requests (a ready replica, or scaled to zero: the request is held while one starts); a deployment declared with replicas: 0 does not count. No credentials.' },
  { id: 'models.names', method: 'GET', path: '/v2/models', action: 'read', summary: 'Names of the deployments the caller\'s scopes cover.' },
  { id: 'models.stats', method: 'GET', path: '/v2/models/stats', action: 'read', summary: 'Statistics (OIP statistics extension) of every deployment the caller\'s scopes cover.' },
  { id: 'model.metadata', method: 'GET', path: '/v2/models/:name', action: 'model', scope: dep(), summary: 'A deployment\'s metadata: versions, platform, input and output tensors.' },
  { id: 'model.version.metadata', method: 'GET', path: '/v2/models/:name/versions/:version', action: 'model', scope: dep(), summary: 'The metadata of one version.' },
  { id: 'model.ready', method: 'GET', path: '/v2/models/:name/ready', action: 'model', scope: dep(), summary: 'Whether the deployment\'s current version can answer: a ready replica, or scaled to zero (a request is held while a replica starts; aloft status says it is not loaded).' },
  { id: 'model.version.ready', method: 'GET', path: '/v2/models/:name/versions/:version/ready', action: 'model', scope: dep(), summary: 'Whether one version can answer: a ready replica, or scaled to zero (a request is held while a replica starts).' },
  { id: 'model.infer', method: 'POST', path: '/v2/models/:name/infer', action: 'infer', scope: dep(), summary: 'Inference (JSON or the binary tensor extension) on the current version.' },
  { id: 'model.version.infer', method: 'POST', path: '/v2/models/:name/versions/:version/infer', action: 'infer', scope: dep(), summary: 'Inference on one version.' },
  { id: 'model.feedback', method: 'POST', path: '/v2/models/:name/feedback', action: 'feedback', scope: dep(), summary: 'Ground-truth labels for earlier predictions, by request id: {"feedback": [{"id": "r-1", "label": 1}, …]} (a label is a number or an array of numbers). Answers what was accepted, which ids were not captured, which entries were rejected and why, and warnings for accepted labels that look wrong (a binary classifier label that is neither 0 nor 1); the good entries of a mixed batch are kept.' },
  { id: 'model.stats', method: 'GET', path: '/v2/models/:name/stats', action: 'read', scope: dep(), summary: 'Statistics of one deployment\'s versions.' },
  { id: 'model.version.stats', method: 'GET', path: '/v2/models/:name/versions/:version/stats', action: 'read', scope: dep(), summary: 'Statistics of one version.' },
  { id: 'repository.index', method: 'POST', path: '/v2/repository/index', action: 'read', summary: 'Every served version and its state (OIP model repository extension); {"ready": true} for ready ones only.' },
  { id: 'metrics', method: 'GET', path: '/metrics', action: 'metrics', summary: 'Prometheus metrics.' },
  // The admin API: JSON, for the CLI and the dashboard.
  { id: 'admin.models.list', method: 'GET', path: '/api/v1/models', action: 'admin.read', summary: 'Registered models the caller\'s scopes cover, with their latest version and aliases.' },
  { id: 'admin.models.show', method: 'GET', path: '/api/v1/models/:name', action: 'admin.read', scope: model(), summary: 'A model and all its versions.' },
  { id: 'admin.models.version', method: 'GET', path: '/api/v1/models/:name/versions/:version', action: 'admin.read', scope: model(), summary: 'One version: hash, size, signature, aliases.' },
  { id: 'admin.models.push', method: 'POST', path: '/api/v1/models/:name/versions', action: 'admin.write', scope: model(), summary: 'Register a new version; the body is the ONNX file (201 when new, 200 when the content is already the latest version).' },
  { id: 'admin.models.alias.set', method: 'PUT', path: '/api/v1/models/:name/aliases/:alias', action: 'admin.write', scope: model(), summary: 'Point an alias at a version: {"version": N}.' },
  { id: 'admin.models.alias.delete', method: 'DELETE', path: '/api/v1/models/:name/aliases/:alias', action: 'admin.write', scope: model(), summary: 'Remove an alias.' },
  { id: 'admin.deployments', method: 'GET', path: '/api/v1/deployments', action: 'admin.read', summary: 'Deployments the caller\'s scopes cover: versions, state, replicas, queue.' },
  { id: 'admin.models.version.delete', method: 'DELETE', path: '/api/v1/models/:name/versions/:version', action: 'admin.write', scope: model(), summary: 'Delete a version (refused while the current revision, or one being applied, uses it, or an alias points at it); its number is never reused and its file goes at the next gc.' },
  { id: 'admin.gc', whole: true, method: 'POST', path: '/api/v1/gc', action: 'admin.write', summary: 'Delete stored model files that no version references (files uploaded in the last 10 minutes stay); {"dryRun": true} only lists them.' },
  { id: 'admin.artifacts.put', method: 'PUT', path: '/api/v1/artifacts/:digest', action: 'admin.write', summary: 'Upload a model file by its sha256 (checked); plan says which files an apply needs. Registers nothing by itself.' },
  { id: 'admin.status', method: 'GET', path: '/api/v1/status', action: 'admin.read', summary: 'The current revision, an apply in progress, whether the system has converged, and per deployment the version served and replicas ready/desired.' },
  { id: 'admin.plan', whole: true, method: 'POST', path: '/api/v1/plan', action: 'admin.write', summary: 'What applying a spec would do: {"spec": "<yaml>", "file", "models": {"<name>": {"sha256", "sizeBytes"}}}. Changes nothing.' },
  { id: 'admin.apply', whole: true, method: 'POST', path: '/api/v1/apply', action: 'admin.write', summary: 'Apply a spec as a new revision: the plan body plus "base" (the revision it was planned against: optional, but without it the apply goes against the newest revision with no check that it is the one planned; the CLI always sends it) and "message"; 202 while it converges, 409 if another apply landed since base.' },
  { id: 'admin.rollback', whole: true, method: 'POST', path: '/api/v1/rollback', action: 'admin.write', summary: 'Restore a revision exactly, by model hash, as a new revision: {"to"?: N, "base"?: N, "message"?, "dryRun"?: true (plan it: the revision it would restore, as restores, and what would change; nothing recorded)}.' },
  { id: 'admin.revisions.list', method: 'GET', path: '/api/v1/revisions', action: 'admin.write', summary: 'Revisions, newest first: number, time, author, message, outcome, versions, diff.' },
  { id: 'admin.revisions.show', method: 'GET', path: '/api/v1/revisions/:number', action: 'admin.write', summary: 'One revision: its spec (secrets as templates), resolved versions, diff and outcome.' },
  { id: 'admin.capture.export', method: 'GET', path: '/api/v1/capture/:name', action: 'admin.capture', scope: dep(), summary: 'Captured predictions of a deployment, decrypted, oldest first: ?since=24h (a duration back from now, default 24h) and ?format=jsonl|csv (default jsonl). Each record carries the label feedback gave it (label; a label column in CSV, one per row), when there is one. Redacted features stay absent and hashed ones hashed. Admin only.' },
  { id: 'admin.monitor', method: 'GET', path: '/api/v1/monitor/:name', action: 'admin.read', scope: dep(), summary: 'A deployment\'s monitoring: capture counts (written per sink, dropped, queued), feedback counts, quality per version over the last 1h, 24h and 7d (accuracy, precision, recall and AUC for classifiers, MAE and RMSE for regression, each with the labelled predictions behind it), drift (checked now and the last scheduled check), each SLO\'s budget and burn rates, and open alerts.' },
  { id: 'admin.cost', method: 'GET', path: '/api/v1/cost', action: 'admin.read', summary: 'What serving costs: spend per deployment, version or label (?by=deployment|version|label, default deployment) over a window back from now (?since=30d, default 30d), cost per 1,000 predictions, efficiency (used ÷ reserved), idle findings, the rates and where they come from. Unpriced resources are listed, never counted as free.' },
  { id: 'admin.recommend', method: 'POST', path: '/api/v1/recommend', action: 'admin.write', summary: 'The capacity planner: {"deployment", "rps" (target req/s, default 100), "p99" (target ms, default 100), "duration" (ms per candidate, default 1500)}. Measures the model on temporary replicas across configurations (isolation, threads, batch size) and prices each at the target rate; NDJSON: a progress line per candidate, then the result with the cheapest configuration meeting the target (or the closest) and its spec fragment.' },
  { id: 'admin.alerts', method: 'GET', path: '/api/v1/alerts', action: 'admin.read', summary: 'Alerts the caller\'s scopes cover: pending and firing ones, recently resolved ones, and every notification\'s delivery (sink, attempts, last error, next attempt). ?deployment=<name> narrows to one deployment.' },
  { id: 'admin.silences.list', method: 'GET', path: '/api/v1/silences', action: 'admin.read', summary: 'Alert silences the caller\'s scopes cover, active, pending (a later start) and ended in the last week: id, matchers, start, end, who made it and why, and state.' },
  { id: 'admin.silences.create', method: 'POST', path: '/api/v1/silences', action: 'admin.write', summary: 'Silence alerts: {"matchers": {"deployment": "credit-risk", "alertname": "DataDrift"}, "duration": "2h" (or "endsAt"), "startsAt"?, "comment"}. Alerts whose labels have every matcher are not notified until it ends (at most 30 days); they still show, marked silenced. 201 with the silence, the alerts it matches now and warnings (it matches nothing, an unknown deployment). Audited.' },
  { id: 'admin.silences.expire', method: 'DELETE', path: '/api/v1/silences/:id', action: 'admin.write', summary: 'End a silence now (its id, or a unique start of it of at least 4 characters); alerts it held back that still fire are notified at the next evaluation. Audited.' },
  { id: 'admin.rollouts', method: 'GET', path: '/api/v1/rollouts', action: 'admin.read', summary: 'Rollouts the caller\'s scopes cover: strategy, step, weight, state, every check\'s verdict with its numbers, and what the second group costs while it runs (with cost prices).' },
  { id: 'admin.rollout.promote', method: 'POST', path: '/api/v1/rollouts/:name/promote', action: 'admin.write', scope: dep(), summary: 'Send all of a running canary\'s traffic to the new version now.' },
  { id: 'admin.rollout.abort', method: 'POST', path: '/api/v1/rollouts/:name/abort', action: 'admin.write', scope: dep(), summary: 'Roll a running canary back now; its apply ends rolled back.' },
  { id: 'admin.rollout.pause', method: 'POST', path: '/api/v1/rollouts/:name/pause', action: 'admin.write', scope: dep(), summary: 'Hold a running canary at its weight: no step moves, no automatic decision.' },
  { id: 'admin.rollout.resume', method: 'POST', path: '/api/v1/rollouts/:name/resume', action: 'admin.write', scope: dep(), summary: 'Go on with a paused canary; the step\'s interval and its analysis.maxDuration both count from now (a long pause does not end the step at once).' },
  { id: 'admin.keys.list', whole: true, method: 'GET', path: '/api/v1/keys', action: 'admin.keys', summary: 'API keys, never their secrets; ?all=true includes revoked ones.' },
  { id: 'admin.keys.create', whole: true, method: 'POST', path: '/api/v1/keys', action: 'admin.keys', summary: 'Create a key: {"name", "role", "scopes"?, "expires"?, "limits"?: {"rate", "burst"?, "daily"?} (its own rate limit, instead of limits.perKey), "priority"?: "low"|"normal" (low: shed first under overload, whatever its requests\' x-aloft-priority says)}; the key is in the answer, once.' },
  { id: 'admin.keys.revoke', whole: true, method: 'DELETE', path: '/api/v1/keys/:name', action: 'admin.keys', summary: 'Revoke the active key with that name.' },
  { id: 'admin.audit.list', method: 'GET', path: '/api/v1/audit', action: 'admin.audit', summary: 'Audit entries (filters: action, actor, target, since, until, limit, after).' },
  { id: 'admin.audit.verify', method: 'GET', path: '/api/v1/audit/verify', action: 'admin.audit', summary: 'Check the audit hash chain; says which entry was edited, deleted, reordered or inserted.' },
] as const satisfies readonly RouteDef[];

export type RouteId = (typeof ROUTES)[number]['id'];

const BY_ID = new Map<string, RouteDef>(ROUTES.map((r) => [r.id, r]));
const BY_METHOD_PATH = new Map<string, RouteDef>(ROUTES.map((r) => [`${r.method} ${r.path}`, r]));

/** Method and path of a route, for registering it: `app.route({ ...routeOf('metrics'), handler })`. */
export function routeOf(id: RouteId): { method: Method; url: string } {
  const r = BY_ID.get(id)!;
  return { method: r.method, url: r.path };
}

/** The declared route a server matched, by its method and Fastify pattern. */
export function routeByPattern(method: string, pattern: string): RouteDef | undefined {
  return BY_METHOD_PATH.get(`${method} ${pattern}`);
}

/** A route's path with its parameters filled in (percent-encoded), for clients: pathOf('admin.models.show', { name: 'm' }). */
export function pathOf(id: RouteId, params: Record<string, string | number> = {}): string {
  const r = BY_ID.get(id)!;
  return r.path.replace(/:([A-Za-z]+)/g, (_, name: string) => {
    const v = params[name];
    if (v === undefined) throw new Error(`route ${id} needs the parameter '${name}'`);
    return encodeURIComponent(String(v));
  });
}

interface Matcher {
  segments: { param: string | undefined; text: string }[];
  route: RouteDef;
}

const MATCHERS: Matcher[] = ROUTES.map((route) => ({
  route,
  segments: route.path.split('/').slice(1).map((seg) => (seg.startsWith(':') ? { param: seg.slice(1), text: '' } : { param: undefined, text: seg })),
}));

function fits(m: Matcher, segments: readonly string[]): boolean {
  if (m.segments.length !== segments.length) return false;
  return m.segments.every((s, i) => (s.param === undefined ? s.text === segments[i] : segments[i] !== ''));
}

/**
 * The declared routes that path segments match, whatever their method, and the
 * parameters: `['v2', 'models', 'm', 'infer']` → model.infer with { name: 'm' }. Literal
 * segments win over parameters, as in Fastify's router (`/v2/models/stats` is not the
 * metadata of a model named 'stats').
 */
export function matchSegments(segments: readonly string[]): { routes: RouteDef[]; params: Record<string, string> } | undefined {
  const hits = MATCHERS.filter((m) => fits(m, segments));
  if (hits.length === 0) return undefined;
  const literals = (m: Matcher) => m.segments.filter((s) => s.param === undefined).length;
  const most = Math.max(...hits.map(literals));
  const best = hits.filter((m) => literals(m) === most);
  const params: Record<string, string> = {};
  best[0]!.segments.forEach((s, i) => { if (s.param !== undefined) params[s.param] = segments[i]!; });
  return { routes: best.map((m) => m.route), params };
}

/** The methods a declared path allows, or undefined for a path no route declares (for 405 and `Allow`). */
export function allowedMethods(path: string): Method[] | undefined {
  const hit = matchSegments(path.split('/').slice(1));
  return hit ? [...new Set(hit.routes.map((r) => r.method))] : undefined;
}
