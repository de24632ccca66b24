import { routeOf } from '../../api/routes.js';
import type { FastifyInstance } from 'fastify';
import { inScopeOf } from '../../security/policy.js';
import type { RouteTable } from '../route-table.js';
import { resolveVersion } from './resolve.js';

/** The statistics extension: GET /v2/models/stats and per model (and version). */
export function statisticsRoutes(app: FastifyInstance, routes: RouteTable): void {
  // Only the deployments the caller's scopes cover.
  app.route({ ...routeOf('models.stats'), handler: (req) => ({
    model_stats: routes.list().filter((dep) => inScopeOf(req.principal, dep.name, dep.versions.get(dep.current)?.model)).flatMap((dep) =>
      [...dep.versions.values()].map((v) => v.stats.toJSON(dep.name, String(v.version)))),
  }) });
  app.route<{ Params: { name: string } }>({ ...routeOf('model.stats'), handler: (req) => {
    const { dep } = resolveVersion(routes, req.params.name, undefined, req);
    return { model_stats: [...dep.versions.values()].map((v) => v.stats.toJSON(dep.name, String(v.version))) };
  } });
  app.route<{ Params: { name: string; version: string } }>({ ...routeOf('model.version.stats'), handler: (req) => {
    const { dep, served } = resolveVersion(routes, req.params.name, req.params.version, req);
    return { model_stats: [served.stats.toJSON(dep.name, String(served.version))] };
  } });
}
