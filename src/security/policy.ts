/**
 * The access policy, as pure functions: which endpoint group a request belongs to
 * (`classifyRequest`) and whether a principal may call it (`authorize`). The gateway hook
 * (gateway/auth-hook.ts) feeds them; tests call them directly.
 *
 * Decisions:
 * - /v2/health/live and /v2/health/ready are open, so load balancers and Kubernetes
 *   probes need no secret.
 * - A `public: true` deployment lets anyone (also callers without credentials) infer and
 *   read its metadata and readiness; its statistics still need a role.
 * - Unknown paths need some valid credential (any role): callers without one get 401
 *   before any 404, so they learn nothing about which models exist.
 *
 * @example
 * const target = classifyRequest('POST', ['v2', 'models', 'credit-risk', 'infer']);
 * authorize(principal, target, { isPublic: (d) => spec.deployments[d]?.public === true });
 * // → { allow: true } | { allow: false, status: 401 | 403, message }
 */
import { matchSegments, type RouteDef } from '../api/routes.js';
import type { Principal } from './principal.js';
import { inScope } from './glob.js';
import { can, rolesFor, type Action } from './roles.js';

/** What a request does, and to which deployment or registered model when it names one. */
export interface Target {
  action: Action;
  /** The route acts on the whole system (RouteDef.whole): credentials for every deployment only. */
  whole?: boolean;
  deployment?: string;
  /** A registered model named by an admin route (`/api/v1/models/{model}…`). */
  model?: string;
}

export interface PolicyContext {
  /** True for deployments declared `public: true`. */
  isPublic(deployment: string): boolean;
  /** The registered model a deployment serves, so scopes may name models too. Optional. */
  modelOf?(deployment: string): string | undefined;
}

export type Decision = { allow: true } | { allow: false; status: 401 | 403; message: string };

const READ_METHODS = new Set(['GET', 'HEAD']);

/**
 * Classify a request by method and decoded path segments (`/v2/models/a/infer` →
 * `['v2', 'models', 'a', 'infer']`; a trailing slash gives a trailing ''). A declared
 * route (api/routes.ts) gives its own action and scope; a declared path with another
 * method gives the action of the route at that path (the 405 comes after access); a path
 * no route declares is classified by its prefix below, so it needs a credential before it
 * gets its 404.
 */
export function classifyRequest(method: string, segments: readonly string[]): Target {
  const declared = matchSegments(segments);
  if (declared) {
    const route = declared.routes.find((r) => r.method === method) ?? declared.routes[0]!;
    return targetOf(route, declared.params);
  }
  return classifyUndeclared(method, segments);
}

/** The target of a declared route with its (decoded) parameters. */
export function targetOf(route: RouteDef, params: Readonly<Record<string, string | undefined>>): Target {
  const scoped = route.scope ? params[route.scope.param] : undefined;
  if (route.whole) return { action: route.action, whole: true };
  if (scoped === undefined) return { action: route.action };
  return route.scope!.kind === 'deployment' ? { action: route.action, deployment: scoped } : { action: route.action, model: scoped };
}

function classifyUndeclared(method: string, segments: readonly string[]): Target {
  const [s0, s1, s2, s3, s4] = segments;
  const n = segments.length;
  if (s0 === 'metrics' && n === 1) return { action: 'metrics' };
  if (s0 === 'api') {
    if (s2 === 'keys') return { action: 'admin.keys', whole: true };
    if (s2 === 'audit') return { action: 'admin.audit' };
    const action = READ_METHODS.has(method) ? 'admin.read' : 'admin.write';
    // Routes that name a model or a deployment are scoped to it, like the data plane's.
    if (s3 !== undefined && s3 !== '') {
      if (s2 === 'models') return { action, model: s3 };
      if (s2 === 'deployments') return { action, deployment: s3 };
    }
    return { action };
  }
  if (s0 !== 'v2') return { action: 'read' };
  if (s1 === 'health' && n === 3 && (s2 === 'live' || s2 === 'ready')) return { action: 'health' };
  if (s1 === 'repository') {
    // OIP repository extension: load/unload change what is served.
    if (s2 === 'models' && s3 !== undefined && (s4 === 'load' || s4 === 'unload')) return { action: 'admin.write', deployment: s3 };
    return { action: 'read' };
  }
  if (s1 !== 'models' || s2 === undefined || s2 === '' || (s2 === 'stats' && n === 3)) return { action: 'read' };
  // /v2/models/{d}[/versions/{v}][/ready|/infer|/stats]
  const deployment = s2;
  const rest = s3 === 'versions' && s4 !== undefined ? segments.slice(5) : segments.slice(3);
  const tail = rest.length === 0 ? '' : rest.length === 1 ? rest[0] : undefined;
  if (tail === '' || tail === 'ready') return { action: 'model', deployment };
  if (tail === 'infer') return { action: 'infer', deployment };
  return { action: 'read', deployment };
}

/**
 * Decide a request. `principal` is undefined when the caller sent no credentials (bad
 * credentials are refused before this, by the authenticator).
 */
export function authorize(principal: Principal | undefined, target: Target, ctx: PolicyContext): Decision {
  const { action, deployment } = target;
  if (action === 'health') return { allow: true };
  if (deployment !== undefined && (action === 'infer' || action === 'model') && ctx.isPublic(deployment)) return { allow: true };
  if (principal === undefined || principal.role === undefined) {
    return {
      allow: false,
      status: 401,
      message: 'authentication required: send Authorization: Bearer <API key or token> (the CLI uses --key, ALOFT_KEY or the admin key file)',
    };
  }
  if (!can(principal.role, action)) {
    return {
      allow: false,
      status: 403,
      message: `the role '${principal.role}' may not ${DESCRIBE[action]}; that needs ${rolesFor(action).join(', ')}`,
    };
  }
  if (target.whole && !principal.scopes.includes('*')) {
    return {
      allow: false,
      status: 403,
      message: `these credentials are scoped to ${principal.scopes.join(', ') || 'no deployment'}, and this acts on the whole system (the spec, model files or API keys): it needs credentials for every deployment (scopes *)`,
    };
  }
  if (deployment !== undefined && !inScope(principal.scopes, deployment, ctx.modelOf?.(deployment))) {
    return { allow: false, status: 403, message: `deployment '${deployment.slice(0, 100)}' is outside the scopes of these credentials` };
  }
  if (target.model !== undefined && !inScope(principal.scopes, target.model)) {
    return { allow: false, status: 403, message: `model '${target.model.slice(0, 100)}' is outside the scopes of these credentials` };
  }
  return { allow: true };
}

/**
 * Whether a listing may show a deployment or model to `principal`: listings show only
 * what the caller's scopes cover, so a scoped caller never learns other names exist.
 * Give a deployment's name and the model it serves, or a model's name.
 */
export function inScopeOf(principal: Principal | undefined, ...names: (string | undefined)[]): boolean {
  return inScope(principal?.scopes ?? [], ...names);
}

const DESCRIBE: Readonly<Record<Action, string>> = {
  health: 'read health',
  infer: 'run inference',
  model: 'read model metadata',
  read: 'read server metadata',
  metrics: 'read metrics',
  'admin.read': 'read the admin API',
  'admin.write': 'change deployments or models, or read the revision history (every deployment\'s spec), through the admin API',
  'admin.keys': 'manage API keys',
  'admin.audit': 'read the audit trail',
  feedback: 'send feedback labels',
  'admin.capture': 'read captured predictions',
};
