/**
 * Admin API routes of the audit trail (admin only; the caller adds authentication):
 *
 * - `GET /api/v1/audit?action=&actor=&target=&since=&until=&limit=&after=` → `{ entries }`,
 *   oldest first: the newest `limit` (default 100, at most 1000) matches, or with `after`
 *   the first `limit` after that seq. `action` may be a prefix like `key.*`.
 * - `GET /api/v1/audit/verify` → the verification result, 200 whether or not the chain is
 *   intact (`ok` says).
 */
import type { FastifyInstance } from 'fastify';
import { routeOf } from '../api/routes.js';
import { fail } from '../errors.js';
import type { AuditFilter, AuditLog } from '../security/audit.js';

export interface AuditRoutesContext {
  audit: Pick<AuditLog, 'list' | 'verify'>;
}

const FILTERS = ['action', 'actor', 'target', 'since', 'until', 'limit', 'after'] as const;

function wholeNumber(name: string, value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n)) throw fail('ALOFT_BAD_REQUEST', `${name} must be a whole number, got '${value}'`);
  return n;
}

/** Parse the query string into a filter; unknown or repeated parameters are errors. */
export function auditFilterFromQuery(query: unknown): AuditFilter {
  const q = (query ?? {}) as Record<string, unknown>;
  const filter: AuditFilter = {};
  for (const [key, raw] of Object.entries(q)) {
    if (!(FILTERS as readonly string[]).includes(key)) {
      throw fail('ALOFT_BAD_REQUEST', `unknown audit filter '${key}'; use ${FILTERS.join(', ')}`);
    }
    if (typeof raw !== 'string') throw fail('ALOFT_BAD_REQUEST', `give the audit filter '${key}' once`);
    if (raw === '') continue;
    switch (key as (typeof FILTERS)[number]) {
      case 'limit': filter.limit = wholeNumber('limit', raw); break;
      case 'after': filter.afterSeq = wholeNumber('after', raw); break;
      case 'action': filter.action = raw; break;
      case 'actor': filter.actor = raw; break;
      case 'target': filter.target = raw; break;
      case 'since': filter.since = raw; break;
      case 'until': filter.until = raw; break;
    }
  }
  return filter;
}

export function registerAuditRoutes(app: FastifyInstance, ctx: AuditRoutesContext): void {
  app.route({ ...routeOf('admin.audit.list'), handler: async (req) => ({ entries: await ctx.audit.list(auditFilterFromQuery(req.query)) }) });
  app.route({ ...routeOf('admin.audit.verify'), handler: async () => ctx.audit.verify() });
}
