/**
 * The control plane's admin API: plan, apply, rollback, revisions, status and artifact
 * uploads (api/routes.ts declares them; api/types.ts types their bodies). Bodies are
 * JSON except artifact uploads (the file's bytes). Every change is attributed to the
 * caller's key or token subject.
 */
import { createHash } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { routeOf } from '../api/routes.js';
import type { ApplyAnswer, ApplyRequest, ArtifactStored, GcResult, PlanResult, RevisionDetail, RevisionList, RollbackRequest, RolloutChanged, RolloutList, VersionDeleted } from '../api/types.js';
import { fail, isAloftError } from '../errors.js';
import { readSignature } from '../onnx/signature.js';
import type { Registry } from '../registry/registry.js';
import { actorOf } from '../security/audit.js';
import { ANONYMOUS, type Principal } from '../security/principal.js';
import type { ControlPlane, ControlStatus, SpecSubmission } from './control-plane.js';
import type { RolloutRunCost, Rollouts, RolloutStatus } from './rollouts.js';
import type { AuditLog } from '../security/audit.js';
import { inScopeOf } from '../security/policy.js';
import { jsonBody } from '../api/json-body.js';

export interface ControlRoutesContext {
  control: ControlPlane;
  registry: Registry;
  rollouts?: Rollouts;
  /** Wake the deployments reconciler (after a rollout command). */
  enqueue?: () => void;
  audit?: Pick<AuditLog, 'append'>;
  /** What the second group of a running rollout costs (undefined when it has none, or no prices apply). */
  rolloutCost?: (r: RolloutStatus) => RolloutRunCost | undefined;
}

function optionalInt(v: unknown, name: string): number | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) throw fail('ALOFT_BAD_REQUEST', `${name} must be a revision number (an integer ≥ 0), got ${JSON.stringify(v)}`);
  return v;
}

function optionalBool(v: unknown, name: string): boolean | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'boolean') throw fail('ALOFT_BAD_REQUEST', `${name} must be true or false, got ${JSON.stringify(v)}`);
  return v;
}

function optionalString(v: unknown, name: string): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw fail('ALOFT_BAD_REQUEST', `${name} must be a string`);
  if (v.length > 2000) throw fail('ALOFT_BAD_REQUEST', `${name} is longer than 2000 characters`);
  return v;
}

function submission(body: Partial<ApplyRequest>): SpecSubmission {
  if (typeof body.spec !== 'string' || body.spec.trim() === '') throw fail('ALOFT_BAD_REQUEST', 'send {"spec": "<the YAML text>", "file": "aloft.yaml", "models": {"<model>": {"sha256": "…", "sizeBytes": N}}}');
  return { spec: body.spec, file: optionalString(body.file, 'file') ?? 'aloft.yaml', ...(body.models !== undefined ? { models: body.models } : {}) };
}

/** Spec errors answer with every issue as data too, for --json and editors. */
async function answer<T>(reply: FastifyReply, work: () => Promise<T>, status: (r: T) => number = () => 200): Promise<FastifyReply> {
  try {
    const r = await work();
    return reply.code(status(r)).send(r);
  } catch (err) {
    if (isAloftError(err) && err.details && (Array.isArray(err.details.issues) || Array.isArray(err.details.restart) || Array.isArray(err.details.refused))) {
      return reply.code(err.status).send({ error: err.message, code: err.code, ...err.details });
    }
    throw err;
  }
}

export function registerControlRoutes(app: FastifyInstance, ctx: ControlRoutesContext): void {
  const { control, registry } = ctx;
  const who = (req: FastifyRequest) => ({ actor: actorOf((req as { principal?: Principal }).principal ?? ANONYMOUS), source: req.ip });

  app.route({ ...routeOf('admin.status'), handler: async (): Promise<ControlStatus> => control.status() });

  app.route({ ...routeOf('admin.plan'), handler: (req, reply) => answer(reply, async (): Promise<PlanResult> => {
    const sub = submission(jsonBody<Partial<ApplyRequest>>(req, '{"spec": "<yaml>", "file": "aloft.yaml", "models": {…}}'));
    const plan = await control.plan(sub);
    const upload = [];
    for (const m of plan.models) if (m.register && !(await registry.artifacts.has(m.sha256, m.sizeBytes))) upload.push({ model: m.model, sha256: m.sha256, sizeBytes: m.sizeBytes });
    return { plan, upload };
  }) });

  app.route({ ...routeOf('admin.apply'), handler: (req, reply) => answer(reply, async (): Promise<ApplyAnswer> => {
    const body = jsonBody<Partial<ApplyRequest>>(req, '{"spec": "<yaml>", "file": "aloft.yaml", "models": {…}, "base": N, "message": "…"}');
    const base = optionalInt(body.base, 'base');
    const message = optionalString(body.message, 'message');
    return control.apply(submission(body), who(req), { ...(base !== undefined ? { base } : {}), ...(message !== undefined ? { message } : {}) });
  }, (r) => (r.changed ? 202 : 200)) });

  app.route({ ...routeOf('admin.rollback'), handler: (req, reply) => answer(reply, async (): Promise<ApplyAnswer> => {
    const body = jsonBody<RollbackRequest>(req, '{"to": N, "base": N, "message": "…", "dryRun": false}');
    const to = optionalInt(body.to, 'to');
    const base = optionalInt(body.base, 'base');
    const message = optionalString(body.message, 'message');
    const dryRun = optionalBool(body.dryRun, 'dryRun');
    return control.rollback(who(req), { ...(to !== undefined ? { to } : {}), ...(base !== undefined ? { base } : {}), ...(message !== undefined ? { message } : {}), ...(dryRun ? { dryRun } : {}) });
  }, (r) => (r.changed && r.dryRun !== true ? 202 : 200)) });

  app.route({ ...routeOf('admin.revisions.list'), handler: async (req): Promise<RevisionList> => {
    const raw = (req.query as { limit?: string } | undefined)?.limit;
    const limit = raw === undefined ? 100 : Number(raw);
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw fail('ALOFT_BAD_REQUEST', `limit must be an integer from 1 to 1000, got '${raw}'`);
    return { revisions: await control.revisions.list(limit) };
  } });

  app.route<{ Params: { number: string } }>({ ...routeOf('admin.revisions.show'), handler: async (req): Promise<RevisionDetail> => {
    const n = Number(req.params.number);
    if (!Number.isInteger(n) || n < 1) throw fail('ALOFT_BAD_REQUEST', `a revision number is a positive integer, got '${req.params.number}'`);
    const r = await control.revisions.get(n);
    if (!r) {
      const latest = await control.revisions.latest();
      throw fail('ALOFT_REVISION_NOT_FOUND', `there is no revision ${n}; ${latest ? `revisions are 1 to ${latest.number}` : 'none has been recorded yet'}`);
    }
    return r;
  } });

  app.route<{ Params: { digest: string } }>({ ...routeOf('admin.artifacts.put'), handler: async (req, reply): Promise<ArtifactStored> => {
    const sha = req.params.digest;
    if (!/^[0-9a-f]{64}$/.test(sha)) throw fail('ALOFT_BAD_REQUEST', `'${sha.slice(0, 80)}' is not a sha256 digest (64 lowercase hex digits)`);
    const body = req.body as Buffer | undefined;
    if (!body || body.length === 0) throw fail('ALOFT_BAD_REQUEST', 'send the model file as the request body');
    const actual = createHash('sha256').update(body).digest('hex');
    if (actual !== sha) throw fail('ALOFT_BAD_REQUEST', `the body's sha256 is ${actual}, not ${sha}; the upload was damaged or the wrong file was sent`);
    readSignature(body); // a file that is not a usable ONNX model is refused before it is stored
    const stored = await registry.artifacts.put(body);
    reply.code(201);
    return { sha256: stored.sha256, sizeBytes: stored.size };
  } });

  app.route<{ Params: { name: string; version: string } }>({ ...routeOf('admin.models.version.delete'), handler: async (req): Promise<VersionDeleted> => {
    const v = Number(req.params.version);
    if (!Number.isInteger(v) || v < 1) throw fail('ALOFT_BAD_REQUEST', `version must be a positive integer, got '${req.params.version}'`);
    await control.deleteVersion(req.params.name, v, who(req));
    return { model: req.params.name, version: v, deleted: true };
  } });

  app.route({ ...routeOf('admin.gc'), handler: async (req): Promise<GcResult> => {
    const body = jsonBody<{ dryRun?: unknown }>(req, '{"dryRun": true}');
    if (body.dryRun !== undefined && typeof body.dryRun !== 'boolean') throw fail('ALOFT_BAD_REQUEST', 'dryRun must be true or false');
    const removed = await control.gc(who(req), { dryRun: body.dryRun === true });
    return { removed, freedBytes: removed.reduce((n, r) => n + r.sizeBytes, 0), dryRun: body.dryRun === true };
  } });

  const rollouts = ctx.rollouts;
  if (!rollouts) return;
  app.route({ ...routeOf('admin.rollouts'), handler: (req): RolloutList => ({
    rollouts: rollouts.status().filter((r) => inScopeOf((req as { principal?: Principal }).principal, r.deployment)).map((r) => {
      const cost = ctx.rolloutCost?.(r);
      return cost ? { ...r, cost } : r;
    }),
  }) });
  const command = (id: 'admin.rollout.promote' | 'admin.rollout.abort' | 'admin.rollout.pause' | 'admin.rollout.resume', act: (name: string, by: string) => ReturnType<Rollouts['status']>[number], action?: string) => {
    app.route<{ Params: { name: string } }>({ ...routeOf(id), handler: async (req): Promise<RolloutChanged> => {
      const by = who(req);
      if (!control.deployments().some((d) => d.name === req.params.name)) {
        throw fail('ALOFT_MODEL_NOT_FOUND', `deployment '${req.params.name.slice(0, 80)}' is not served here; aloft status lists the deployments`);
      }
      const before = rollouts.status().find((r) => r.deployment === req.params.name);
      const rollout = act(req.params.name, by.actor.name);
      // Pausing a paused rollout, resuming a running one, aborting a rolled-back one or
      // promoting a promoted one changes nothing: said, not audited.
      const toggles = id === 'admin.rollout.pause' || id === 'admin.rollout.resume';
      const changed = !(before && (toggles ? before.paused === rollout.paused : before.state === rollout.state));
      ctx.enqueue?.();
      if (changed && action && ctx.audit) await ctx.audit.append({ actor: by.actor, action, target: `${rollout.deployment}@${rollout.candidate.version}`, source: by.source, after: { state: rollout.state, step: rollout.step, weight: rollout.weight, reason: rollout.reason ?? null } });
      return { rollout, changed };
    } });
  };
  command('admin.rollout.promote', (n, by) => rollouts.promote(n, by), 'rollout.promote_requested');
  command('admin.rollout.abort', (n, by) => rollouts.abort(n, by), 'rollout.aborted');
  command('admin.rollout.pause', (n) => rollouts.pause(n), 'rollout.paused');
  command('admin.rollout.resume', (n) => rollouts.resume(n), 'rollout.resumed');
}
