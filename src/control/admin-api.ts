/**
 * The admin API: JSON under /api/v1 on the gateway's port. The CLI and (later) the
 * dashboard use it; nothing else opens the database of a running system.
 */
import type { FastifyInstance } from 'fastify';
import { routeOf } from '../api/routes.js';
import type { AliasDeleted, AliasResult, DeploymentList, ModelDetail, ModelList, PushResult } from '../api/types.js';
import { fail } from '../errors.js';
import type { Routing } from '../gateway/routing.js';
import type { Registry } from '../registry/registry.js';
import { actorOf, type AuditLog } from '../security/audit.js';
import { inScopeOf } from '../security/policy.js';
import { ANONYMOUS, type Principal } from '../security/principal.js';
import type { Orchestrator } from './orchestrators/types.js';

export interface AdminContext {
  registry: Registry;
  /** What the gateway routes and holds, read as data (config and status). */
  routing: Pick<Routing, 'config' | 'status'>;
  orchestrator: Orchestrator;
  audit?: Pick<AuditLog, 'append'> | undefined;
}

/** Who made an admin change, for the audit trail (set by the auth hook). */
function actor(req: { principal?: Principal }) {
  return actorOf(req.principal ?? ANONYMOUS);
}

function queryString(q: unknown, key: string): string | undefined {
  const v = (q as Record<string, unknown> | undefined)?.[key];
  return typeof v === 'string' && v.length > 0 ? v : undefined;
}

export function adminRoutes(app: FastifyInstance, ctx: AdminContext): void {
  const { registry } = ctx;

  // Listings show only what the caller's scopes cover; routes naming a model or deployment
  // are scoped by the access policy (security/policy.ts).
  app.route({ ...routeOf('admin.models.list'), handler: async (req): Promise<ModelList> => ({ models: (await registry.listModels()).filter((m) => inScopeOf(req.principal, m.name)) }) });

  app.route<{ Params: { name: string } }>({ ...routeOf('admin.models.show'), handler: async (req): Promise<ModelDetail> => {
    const model = await registry.getModel(req.params.name);
    const versions = await registry.listVersions(req.params.name);
    return { model, versions };
  } });

  app.route<{ Params: { name: string; version: string } }>({ ...routeOf('admin.models.version'), handler: async (req) => {
    const v = Number(req.params.version);
    if (!Number.isInteger(v) || v < 1) throw fail('ALOFT_BAD_REQUEST', `version must be a positive integer, got '${req.params.version}'`);
    return registry.getVersion(req.params.name, v);
  } });

  // Push a new version: the body is the ONNX file.
  app.route<{ Params: { name: string } }>({ ...routeOf('admin.models.push'), handler: async (req, reply) => {
    const body = req.body as Buffer | undefined;
    if (!body || body.length === 0) throw fail('ALOFT_BAD_REQUEST', 'send the ONNX file as the request body');
    // The bytes go to the registry as they are: no temporary file to leave behind.
    const source = queryString(req.query, 'source') ?? 'upload';
    const description = queryString(req.query, 'description');
    const principal = (req as { principal?: Principal }).principal;
    const audit = ctx.audit;
    const { version, created } = await registry.register(req.params.name, body, {
      source, ...(description ? { description } : {}), ...(principal ? { createdBy: principal.name } : {}),
      ...(audit ? { record: (tx, v) => audit.append({ actor: actor(req), action: 'model.registered', target: `${v.model}@${v.version}`, source: req.ip, after: { sha256: v.sha256, sizeBytes: v.sizeBytes, source } }, tx) } : {}),
    });
    return reply.code(created ? 201 : 200).send({ created, version } satisfies PushResult);
  } });

  app.route<{ Params: { name: string; alias: string } }>({ ...routeOf('admin.models.alias.set'), handler: async (req) => {
    let parsed: { version?: unknown };
    try {
      parsed = JSON.parse((req.body as Buffer | undefined)?.toString('utf8') ?? '') as { version?: unknown };
    } catch {
      throw fail('ALOFT_BAD_REQUEST', 'send {"version": N}');
    }
    if (typeof parsed.version !== 'number' || !Number.isInteger(parsed.version)) throw fail('ALOFT_BAD_REQUEST', 'send {"version": N} with an integer N');
    const audit = ctx.audit;
    await registry.setAlias(req.params.name, req.params.alias, parsed.version, audit && ((tx, set) => audit.append({
      actor: actor(req), action: 'alias.set', target: `${set.model}@${set.alias}`, source: req.ip, before: { version: set.previous ?? null }, after: { version: set.version },
    }, tx)));
    return { model: req.params.name, alias: req.params.alias, version: parsed.version } satisfies AliasResult;
  } });

  app.route<{ Params: { name: string; alias: string } }>({ ...routeOf('admin.models.alias.delete'), handler: async (req) => {
    const audit = ctx.audit;
    await registry.deleteAlias(req.params.name, req.params.alias, audit && ((tx, gone) => audit.append({
      actor: actor(req), action: 'alias.deleted', target: `${gone.model}@${gone.alias}`, source: req.ip, before: { version: gone.version },
    }, tx)));
    return { deleted: true } satisfies AliasDeleted;
  } });

  app.route({ ...routeOf('admin.deployments'), handler: (req): DeploymentList => {
    const replicas = ctx.orchestrator.status();
    const held = ctx.routing.status();
    return {
      deployments: [...ctx.routing.config.deployments]
        .sort((a, b) => a.name.localeCompare(b.name))
        .filter((dep) => inScopeOf(req.principal, dep.name, dep.versions.find((v) => v.version === dep.current)?.model))
        .map((dep) => ({
          name: dep.name,
          currentVersion: dep.current,
          versions: dep.versions.map((v) => {
            const s = held.find((x) => x.group === v.group);
            return {
              model: v.model,
              version: v.version,
              state: s?.state ?? 'LOADING',
              ...(s?.reason ? { reason: s.reason } : {}),
              desiredReplicas: v.desiredReplicas,
              queued: s?.queued ?? 0,
              replicas: replicas.filter((r) => r.group === v.group),
            };
          }),
        })),
    };
  } });
}
