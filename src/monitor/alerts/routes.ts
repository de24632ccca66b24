/**
 * GET /api/v1/alerts: the alert book (pending, firing, recently resolved) and every
 * notification's delivery, narrowed to the deployments the caller's scopes cover.
 */
import type { FastifyInstance } from 'fastify';
import { routeOf } from '../../api/routes.js';
import { fail } from '../../errors.js';
import { inScopeOf } from '../../security/policy.js';
import type { Principal } from '../../security/principal.js';
import type { Alerts, AlertsReport } from './alerts.js';

export function registerAlertsRoute(app: FastifyInstance, ctx: { alerts: Alerts; exists(deployment: string): boolean }): void {
  app.route({ ...routeOf('admin.alerts'), handler: async (req): Promise<AlertsReport> => {
    const q = req.query as { deployment?: string };
    if (q.deployment !== undefined && !ctx.exists(q.deployment)) throw fail('ALOFT_MODEL_NOT_FOUND', `deployment '${String(q.deployment).slice(0, 80)}' is not served here`);
    const principal = (req as { principal?: Principal }).principal;
    const r = ctx.alerts.report(q.deployment !== undefined ? { deployment: q.deployment } : {});
    const mine = (d: string | undefined) => inScopeOf(principal, d);
    return {
      ...r,
      active: r.active.filter((a) => mine(a.labels.deployment)),
      resolved: r.resolved.filter((a) => mine(a.labels.deployment)),
      deliveries: r.deliveries.filter((d) => { const m = /deployment="([^"]*)"/.exec(d.groupKey); return mine(m?.[1]); }),
    };
  } });
}
