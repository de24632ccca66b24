import { routeOf } from '../../api/routes.js';
import type { FastifyInstance } from 'fastify';
import { fail } from '../../errors.js';
import { inScopeOf } from '../../security/policy.js';
import { versionState, type RouteTable } from '../route-table.js';

/** POST /v2/repository/index: every served model version and its state. */
export function repositoryRoutes(app: FastifyInstance, routes: RouteTable): void {
  app.route({ ...routeOf('repository.index'), handler: (req) => {
    let onlyReady = false;
    const body = req.body as Buffer | undefined;
    if (body && body.length > 0) {
      let parsed: unknown;
      try {
        parsed = JSON.parse(body.toString('utf8'));
      } catch {
        throw fail('ALOFT_BAD_REQUEST', 'request body is not valid JSON; send {} or {"ready": true}');
      }
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
        throw fail('ALOFT_BAD_REQUEST', 'request body must be a JSON object such as {"ready": true}');
      }
      const ready = (parsed as { ready?: unknown }).ready;
      if (ready !== undefined && typeof ready !== 'boolean') throw fail('ALOFT_BAD_REQUEST', "'ready' must be true or false");
      onlyReady = ready === true;
    }
    const out: { name: string; version: string; state: string; reason?: string }[] = [];
    for (const dep of routes.list()) {
      if (!inScopeOf(req.principal, dep.name, dep.versions.get(dep.current)?.model)) continue; // only what the caller's scopes cover
      for (const v of [...dep.versions.values()].sort((a, b) => a.version - b.version)) {
        const s = versionState(v);
        if (onlyReady && s.state !== 'READY') continue;
        out.push({ name: dep.name, version: String(v.version), state: s.state, ...(s.reason ? { reason: s.reason } : {}) });
      }
    }
    return out;
  } });
}
