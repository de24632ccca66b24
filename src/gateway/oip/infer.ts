import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Clock } from '../../clock.js';
import { fail } from '../../errors.js';
import { checkRequestedOutputs, decodeInferRequest, encodeInferResponse, validateInputs } from '../../runtime/codec/index.js';
import type { GatewayMetrics } from '../../monitor/metrics.js';
import type { Principal } from '../../security/principal.js';
import type { RouteTable } from '../route-table.js';
import { resolveVersion } from './resolve.js';

export const INFERENCE_HEADER = 'inference-header-content-length';

function headerLength(raw: string | string[] | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const s = Array.isArray(raw) ? raw[0] : raw;
  if (s === undefined || !/^[0-9]{1,15}$/.test(s.trim())) {
    throw fail('ALOFT_BAD_REQUEST', `Inference-Header-Content-Length must be a non-negative integer, got '${String(s).slice(0, 40)}'`);
  }
  return Number(s.trim());
}

/** One inference request as every serving path hands it over. */
export interface InferCall {
  name: string;
  version: string | undefined;
  body: Buffer;
  /** The Inference-Header-Content-Length header as received. */
  inferenceHeader: string | string[] | undefined;
  principal: Principal | undefined;
  /** Set as soon as the deployment and version are known, for metrics (errors included). */
  target?: { deployment: string; version: number };
}

export interface InferAnswer {
  contentType: string;
  /** Inference-Header-Content-Length of a binary answer. */
  headerLength?: number;
  body: Buffer | string;
}

export type InferFn = (call: InferCall) => Promise<InferAnswer>;

/**
 * POST /v2/models/{name}[/versions/{v}]/infer without the HTTP around it: resolve, decode,
 * validate, batch, encode. Throws AloftErrors with the protocol's statuses. Shared by the
 * Fastify route and the lean infer path (lean-infer.ts).
 */
export function makeInfer(routes: RouteTable, clock: Clock): InferFn {
  return async (call) => {
    const t0 = clock.now();
    const { dep, served } = resolveVersion(routes, call.name, call.version, call);
    call.target = { deployment: dep.name, version: served.version };
    const body = call.body;
    if (body.length === 0) throw fail('ALOFT_BAD_REQUEST', 'the request body is empty; send an inference request such as {"inputs": [...]}');
    const request = decodeInferRequest(body, headerLength(call.inferenceHeader), { signature: served.signature });
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
    return { contentType: enc.contentType, ...(enc.headerLength !== undefined ? { headerLength: enc.headerLength } : {}), body: enc.body };
  };
}

const TARGET = Symbol('aloft.inferTarget');
type Targeted = FastifyRequest & { [TARGET]?: { deployment: string; version: number } };

/** The inference routes on Fastify. Returns the infer function for the lean path to share. */
export function inferRoutes(app: FastifyInstance, routes: RouteTable, clock: Clock, metrics?: GatewayMetrics): InferFn {
  const infer = makeInfer(routes, clock);
  const handler = async (req: FastifyRequest, reply: FastifyReply, name: string, version: string | undefined) => {
    const call: InferCall = {
      name, version, body: (req.body as Buffer | undefined) ?? Buffer.alloc(0), inferenceHeader: req.headers[INFERENCE_HEADER], principal: req.principal,
    };
    try {
      const answer = await infer(call);
      reply.header('content-type', answer.contentType);
      if (answer.headerLength !== undefined) reply.header(INFERENCE_HEADER, String(answer.headerLength));
      return reply.send(answer.body);
    } finally {
      if (call.target) (req as Targeted)[TARGET] = call.target;
    }
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
  return infer;
}
