import type { FastifyInstance } from 'fastify';
import { fail } from '../../errors.js';
import { versionState, type RouteTable } from '../route-table.js';

/**
 * live: the process answers (liveness probe). ready: every deployment's current version
 * has a ready replica (readiness probe). Bodies are JSON, as every client accepts.
 */
export function healthRoutes(app: FastifyInstance, routes: RouteTable, isDraining: () => boolean): void {
  app.get('/v2/health/live', () => ({ live: true }));
  app.get('/v2/health/ready', () => {
    if (isDraining()) throw fail('ALOFT_NOT_READY', 'the server is shutting down');
    const waiting: string[] = [];
    for (const dep of routes.list()) {
      const v = dep.versions.get(dep.current);
      const s = v ? versionState(v) : { state: 'LOADING', reason: 'no version loaded' };
      if (s.state !== 'READY') waiting.push(`${dep.name}: ${s.reason}`);
    }
    if (waiting.length > 0) throw fail('ALOFT_NOT_READY', `not ready: ${waiting.join('; ')}`);
    return { ready: true };
  });
}
