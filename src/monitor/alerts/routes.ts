/**
 * GET /api/v1/alerts: the alert book (pending, firing, recently resolved), every
 * notification's delivery and the silences in force, narrowed to the deployments the
 * caller's scopes cover. /api/v1/silences: list, create and end silences (silences.ts).
 * A silence's reach is its `deployment` matcher: a caller scoped to some deployments may
 * only silence those; one without a deployment matcher reaches every deployment and needs
 * a key scoped to all ('*').
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { jsonBody } from '../../api/json-body.js';
import { routeOf } from '../../api/routes.js';
import type { Clock } from '../../clock.js';
import { fail } from '../../errors.js';
import { actorOf, type AuditLog } from '../../security/audit.js';
import { inScopeOf } from '../../security/policy.js';
import { ANONYMOUS, type Principal } from '../../security/principal.js';
import { didYouMean } from '../../spec/suggest.js';
import type { Alerts, AlertsReport } from './alerts.js';
import { isActive, matches, newSilence, type Silence, type SilenceRequest, type SilenceStore } from './silences.js';

export interface SilenceView extends Silence {
  state: 'active' | 'pending' | 'ended';
}

export interface SilenceCreated {
  silence: SilenceView;
  /** Alerts pending or firing now that it silences. */
  matching: { name: string; labels: Record<string, string>; state: string }[];
  /** Why it may not do what was meant (it matches nothing now, a deployment not served here). */
  warnings: string[];
}

export interface AlertsRouteContext {
  alerts: Alerts;
  exists(deployment: string): boolean;
  /** Deployment names, for suggestions. */
  deployments(): string[];
  silences?: SilenceStore;
  audit?: Pick<AuditLog, 'append'>;
  clock: Clock;
}

const principalOf = (req: FastifyRequest): Principal | undefined => (req as { principal?: Principal }).principal;
const everywhere = (p: Principal | undefined) => p?.scopes.includes('*') === true;
/** Whether the caller's scopes cover what a silence reaches. */
const covers = (p: Principal | undefined, s: Pick<Silence, 'matchers'>) => (s.matchers.deployment === undefined ? everywhere(p) : inScopeOf(p, s.matchers.deployment));

/** The alert names Aloft's rules raise (monitor/alerts/rules.ts, cost, SLOs), for suggestions. */
const KNOWN_ALERTS = ['SLOBurnRate', 'DataDrift', 'PredictionDrift', 'ReplicaCrashLoop', 'CaptureDropping', 'IdleDeployment', 'BudgetSpent', 'BudgetForecast'];

function view(s: Silence, nowMs: number): SilenceView {
  return { ...s, state: isActive(s, nowMs) ? 'active' : Date.parse(s.startsAt) > nowMs ? 'pending' : 'ended' };
}

export function registerAlertsRoute(app: FastifyInstance, ctx: AlertsRouteContext): void {
  app.route({ ...routeOf('admin.alerts'), handler: async (req): Promise<AlertsReport> => {
    const q = req.query as { deployment?: string };
    if (q.deployment !== undefined && !ctx.exists(q.deployment)) throw fail('ALOFT_MODEL_NOT_FOUND', `deployment '${String(q.deployment).slice(0, 80)}' is not served here`);
    const principal = principalOf(req);
    await ctx.alerts.silences();
    const r = ctx.alerts.report(q.deployment !== undefined ? { deployment: q.deployment } : {});
    const mine = (d: string | undefined) => inScopeOf(principal, d);
    return {
      ...r,
      active: r.active.filter((a) => mine(a.labels.deployment)),
      resolved: r.resolved.filter((a) => mine(a.labels.deployment)),
      deliveries: r.deliveries.filter((d) => { const m = /deployment="([^"]*)"/.exec(d.groupKey); return mine(m?.[1]); }),
      silences: r.silences.filter((s) => covers(principal, s)),
    };
  } });

  const store = ctx.silences;
  if (!store) return;
  const nowMs = () => ctx.clock.date().getTime();

  app.route({ ...routeOf('admin.silences.list'), handler: async (req): Promise<{ silences: SilenceView[] }> => {
    const principal = principalOf(req);
    const now = nowMs();
    return { silences: (await ctx.alerts.silences()).filter((s) => covers(principal, s)).map((s) => view(s, now)) };
  } });

  app.route({ ...routeOf('admin.silences.create'), handler: async (req, reply): Promise<SilenceCreated> => {
    const principal = principalOf(req) ?? ANONYMOUS;
    const silence = newSilence(jsonBody<SilenceRequest>(req, '{"matchers": {"deployment": "credit-risk"}, "duration": "2h", "comment": "retraining"}'), principal.name, nowMs());
    if (!covers(principal, silence)) {
      throw fail('ALOFT_FORBIDDEN', silence.matchers.deployment === undefined
        ? 'a silence without a deployment matcher reaches every deployment; your key is scoped to some: add {"deployment": "<one of yours>"}'
        : `your key's scopes do not cover deployment '${silence.matchers.deployment}'`);
    }
    const warnings: string[] = [];
    const d = silence.matchers.deployment;
    if (d !== undefined && !ctx.exists(d)) {
      const hint = didYouMean(d, ctx.deployments());
      warnings.push(`deployment '${d}' is not served here, so the silence matches nothing until one of that name is deployed${hint ? ` (${hint})` : ''}`);
    }
    const active = ctx.alerts.report().active;
    const matching = active.filter((a) => matches(silence, a.labels)).map((a) => ({ name: a.name, labels: { ...a.labels }, state: a.state }));
    const name = silence.matchers.alertname;
    const names = [...new Set([...active.map((a) => a.name), ...KNOWN_ALERTS])];
    if (name !== undefined && !names.includes(name)) {
      const prefix = names.find((n) => n.toLowerCase().startsWith(name.toLowerCase()));
      const hint = didYouMean(name, names) ?? (prefix ? `did you mean '${prefix}'?` : undefined);
      warnings.push(`no alert is named '${name}'${hint ? ` (${hint})` : ''}; alert names: ${KNOWN_ALERTS.join(', ')}`);
    } else if (matching.length === 0) warnings.push('it matches no pending or firing alert now (labels are matched exactly; aloft alerts --json shows each alert\'s labels)');
    await store.add(silence);
    await ctx.audit?.append({ actor: actorOf(principal), action: 'alert.silenced', target: silence.id, source: req.ip, after: { matchers: silence.matchers, startsAt: silence.startsAt, endsAt: silence.endsAt, comment: silence.comment } });
    await ctx.alerts.silences();
    reply.code(201);
    return { silence: view(silence, nowMs()), matching, warnings };
  } });

  app.route<{ Params: { id: string } }>({ ...routeOf('admin.silences.expire'), handler: async (req): Promise<{ silence: SilenceView; changed: boolean }> => {
    const principal = principalOf(req) ?? ANONYMOUS;
    const asked = req.params.id;
    // The whole id, or (as git and docker take) a unique prefix of at least 4 characters.
    const visible = (await ctx.alerts.silences()).filter((s) => covers(principal, s));
    const prefixed = asked.length >= 4 ? visible.filter((s) => s.id.startsWith(asked.toLowerCase())) : [];
    const known = visible.find((s) => s.id === asked) ?? (prefixed.length === 1 ? prefixed[0] : undefined);
    if (!known && prefixed.length > 1) throw fail('ALOFT_BAD_REQUEST', `'${asked}' is the start of ${prefixed.length} silences (${prefixed.map((s) => s.id).join(', ')}); give more of the id`);
    if (!known) throw fail('ALOFT_SILENCE_NOT_FOUND', `no silence '${asked.slice(0, 40)}' here; aloft silence list shows them`);
    const id = known.id;
    const ended = await store.expire(id, principal.name, nowMs());
    if (!ended) throw fail('ALOFT_SILENCE_NOT_FOUND', `no silence '${id.slice(0, 40)}' here; aloft silence list shows them`);
    // Already ended (by hand or by its time): nothing changes, nothing is audited.
    const changed = known.endsAt !== ended.endsAt;
    if (changed) await ctx.audit?.append({ actor: actorOf(principal), action: 'alert.silence_expired', target: id, source: req.ip, before: { endsAt: known.endsAt }, after: { endsAt: ended.endsAt } });
    await ctx.alerts.silences();
    return { silence: view(ended, nowMs()), changed };
  } });
}
