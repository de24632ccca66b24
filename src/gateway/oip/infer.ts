import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Clock } from '../../clock.js';
import { fail } from '../../errors.js';
import { checkRequestedOutputs, decodeInferRequest, encodeInferResponse, validateInputs } from '../../runtime/codec/index.js';
import type { GatewayMetrics } from '../../monitor/metrics.js';
import type { RouteTable } from '../route-table.js';
import { resolveVersion } from './resolve.js';

const HEADER = 'inference-header-content-length';

function headerLength(req: FastifyRequest): number | undefined {
  const raw = req.headers[HEADER];
  if (raw === undefined) return undefined;
  const s = Array.isArray(raw) ? raw[0] : raw;
  if (s === undefined || !/^[0-9]{1,15}$/.test(s.trim())) {
    throw fail('ALOFT_BAD_REQUEST', `Inference-Header-Content-Length must be a non-negative integer, got '${String(s).slice(0, 40)}'`);
  }
  return Number(s.trim());
}

/** POST /v2/models/{name}[/versions/{v}]/infer: decode, validate, batch, encode. */
const TARGET = Symbol('aloft.inferTarget');
type Targeted = FastifyRequest & { [TARGET]?: { deployment: string; version: number } };

export function inferRoutes(app: FastifyInstance, routes: RouteTable, clock: Clock, metrics?: GatewayMetrics): void {
  const handler = async (req: FastifyRequest, reply: FastifyReply, name: string, version: string | undefined) => {
    const t0 = clock.now();
    const { dep, served } = resolveVersion(routes, name, version, req);
    (req as Targeted)[TARGET] = { deployment: dep.name, version: served.version };
    const body = (req.body as Buffer | undefined) ?? Buffer.alloc(0);
    if (body.length === 0) throw fail('ALOFT_BAD_REQUEST', 'the request body is empty; send an inference request such as {"inputs": [...]}');
    const request = decodeInferRequest(body, headerLength(req), { signature: served.signature });
    const inputs = validateInputs(request.inputs, served.signature);
    if (request.outputs) checkRequestedOutputs(request.outputs, served.signature);
    const t1 = clock.now();
    served.stats.recordInput(t1 - t0);
    let outputs;
    try {
      outputs = await served.batcher.infer(inputs, dep.timeoutMs);
    } catch (err) {
      served.stats.recordResult(false, clock.now() - t0, clock.date().getTime());
      throw err;
    }
    const t2 = clock.now();
    const binaryOutput = request.binaryOutput === true;
    const enc = encodeInferResponse(
      { modelName: dep.name, modelVersion: String(served.version), ...(request.id !== undefined ? { id: request.id } : {}), outputs },
      { ...(request.outputs ? { outputs: request.outputs } : {}), binaryOutput },
    );
    const t3 = clock.now();
    served.stats.recordOutput(t3 - t2);
    served.stats.recordResult(true, t3 - t0, clock.date().getTime());
    reply.header('content-type', enc.contentType);
    if (enc.headerLength !== undefined) reply.header(HEADER, String(enc.headerLength));
    return reply.send(enc.body);
  };
  // Every answer of a known deployment is counted, errors included.
  const onResponse = metrics
    ? async (req: FastifyRequest, reply: FastifyReply) => {
      const t = (req as Targeted)[TARGET];
      if (t) metrics.request(t.deployment, t.version, reply.statusCode, reply.elapsedTime / 1000);
    }
    : undefined;
  app.post<{ Params: { name: string } }>('/v2/models/:name/infer', { ...(onResponse ? { onResponse } : {}) },
    (req, reply) => handler(req, reply, req.params.name, undefined));
  app.post<{ Params: { name: string; version: string } }>('/v2/models/:name/versions/:version/infer', { ...(onResponse ? { onResponse } : {}) },
    (req, reply) => handler(req, reply, req.params.name, req.params.version));
}
