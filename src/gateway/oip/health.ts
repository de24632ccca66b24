import { routeOf } from '../../api/routes.js';
import type { FastifyInstance } from 'fastify';
import { fail } from '../../errors.js';
import { versionState, type RouteTable } from '../route-table.js';

/**
 * live: the process answers (liveness probe). ready: every deployment's current version
 * can take requests (readiness probe): it has a ready replica, or it is scaled to zero and
 * a request is held while one starts (versionState says READY for both). A deployment
 * declared with replicas: 0 serves nothing on purpose and does not hold readiness. Bodies are JSON,
 * as every client accepts.
 */
export function healthRoutes(app: FastifyInstance, routes: RouteTable, isDraining: () => boolean): void {
  app.route({ ...routeOf('health.live'), handler: () => ({ live: true }) });
  app.route({ ...routeOf('health.ready'), handler: () => {
    if (isDraining()) throw fail('ALOFT_NOT_READY', 'the server is shutting down');
    // Probes call this without credentials, so the answer names no deployment; which ones
    // wait and why is in the repository index and `aloft status`.
    const all = routes.list();
    let waiting = 0;
    for (const dep of all) {
      const v = dep.versions.get(dep.current);
      // A deployment declared with replicas: 0 (UNAVAILABLE) is not waiting for anything: it does not hold the others' readiness.
      if (!v || versionState(v).state === 'LOADING') waiting++;
    }
    if (waiting > 0) throw fail('ALOFT_NOT_READY', `not ready: ${waiting} of ${all.length} deployments have no ready replica; see 'aloft status'`);
    return { ready: true };
  } });
}
