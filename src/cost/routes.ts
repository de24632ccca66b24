/** GET /api/v1/cost: the cost report (report.ts) over a window, grouped as asked, narrowed to the caller's scopes. */
import type { FastifyInstance } from 'fastify';
import { routeOf } from '../api/routes.js';
import { fail } from '../errors.js';
import { inScopeOf } from '../security/policy.js';
import type { Principal } from '../security/principal.js';
import { parseDuration } from '../spec/units.js';
import type { CostReport } from './report.js';

export function registerCostRoute(app: FastifyInstance, ctx: { report(by: CostReport['by'], sinceMs: number, visible: (deployment: string) => boolean): Promise<CostReport> }): void {
  app.route({ ...routeOf('admin.cost'), handler: async (req): Promise<CostReport> => {
    const q = req.query as { by?: string; since?: string };
    const by = q.by ?? 'deployment';
    if (by !== 'deployment' && by !== 'version' && by !== 'label') throw fail('ALOFT_BAD_REQUEST', `by must be deployment, version or label, got '${String(by).slice(0, 40)}'`);
    const sinceMs = parseDuration(q.since ?? '30d');
    if (sinceMs === undefined || sinceMs === 0) throw fail('ALOFT_BAD_REQUEST', `since must be a duration back from now, such as 30d or 24h, got '${String(q.since).slice(0, 40)}'`);
    const principal = (req as { principal?: Principal }).principal;
    // A scoped key sees its deployments only: their groups, the labels they carry, a total of them, their findings and budgets.
    return ctx.report(by, sinceMs, (deployment) => inScopeOf(principal, deployment));
  } });
}
