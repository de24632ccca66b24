/**
 * The lean infer path: plain inference requests served without Fastify's per-request
 * machinery (request and reply objects, content-type parsing, the hook chain, reply
 * serialization). It runs the very same steps as the Fastify route, in the same order,
 * through the same functions: authentication (auth-hook.ts), then the body, then rate
 * limits (ratelimit/hook.ts), then infer (oip/infer.ts), errors through errorAnswer
 * (http-errors.ts), metrics on the way out.
 *
 * Two fronts feed it: `leanInfer` takes requests node:http has parsed, and wire.ts reads
 * plain requests straight off the socket and hands every other connection to node:http.
 * Both describe a request as a `LeanExchange`, so the serving steps exist once.
 *
 * Why: on the 2-core bench machine a Fastify server that answers a fixed body with four
 * no-op hooks costs 63–89 µs of CPU per request against 36–46 µs for bare node:http
 * (`tsx bench/run.ts --systems fixed,fastify-fixed --models mnist --concurrency 64
 * --no-write`), and the gateway's event loop is its busiest thread (docs/architecture.md).
 *
 * Only the common shape takes this path; anything else goes to Fastify, which answers it
 * as before: another method or path, percent-encoded or unusual names, a query string,
 * no Content-Length or one over the body limit, chunked bodies, Content-Encoding,
 * `Expect`, an unusual Content-Type, and every request once the server is closing.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Clock } from '../clock.js';
import { fail } from '../errors.js';
import type { Logger } from '../log.js';
import type { GatewayMetrics } from '../monitor/metrics.js';
import { classifyRequest } from '../security/policy.js';
import { WWW_AUTHENTICATE, type AuthCheck } from './auth-hook.js';
import { errorAnswer, errorBody } from './http-errors.js';
import { INFERENCE_HEADER, type InferCall, type InferFn } from './oip/infer.js';
import type { LimitCheckFn } from './ratelimit/hook.js';

/** Takes a request and answers it (true), or leaves it to the next handler (false). */
export type RawHandler = (req: IncomingMessage, res: ServerResponse) => boolean;

export interface LeanInferOptions {
  infer: InferFn;
  auth: AuthCheck;
  limits?: LimitCheckFn;
  metrics?: GatewayMetrics;
  clock: Clock;
  logger: Logger;
  bodyLimit: number;
  /** True once the server is closing: Fastify then answers everything (503 and Connection: close). */
  closing(): boolean;
}

export interface InferTarget {
  name: string;
  version: string | undefined;
}

/** One plain infer request as either front sees it. */
export interface LeanExchange {
  readonly url: string;
  readonly path: InferTarget;
  readonly ip: string;
  readonly authorization: string | undefined;
  readonly inferenceHeader: string | string[] | undefined;
  /** The connection (the authentication memo is kept per connection). */
  readonly socket: object;
  /** The whole body; rejects with `LEAN_GONE` when the client leaves first. */
  body(): Promise<Buffer>;
  /** Writes the answer; does nothing once the client is gone. */
  answer(status: number, headers: Record<string, string>, body: string | Buffer): void;
  /** True once the client is gone. */
  gone(): boolean;
}

/** The headers that decide whether a request is plain (lower-case names, one value each). */
export interface PlainHeaders {
  'transfer-encoding'?: string | undefined;
  expect?: string | undefined;
  'content-encoding'?: string | undefined;
  'content-type'?: string | undefined;
  'content-length'?: string | undefined;
}

const PREFIX = '/v2/models/';
const NAME = /^[A-Za-z0-9._-]{1,256}$/;
const CONTENT_TYPE = /^application\/(json|octet-stream)(\s*;\s*charset=utf-8)?$/i;
const LENGTH = /^[0-9]{1,12}$/;

/** `{name, version}` of `/v2/models/{name}[/versions/{version}]/infer`, or undefined. */
export function inferPath(url: string): InferTarget | undefined {
  if (!url.startsWith(PREFIX) || !url.endsWith('/infer')) return undefined;
  const parts = url.slice(PREFIX.length, -'/infer'.length).split('/');
  if (parts.length === 1 && NAME.test(parts[0]!)) return { name: parts[0]!, version: undefined };
  if (parts.length === 3 && parts[1] === 'versions' && NAME.test(parts[0]!) && NAME.test(parts[2]!)) return { name: parts[0]!, version: parts[2]! };
  return undefined;
}

/**
 * The body length of a request plain enough for the lean path, or undefined: no chunked
 * body, no `Expect`, no Content-Encoding but identity, a JSON or binary Content-Type (or
 * none), and a Content-Length within the body limit.
 */
export function plainBodyLength(h: PlainHeaders, bodyLimit: number): number | undefined {
  if (h['transfer-encoding'] !== undefined || h.expect !== undefined) return undefined;
  const enc = h['content-encoding'];
  if (enc !== undefined && enc !== 'identity') return undefined;
  const type = h['content-type'];
  if (type !== undefined && !CONTENT_TYPE.test(type)) return undefined;
  const cl = h['content-length'];
  if (cl === undefined || !LENGTH.test(cl)) return undefined;
  const length = Number(cl);
  return length > bodyLimit ? undefined : length;
}

/** Serves one plain infer request, answering every error itself. */
export type LeanServe = (ex: LeanExchange) => Promise<void>;

export function leanServe(o: LeanInferOptions): LeanServe {
  return async (ex) => {
    const t0 = o.clock.now();
    const { url, path } = ex;
    const call: InferCall = { name: path.name, version: path.version, body: EMPTY, inferenceHeader: ex.inferenceHeader, principal: undefined };
    let status = 0;
    try {
      const segments = path.version === undefined ? ['v2', 'models', path.name, 'infer'] : ['v2', 'models', path.name, 'versions', path.version, 'infer'];
      const auth = await o.auth({ method: 'POST', url, ip: ex.ip, authorization: ex.authorization, socket: ex.socket }, classifyRequest('POST', segments));
      if (!auth.ok) {
        status = auth.status;
        answerError(ex, status, auth.message, auth.challenge ? { 'www-authenticate': WWW_AUTHENTICATE } : undefined);
        return;
      }
      call.principal = auth.principal;
      call.body = await ex.body();
      if (o.limits) await o.limits(auth.principal, ex.ip, path.name);
      const answer = await o.infer(call);
      const headers: Record<string, string> = { 'content-type': answer.contentType, 'content-length': String(Buffer.byteLength(answer.body)) };
      if (answer.headerLength !== undefined) headers[INFERENCE_HEADER] = String(answer.headerLength);
      status = 200;
      ex.answer(200, headers, answer.body);
    } catch (err) {
      if (err === LEAN_GONE || ex.gone()) return; // the client left: nobody to answer
      const a = errorAnswer(err, o.logger, o.bodyLimit, { url, method: 'POST' });
      status = a.status;
      answerError(ex, status, a.message, a.headers);
    } finally {
      // Every answer of a known deployment is counted, errors included (as on the Fastify route).
      const t = call.target;
      if (o.metrics && t) o.metrics.request(t.deployment, t.version, status, (o.clock.now() - t0) / 1000);
    }
  };
}

/** The `{"error"}` answer, with the headers Fastify gives sendError's answers. */
function answerError(ex: LeanExchange, status: number, message: string, headers?: Record<string, string>): void {
  const body = errorBody(message);
  ex.answer(status, { ...headers, 'content-type': 'application/json; charset=utf-8', 'content-length': String(Buffer.byteLength(body)) }, body);
}

/** The lean path behind node:http: takes the plain infer requests node has parsed. */
export function leanInfer(o: LeanInferOptions, serve: LeanServe = leanServe(o)): RawHandler {
  return (req, res) => {
    if (req.method !== 'POST' || o.closing()) return false;
    const url = req.url ?? '';
    const path = inferPath(url);
    if (path === undefined) return false;
    const h = req.headers;
    const length = plainBodyLength(h, o.bodyLimit);
    if (length === undefined) return false;
    serve(nodeExchange(req, res, url, path, length)).catch((err: unknown) => {
      // serve answers every error itself; this is only a last guard for the process.
      o.logger.error({ err, url }, 'lean infer path failed');
      if (!res.headersSent) res.destroy();
    });
    return true;
  };
}

function nodeExchange(req: IncomingMessage, res: ServerResponse, url: string, path: InferTarget, length: number): LeanExchange {
  const auth = req.headers.authorization;
  return {
    url, path,
    ip: req.socket.remoteAddress ?? '',
    authorization: auth,
    inferenceHeader: req.headers[INFERENCE_HEADER],
    socket: req.socket,
    body: () => readBody(req, length),
    answer: (status, headers, body) => {
      if (res.headersSent || res.destroyed) return;
      res.writeHead(status, headers);
      res.end(body);
    },
    gone: () => res.destroyed,
  };
}

const EMPTY = Buffer.alloc(0);
export const LEAN_GONE = new Error('the client closed the connection before sending the whole body');

/** The whole body (node:http has already held it to Content-Length). */
function readBody(req: IncomingMessage, length: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let received = 0;
    const onData = (c: Buffer) => { chunks.push(c); received += c.length; };
    const onEnd = () => {
      done();
      if (received !== length) reject(fail('ALOFT_BAD_REQUEST', 'the Content-Length header does not match the body'));
      else resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, received));
    };
    const onGone = () => { done(); reject(LEAN_GONE); };
    const done = () => { req.off('data', onData); req.off('end', onEnd); req.off('error', onGone); req.off('close', onGone); };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onGone);
    req.on('close', onGone);
  });
}
