/**
 * The node front: inference requests that node:http has parsed, served by the pipeline
 * (pipeline.ts) without Fastify's per-request machinery (request and reply objects,
 * content-type parsing, the hook chain, reply serialization).
 *
 * Why: on the 2-core bench machine a Fastify server that answers a fixed body with four
 * no-op hooks costs 63–89 µs of CPU per request against 36–46 µs for bare node:http
 * (`tsx bench/run.ts --systems fixed,fastify-fixed --models mnist --concurrency 64
 * --no-write`), and the gateway's event loop is its busiest thread (docs/architecture.md).
 *
 * It takes every `POST /v2/models/{name}[/versions/{v}]/infer` whose names are plain
 * (no percent-encoding, no query string), whatever the body's framing (Content-Length or
 * chunked) or encoding (identity, gzip, deflate). Other URLs go to Fastify's infer routes
 * (`inferRoutes` below), which decode them and run the same pipeline on the same kind of
 * exchange; so do all requests once the server is closing (Fastify answers 503).
 */
import { routeOf } from '../../api/routes.js';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createGunzip, createInflate, type Gunzip, type Inflate } from 'node:zlib';
import type { FastifyInstance } from 'fastify';
import type { Clock, Timer } from '../../clock.js';
import { fail } from '../../errors.js';
import type { Logger } from '../../log.js';
import { PIPELINE_ROUTE } from '../auth-hook.js';
import { INFERENCE_HEADER } from '../oip/infer.js';
import { CLIENT_GONE, inferPath, tooLarge, type BodyRead, type InferExchange, type InferTarget, type Serve } from '../pipeline.js';

/** Takes a request and answers it (true), or leaves it to the next handler (false). */
export type RawHandler = (req: IncomingMessage, res: ServerResponse) => boolean;

export interface NodeFrontOptions {
  serve: Serve;
  clock: Clock;
  logger: Logger;
  /** True once the server is closing: Fastify then answers everything (503 and Connection: close). */
  closing(): boolean;
}

/** The raw handler that puts plain-named infer requests on the pipeline. */
export function nodeFront(o: NodeFrontOptions): RawHandler {
  return (req, res) => {
    if (req.method !== 'POST' || o.closing()) return false;
    const url = req.url ?? '';
    const target = inferPath(url);
    if (target === undefined) return false;
    run(o, nodeExchange(req, res, url, target, o.clock.now(), o.clock), res);
    return true;
  };
}

/**
 * Fastify's infer routes, for the infer URLs the node front leaves (percent-encoded names,
 * a query string): Fastify decodes the names, then the pipeline serves the request on the
 * raw request and response. The routes' body is left unread (their own content-type
 * parser reads nothing) and they skip the app-wide authentication hook: the pipeline
 * authenticates, before the body, as on every front.
 */
export function inferRoutes(app: FastifyInstance, o: Omit<NodeFrontOptions, 'closing'>): void {
  void app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', (_req, _payload, done) => done(null));
    const route = (name: string, version: string | undefined) => (req: { raw: IncomingMessage; url: string }, reply: { hijack(): void; raw: ServerResponse }) => {
      reply.hijack();
      run(o, nodeExchange(req.raw, reply.raw, req.url, { name, version }, o.clock.now(), o.clock), reply.raw);
    };
    const config = PIPELINE_ROUTE;
    scope.route<{ Params: { name: string } }>({ ...routeOf('model.infer'), config, handler: (req, reply) => route(req.params.name, undefined)(req, reply) });
    scope.route<{ Params: { name: string; version: string } }>({ ...routeOf('model.version.infer'), config, handler: (req, reply) => route(req.params.name, req.params.version)(req, reply) });
  });
}

function run(o: Pick<NodeFrontOptions, 'serve' | 'logger'>, ex: InferExchange, res: ServerResponse): void {
  o.serve(ex).catch((err: unknown) => {
    // serve answers every error itself; this is only a last guard for the process.
    o.logger.error({ err, url: ex.url }, 'infer pipeline failed');
    if (!res.headersSent) res.destroy();
  });
}

const LENGTH = /^[0-9]{1,15}$/;

/** An exchange over a node:http request and response. */
export function nodeExchange(req: IncomingMessage, res: ServerResponse, url: string, target: InferTarget, arrivedAt: number, clock: Clock): InferExchange {
  const h = req.headers;
  const encoding = h['content-encoding'];
  const identity = encoding === undefined || encoding === 'identity';
  const cl = h['content-length'];
  const declaredLength = identity && h['transfer-encoding'] === undefined && cl !== undefined && LENGTH.test(cl) ? Number(cl) : undefined;
  let late = false;
  return {
    url, target, arrivedAt, declaredLength,
    ip: req.socket.remoteAddress ?? '',
    authorization: h.authorization,
    inferenceHeader: h[INFERENCE_HEADER],
    header: (name) => {
      const v = h[name];
      return Array.isArray(v) ? v[0] : v;
    },
    socket: req.socket,
    body: (read) => readBody(req, encoding, declaredLength, read, clock, () => { late = true; }),
    answer: (status, headers, body) => {
      if (res.headersSent || res.destroyed) return;
      // A body that did not arrive in time may never come: close rather than wait to skip it.
      // Any other unread rest is skipped by node:http, keeping the connection (as Fastify does).
      if (late) headers = { ...headers, connection: 'close' };
      res.writeHead(status, headers);
      res.end(body);
    },
    gone: () => res.destroyed,
  };
}

/**
 * The whole body of a node:http request, inflated if it is compressed, within `read`'s
 * limit, charge and time.
 */
function readBody(req: IncomingMessage, encoding: string | string[] | undefined, declared: number | undefined, read: BodyRead, clock: Clock, onLate: () => void): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    let inflater: Gunzip | Inflate | undefined;
    if (encoding === 'gzip' || encoding === 'x-gzip' || encoding === 'deflate') {
      inflater = encoding === 'deflate' ? createInflate() : createGunzip();
    } else if (encoding !== undefined && encoding !== 'identity') {
      reject(fail('ALOFT_UNSUPPORTED_ENCODING', `Content-Encoding '${String(encoding).slice(0, 40)}' is not supported; use gzip, deflate or none`));
      return;
    }
    const chunks: Buffer[] = [];
    // A declared length is read straight into its place: one copy of the body, not the
    // chunks and then their concatenation.
    const target = declared === undefined ? undefined : Buffer.allocUnsafe(declared);
    let received = 0;
    const due: { timer?: Timer } = {};
    const settle = (err: unknown, body?: Buffer) => {
      due.timer?.cancel();
      req.off('data', onRaw);
      req.off('end', onRawEnd);
      req.off('error', onGone);
      req.off('close', onClose);
      if (inflater) {
        inflater.off('data', onData);
        inflater.off('end', onEnd);
        inflater.off('error', onInflateError);
        if (err !== undefined) inflater.destroy();
      } else {
        req.off('data', onData);
        req.off('end', onEnd);
      }
      if (err !== undefined) reject(err);
      else resolve(body!);
    };
    const mismatch = () => settle(fail('ALOFT_BAD_REQUEST', 'the Content-Length header does not match the body'));
    const onData = (c: Buffer) => {
      if (target) {
        if (received + c.length > target.length) return mismatch();
        c.copy(target, received);
        received += c.length;
        return;
      }
      received += c.length;
      if (received > read.limit) return settle(tooLarge(read.limit));
      // A declared length was charged before the read; anything else is charged as it comes.
      if (!read.reservation.charge(c.length)) return settle(read.reservation.refusal());
      chunks.push(c);
    };
    const onEnd = () => {
      if (target) return received === target.length ? settle(undefined, target) : mismatch();
      settle(undefined, chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, received));
    };
    const onGone = () => settle(CLIENT_GONE);
    const onClose = () => { if (!req.complete) settle(CLIENT_GONE); };
    const onInflateError = (err: Error) => settle(err);
    // With an inflater the raw bytes go in by hand, so back-pressure is the inflater's.
    const onRaw = (c: Buffer) => { if (inflater && !inflater.write(c)) { req.pause(); inflater.once('drain', () => req.resume()); } };
    const onRawEnd = () => inflater?.end();
    if (inflater) {
      inflater.on('data', onData);
      inflater.on('end', onEnd);
      inflater.on('error', onInflateError);
      req.on('data', onRaw);
      req.on('end', onRawEnd);
    } else {
      req.on('data', onData);
      req.on('end', onEnd);
    }
    req.on('error', onGone);
    req.on('close', onClose);
    due.timer = clock.setTimeout(() => { onLate(); settle(read.late()); }, Math.max(0, read.until - clock.now()));
  });
}
