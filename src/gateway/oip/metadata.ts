import { routeOf } from '../../api/routes.js';
import type { FastifyInstance } from 'fastify';
import { fail } from '../../errors.js';
import { inScopeOf } from '../../security/policy.js';
import type { Principal } from '../../security/principal.js';
import type { TensorSpec } from '../../runtime/tensor.js';
import { versionState, type RouteTable } from '../route-table.js';
import { resolveVersion } from './resolve.js';

export interface ServerInfo {
  name: string;
  version: string;
  extensions: string[];
}

const tensorMeta = (t: TensorSpec) => ({ name: t.name, datatype: t.datatype, shape: t.shape });

/** Server metadata, model metadata and model readiness, with and without /versions/{v}. */
export function metadataRoutes(app: FastifyInstance, routes: RouteTable, info: ServerInfo): void {
  const server = JSON.stringify(info);
  for (const id of ['server.metadata', 'server.metadata.slash'] as const) {
    app.route({ ...routeOf(id), handler: (_req, reply) => reply.header('content-type', 'application/json').send(server) });
  }

  const metadata = (name: string, version: string | undefined, req: { principal?: Principal }) => {
    const { dep, served } = resolveVersion(routes, name, version, req);
    return {
      name: dep.name,
      versions: [...dep.versions.keys()].sort((a, b) => a - b).map(String),
      platform: served.platform,
      inputs: served.signature.inputs.map(tensorMeta),
      outputs: served.signature.outputs.map(tensorMeta),
      parameters: { model: served.model, version: String(served.version), batchable: served.signature.batchable },
    };
  };
  app.route<{ Params: { name: string } }>({ ...routeOf('model.metadata'), handler: (req) => metadata(req.params.name, undefined, req) });
  app.route<{ Params: { name: string; version: string } }>({ ...routeOf('model.version.metadata'), handler: (req) => metadata(req.params.name, req.params.version, req) });

  const ready = (name: string, version: string | undefined, req: { principal?: Principal }) => {
    const { dep, served } = resolveVersion(routes, name, version, req);
    const s = versionState(served);
    if (s.state !== 'READY') throw fail('ALOFT_NOT_READY', `model '${dep.name}' version ${served.version} is not ready: ${s.reason}`);
    return { name: dep.name, ready: true };
  };
  app.route<{ Params: { name: string } }>({ ...routeOf('model.ready'), handler: (req) => ready(req.params.name, undefined, req) });
  app.route<{ Params: { name: string; version: string } }>({ ...routeOf('model.version.ready'), handler: (req) => ready(req.params.name, req.params.version, req) });

  // KServe's name list, handy for humans.
  app.route({ ...routeOf('models.names'), handler: (req) => ({
    models: routes.list().filter((d) => inScopeOf((req as { principal?: Principal }).principal, d.name, d.versions.get(d.current)?.model)).map((d) => d.name),
  }) });
}
