/**
 * Admin API for API keys (admin role only, enforced by the auth hook):
 *
 * - `POST /api/v1/keys` `{name, role, scopes?, expires?}` → 201 `{id, key, name, role,
 *   scopes, expiresAt, createdAt}`. `key` is the token: this is the only time it exists
 *   outside the caller; the server keeps only its hash.
 * - `GET /api/v1/keys[?all=true]` → `{keys: [...]}` without secrets or hashes; `all`
 *   includes revoked keys.
 * - `DELETE /api/v1/keys/:name` → revoke the active key with that name.
 *
 * With `audit`, each change's entry (never the key) is written in the change's own
 * transaction, so no key exists or is revoked without its entry. After each change the
 * authenticator reloads, so this gateway applies it at once (others within their reload
 * interval).
 *
 * @example
 * registerKeyRoutes(app, { keys: new KeyRepository(store), authenticator, audit, clock });
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { routeOf } from '../api/routes.js';
import type { KeyCreated, KeyList, KeyRevoked, KeyView } from '../api/types.js';
import { systemClock, type Clock } from '../clock.js';
import { fail } from '../errors.js';
import type {} from '../gateway/auth-hook.js'; // request.principal
import { silentLogger, type Logger } from '../log.js';
import { isValidScope, SCOPE_RULE } from '../security/glob.js';
import { EXPIRY_HELP, generateKey, hashSecret, parseExpiry } from '../security/keys.js';
import { ANONYMOUS, ROLES, type Principal, type Role } from '../security/principal.js';
import { isValidName, NAME_RULE } from '../spec/modelref.js';
import { rateLimit } from '../spec/normalize.js';
import { rateLimitSchema } from '../spec/schema.js';
import type { RateLimitSpec } from '../spec/types.js';
import { parseDuration } from '../spec/units.js';
import type { Store } from '../store/db.js';
import type { KeyRecord, KeyRepository } from '../store/keys.js';

export type { KeyView } from '../api/types.js';

export interface KeySummary {
  name: string;
  role: Role;
  scopes: string[];
  expiresAt: string | null;
  revokedAt?: string | null;
  limits?: RateLimitSpec;
  priority?: 'low';
}

/** What is appended to the audit trail; the shape of security/audit.ts's AuditInput, so an AuditLog fits as is. */
export interface KeyAuditEntry {
  /** Who did it: the caller's principal. */
  actor: Pick<Principal, 'kind' | 'id' | 'name'>;
  action: 'key.created' | 'key.revoked';
  /** The key's name. */
  target: string;
  /** The client IP. */
  source: string;
  before?: KeySummary;
  after?: KeySummary;
}

export interface KeyRoutesOptions {
  keys: Pick<KeyRepository, 'create' | 'listActive' | 'listAll' | 'revoke'>;
  authenticator: { reload(): Promise<void> };
  /** Where the entries go; `tx` is the change's transaction (security/audit.ts AuditLog fits). */
  audit?: { append(entry: KeyAuditEntry, tx: Store): Promise<unknown> };
  clock?: Clock;
  logger?: Logger;
}

const MAX_SCOPES = 100;
const FIELDS = new Set(['name', 'role', 'scopes', 'expires', 'limits', 'priority']);

export function registerKeyRoutes(app: FastifyInstance, opts: KeyRoutesOptions): void {
  const { keys, authenticator } = opts;
  const clock = opts.clock ?? systemClock;
  const log = opts.logger ?? silentLogger;

  const audit = opts.audit;
  const record = (entry: (key: KeyRecord) => KeyAuditEntry) => audit && ((tx: Store, key: KeyRecord) => audit.append(entry(key), tx));
  const reload = async (): Promise<void> => {
    try {
      await authenticator.reload();
    } catch (err) {
      log.warn({ err }, 'reloading keys after a change failed; the change is stored and applies at the next reload');
    }
  };

  app.route({ ...routeOf('admin.keys.create'), handler: async (req, reply) => {
    const input = parseCreate(req.body, clock.date());
    const material = generateKey();
    const created = await keys.create({
      id: material.id,
      name: input.name,
      role: input.role,
      scopes: input.scopes,
      secretHash: hashSecret(material.secret),
      createdBy: req.principal?.name ?? null,
      expiresAt: input.expiresAt,
      limits: input.limits,
      priority: input.priority,
    }, record((key) => ({ actor: actorOf(req), action: 'key.created', target: key.name, source: req.ip, after: summary(key) })));
    await reload();
    const answer: KeyCreated = {
      id: created.id,
      key: material.token,
      name: created.name,
      role: created.role,
      scopes: created.scopes,
      expiresAt: created.expiresAt,
      createdAt: created.createdAt,
      limits: created.limits,
      priority: created.priority,
    };
    return reply.code(201).send(answer);
  } });

  app.route({ ...routeOf('admin.keys.list'), handler: async (req): Promise<KeyList> => {
    const all = (req.query as Record<string, unknown> | undefined)?.all;
    const records = all === 'true' || all === '1' ? await keys.listAll() : await keys.listActive();
    const now = clock.date().getTime();
    return { keys: records.map((k) => view(k, now)) };
  } });

  app.route<{ Params: { name: string } }>({ ...routeOf('admin.keys.revoke'), handler: async (req: FastifyRequest<{ Params: { name: string } }>) => {
    const name = req.params.name;
    const revoked = await keys.revoke(name, record((key) => ({
      actor: actorOf(req),
      action: 'key.revoked',
      target: key.name,
      source: req.ip,
      before: summary({ ...key, revokedAt: null }),
      after: summary(key),
    })));
    if (revoked === undefined) {
      throw fail('ALOFT_KEY_NOT_FOUND', `no active API key named '${name.slice(0, 100)}'; see 'aloft keys list'`);
    }
    await reload();
    return { id: revoked.id, name: revoked.name, revoked: true, revokedAt: revoked.revokedAt } satisfies KeyRevoked;
  } });
}

interface CreateInput {
  name: string;
  role: Role;
  scopes: string[];
  expiresAt: string | null;
  limits: RateLimitSpec | null;
  priority: 'low' | 'normal';
}

/** Validate a create request completely, reporting every problem at once. */
export function parseCreate(body: unknown, now: Date): CreateInput {
  const obj = parseBody(body);
  const problems: string[] = [];
  for (const k of Object.keys(obj)) if (!FIELDS.has(k)) problems.push(`unknown field '${k.slice(0, 40)}' (expected name, role, scopes, expires, limits, priority)`);

  const { name, role, scopes, expires, limits, priority } = obj;
  if (typeof name !== 'string' || name === '') problems.push('name is required: a string');
  else if (!isValidName(name)) problems.push(`name '${name.slice(0, 80)}' is invalid: ${NAME_RULE}`);

  if (typeof role !== 'string' || !(ROLES as readonly string[]).includes(role)) {
    problems.push(`role must be one of ${ROLES.join(', ')}${role === undefined ? '' : `, got ${JSON.stringify(role).slice(0, 40)}`}`);
  }

  let scopeList: string[] = ['*'];
  if (scopes !== undefined && scopes !== null) {
    if (!Array.isArray(scopes) || !scopes.every((s) => typeof s === 'string')) problems.push('scopes must be a list of name globs, e.g. ["credit-*"]');
    else if (scopes.length === 0) problems.push('scopes is empty, which would allow no deployment or model at all; leave scopes out for every name ("*"), or list name globs');
    else if (scopes.length > MAX_SCOPES) problems.push(`scopes has ${scopes.length} entries; at most ${MAX_SCOPES}`);
    else {
      for (const s of scopes as string[]) if (!isValidScope(s)) problems.push(`scope '${s.slice(0, 80)}' is invalid: ${SCOPE_RULE}`);
      scopeList = [...new Set(scopes as string[])];
    }
  }

  let expiresAt: string | null = null;
  if (expires !== undefined && expires !== null) {
    const ms = typeof expires === 'string' ? parseExpiry(expires) : undefined;
    if (ms === undefined && typeof expires === 'string' && parseDuration(expires) === 0) problems.push(`expires ${JSON.stringify(expires).slice(0, 40)} would make a key that has already expired; give a duration above 0, ${EXPIRY_HELP}, or leave it out for a key that never expires`);
    else if (ms === undefined) problems.push(`expires ${JSON.stringify(expires).slice(0, 40)} is invalid: use ${EXPIRY_HELP}`);
    else {
      const at = now.getTime() + ms;
      if (!Number.isFinite(at) || at > 8.64e15) problems.push('expires is too far in the future');
      else expiresAt = new Date(at).toISOString();
    }
  }

  // The key's own rate limit: the spec's limits.perKey form, checked by the same schema.
  let keyLimits: RateLimitSpec | null = null;
  if (limits !== undefined && limits !== null) {
    const parsed = rateLimitSchema.safeParse(limits);
    if (!parsed.success) problems.push(`limits ${JSON.stringify(limits).slice(0, 60)} is invalid: ${parsed.error.issues.map((i) => `${i.path.length ? `${i.path.join('.')}: ` : ''}${i.message}`).join(', ')}; give {"rate": requests per second, "burst"?: N, "daily"?: N}`);
    else keyLimits = rateLimit(parsed.data);
  }
  if (priority !== undefined && priority !== null && priority !== 'low' && priority !== 'normal') problems.push(`priority must be 'low' or 'normal', got ${JSON.stringify(priority).slice(0, 40)}`);

  if (problems.length > 0) throw fail('ALOFT_BAD_REQUEST', `invalid key request: ${problems.join('; ')}`);
  return { name: name as string, role: role as Role, scopes: scopeList, expiresAt, limits: keyLimits, priority: priority === 'low' ? 'low' : 'normal' };
}

function parseBody(body: unknown): Record<string, unknown> {
  let value: unknown = body;
  if (Buffer.isBuffer(body) || typeof body === 'string') {
    const text = body.toString();
    if (text.trim() === '') throw fail('ALOFT_BAD_REQUEST', 'send a JSON object {"name": ..., "role": ..., "scopes"?: [...], "expires"?: "30d", "limits"?: {"rate": 10}, "priority"?: "low"}');
    try {
      value = JSON.parse(text);
    } catch {
      throw fail('ALOFT_BAD_REQUEST', 'the request body is not valid JSON; send {"name": ..., "role": ..., "scopes"?: [...], "expires"?: "30d"}');
    }
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw fail('ALOFT_BAD_REQUEST', 'send a JSON object {"name": ..., "role": ..., "scopes"?: [...], "expires"?: "30d", "limits"?: {"rate": 10}, "priority"?: "low"}');
  }
  return value as Record<string, unknown>;
}

/** Only kind, id and name: never scopes or anything else of the caller. */
function actorOf(req: FastifyRequest): KeyAuditEntry['actor'] {
  const p = req.principal ?? ANONYMOUS;
  return { kind: p.kind, id: p.id, name: p.name };
}

function summary(k: KeyRecord): KeySummary {
  return { name: k.name, role: k.role, scopes: k.scopes, expiresAt: k.expiresAt, ...(k.revokedAt ? { revokedAt: k.revokedAt } : {}), ...(k.limits ? { limits: k.limits } : {}), ...(k.priority === 'low' ? { priority: 'low' as const } : {}) };
}

export function view(k: KeyRecord, nowMs: number): KeyView {
  const status = k.revokedAt !== null ? 'revoked' : k.damaged !== undefined ? 'damaged' : k.expiresAt !== null && Date.parse(k.expiresAt) <= nowMs ? 'expired' : 'active';
  return {
    id: k.id,
    name: k.name,
    role: k.role,
    scopes: k.scopes,
    createdAt: k.createdAt,
    createdBy: k.createdBy,
    expiresAt: k.expiresAt,
    revokedAt: k.revokedAt,
    limits: k.limits,
    priority: k.priority,
    status,
    ...(k.damaged !== undefined ? { problem: k.damaged } : {}),
  };
}
