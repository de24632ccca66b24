/**
 * Authentication and authorization for every route of a Fastify app (data plane, admin
 * API, /metrics), as one `onRequest` hook: it runs before the body is read, so callers
 * without access cost no parsing or decompression.
 *
 * Order of answers: 401 (no or bad credentials, with `WWW-Authenticate: Bearer
 * realm="aloft"`) before 403 (role or scope) before anything the route says (404, 405…).
 * So an anonymous caller learns nothing about which models exist, except for public
 * deployments, whose paths answer as usual. Bad credentials get 401 even on a public
 * deployment. /v2/health/live and /v2/health/ready are always open (probes).
 * With auth disabled every caller is an admin principal named 'insecure'.
 *
 * @example
 * registerAuth(app, {
 *   authenticator,
 *   policy: { enabled: spec.security.auth.enabled, isPublic: (d) => spec.deployments[d]?.public === true },
 *   onFailure: ({ ip, reason, status }) => audit.recordFailure(ip, reason),
 * });
 * app.get('/x', (req) => req.principal?.name);
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { NOT_BEARER, type AuthResult, type ConnectionMemo } from '../security/authenticator.js';
import { ALL_SCOPES } from '../security/glob.js';
import { routeByPattern } from '../api/routes.js';
import { authorize, classifyRequest, targetOf as routeTarget, type Target } from '../security/policy.js';
import type { Principal } from '../security/principal.js';
import { sendError } from './http-errors.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** Who is calling; set by registerAuth's hook (undefined for anonymous callers of public deployments and health). */
    principal?: Principal;
  }
}

export interface AuthFailure {
  ip: string;
  /** Why, for logs and the audit trail; never sent to the client. */
  reason: string;
  status: 401 | 403;
  method: string;
  /** The path without the query string (truncated to 200 characters). */
  path: string;
  /** The principal for 403s; undefined for 401s. */
  principal?: Principal;
}

export interface AuthHookOptions {
  authenticator: { identify(authorization: string | string[] | undefined, memo?: ConnectionMemo): Promise<AuthResult> };
  policy: {
    /** False: no credentials are checked and everyone is the 'insecure' admin. */
    enabled: boolean;
    isPublic(deployment: string): boolean;
    /** The model a deployment serves, so key scopes may name models too. */
    modelOf?(deployment: string): string | undefined;
  };
  /**
   * Called for every refused request that carried credentials (401 for bad ones, 403 for
   * insufficient ones); anonymous callers without credentials are not reported.
   */
  onFailure?(info: AuthFailure): void;
}

/** The principal of every request when auth is disabled. */
export const INSECURE_PRINCIPAL: Principal = Object.freeze({
  kind: 'anonymous',
  id: 'insecure',
  name: 'insecure',
  role: 'admin',
  scopes: ALL_SCOPES,
});

/** The `WWW-Authenticate` challenge sent with 401 answers. */
export const WWW_AUTHENTICATE = 'Bearer realm="aloft"';
const INVALID = 'invalid credentials: the key or token is not valid (unknown, wrong, revoked or expired)';

/** Per connection: its last verified key header (see ConnectionMemo). */
const memos = new WeakMap<object, ConnectionMemo>();

/** What the check decided: who is calling, or the refusal to send. */
export type AuthOutcome =
  | { ok: true; principal?: Principal }
  | { ok: false; status: 401 | 403; message: string; challenge: boolean };

/** The parts of a request the check reads (Fastify's request or a bare node:http one). */
export interface AuthSubject {
  method: string;
  url: string;
  ip: string;
  authorization: string | string[] | undefined;
  /** The connection, for its memo of the last verified key header. */
  socket: object;
}

/**
 * The authentication and authorization check of one request against `target`, shared by
 * the Fastify hook and the infer pipeline (so both answer and report identically).
 */
export type AuthCheck = (req: AuthSubject, target: Target) => Promise<AuthOutcome>;

export function makeAuthCheck(opts: AuthHookOptions): AuthCheck {
  const { authenticator, policy, onFailure } = opts;
  return async (req, target) => {
    if (!policy.enabled) return { ok: true, principal: INSECURE_PRINCIPAL };
    if (target.action === 'health') return { ok: true };
    let memo = memos.get(req.socket);
    if (memo === undefined) {
      memo = {};
      memos.set(req.socket, memo);
    }
    const result = await authenticator.identify(req.authorization, memo);
    if (result.kind === 'rejected') {
      onFailure?.({ ip: req.ip, reason: result.reason, status: 401, method: req.method, path: pathOf(req.url).slice(0, 200) });
      // Another scheme (Basic, a bare key) is not a wrong key: say which form is taken.
      const message = result.reason === NOT_BEARER ? `${INVALID}: the Authorization header must be 'Bearer <API key or token>'` : result.tell ? `invalid credentials: ${result.tell}` : INVALID;
      return { ok: false, status: 401, message, challenge: true };
    }
    const principal = result.kind === 'ok' ? result.principal : undefined;
    const decision = authorize(principal, target, policy);
    if (!decision.allow) {
      if (decision.status === 403) {
        onFailure?.({ ip: req.ip, reason: decision.message, status: 403, method: req.method, path: pathOf(req.url).slice(0, 200), ...(principal ? { principal } : {}) });
      }
      return { ok: false, status: decision.status, message: decision.message, challenge: decision.status === 401 };
    }
    return principal ? { ok: true, principal } : { ok: true };
  };
}

/**
 * Route config of the routes the infer pipeline serves (gateway/pipeline.ts): it
 * authenticates and reads the body itself, so the app-wide hooks leave these routes alone.
 */
export const PIPELINE_ROUTE: Readonly<{ pipeline: true }> = Object.freeze({ pipeline: true });

/** True for a route declared with `config: PIPELINE_ROUTE`. */
export function isPipelineRoute(config: unknown): boolean {
  return (config as { pipeline?: unknown } | undefined)?.pipeline === true;
}

/** Registers the check as an `onRequest` hook of every route; returns it for the infer pipeline. */
export function registerAuth(app: FastifyInstance, opts: AuthHookOptions): AuthCheck {
  if (!app.hasRequestDecorator('principal')) app.decorateRequest('principal', undefined);
  const check = makeAuthCheck(opts);
  app.addHook('onRequest', async (req, reply) => {
    if (isPipelineRoute(req.routeOptions.config)) return;
    const out = await check({ method: req.method, url: req.url, ip: req.ip, authorization: req.headers.authorization, socket: req.raw.socket }, targetOf(req));
    if (!out.ok) {
      if (out.challenge) reply.header('www-authenticate', WWW_AUTHENTICATE);
      return sendError(reply, out.status, out.message);
    }
    if (out.principal) req.principal = out.principal;
  });
  return check;
}

/**
 * Classify by the matched route (its pattern filled with the decoded params, exactly what
 * the handler will use) or, for unmatched requests, by the decoded raw path.
 */
/** Route patterns split once: a literal segment, or the name of a parameter (`*` for a wildcard). */
const PATTERNS = new Map<string, { param: boolean; text: string }[]>();

function patternParts(pattern: string): { param: boolean; text: string }[] {
  let parts = PATTERNS.get(pattern);
  if (!parts) {
    parts = pattern.split('/').slice(1).map((s) => (s.startsWith(':') ? { param: true, text: s.slice(1) } : s === '*' ? { param: true, text: '*' } : { param: false, text: s }));
    PATTERNS.set(pattern, parts);
  }
  return parts;
}

export function targetOf(req: FastifyRequest): Target {
  const method = req.method === 'HEAD' ? 'GET' : req.method;
  const pattern = req.routeOptions.url;
  const declared = pattern ? routeByPattern(method, pattern) : undefined;
  if (declared) return routeTarget(declared, (req.params ?? {}) as Record<string, string | undefined>);
  let segments: string[];
  if (pattern !== undefined && pattern !== '') {
    const params = (req.params ?? {}) as Record<string, string | undefined>;
    segments = [];
    for (const part of patternParts(pattern)) {
      if (!part.param) segments.push(part.text);
      else if (part.text === '*') segments.push(...(params['*'] ?? '').split('/'));
      else segments.push(params[part.text] ?? '');
    }
  } else {
    segments = pathOf(req.url).split('/').slice(1).map(decode);
  }
  return classifyRequest(method, segments);
}

function pathOf(url: string): string {
  const q = url.indexOf('?');
  return q < 0 ? url : url.slice(0, q);
}

function decode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}
