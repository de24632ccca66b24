/**
 * The lean infer path: plain inference requests served straight from node:http, without
 * Fastify's per-request machinery (request and reply objects, content-type parsing, the
 * hook chain, reply serialization). It runs the very same steps as the Fastify route, in
 * the same order, through the same functions: authentication (auth-hook.ts), then the
 * body, then rate limits (ratelimit/hook.ts), then infer (oip/infer.ts), errors through
 * errorAnswer (http-errors.ts), metrics on the way out.
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
import { errorAnswer, writeError } from './http-errors.js';
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

const PREFIX = '/v2/models/';
const NAME = /^[A-Za-z0-9._-]{1,256}$/;
const CONTENT_TYPE = /^application\/(json|octet-stream)(\s*;\s*charset=utf-8)?$/i;
const LENGTH = /^[0-9]{1,12}$/;

/** `{name, version}` of `/v2/models/{name}[/versions/{version}]/infer`, or undefined. */
export function inferPath(url: string): { name: string; version: string | undefined } | undefined {
  if (!url.startsWith(PREFIX) || !url.endsWith('/infer')) return undefined;
  const parts = url.slice(PREFIX.length, -'/infer'.length).split('/');
  if (parts.length === 1 && NAME.test(parts[0]!)) return { name: parts[0]!, version: undefined };
  if (parts.length === 3 && parts[1] === 'versions' && NAME.test(parts[0]!) && NAME.test(parts[2]!)) return { name: parts[0]!, version: parts[2]! };
  return undefined;
}

export function leanInfer(o: LeanInferOptions): RawHandler {
  return (req, res) => {
    if (req.method !== 'POST' || o.closing()) return false;
    const path = inferPath(req.url ?? '');
    if (path === undefined) return false;
    const h = req.headers;
    if (h['transfer-encoding'] !== undefined || h.expect !== undefined) return false;
    if (h['content-encoding'] !== undefined && h['content-encoding'] !== 'identity') return false;
    const type = h['content-type'];
    if (type !== undefined && !CONTENT_TYPE.test(type)) return false;
    const cl = h['content-length'];
    if (cl === undefined || !LENGTH.test(cl)) return false;
    const length = Number(cl);
    if (length > o.bodyLimit) return false;
    serve(o, req, res, path, length).catch((err: unknown) => {
      // serve answers every error itself; this is only a last guard for the process.
      o.logger.error({ err, url: req.url }, 'lean infer path failed');
      if (!res.headersSent) res.destroy();
    });
    return true;
  };
}

async function serve(o: LeanInferOptions, req: IncomingMessage, res: ServerResponse, path: { name: string; version: string | undefined }, length: number): Promise<void> {
  const t0 = o.clock.now();
  const url = req.url ?? '';
  const call: InferCall = { name: path.name, version: path.version, body: EMPTY, inferenceHeader: req.headers[INFERENCE_HEADER], principal: undefined };
  let status = 0;
  try {
    const ip = req.socket.remoteAddress ?? '';
    const segments = path.version === undefined ? ['v2', 'models', path.name, 'infer'] : ['v2', 'models', path.name, 'versions', path.version, 'infer'];
    const auth = await o.auth({ method: 'POST', url, ip, authorization: req.headers.authorization, socket: req.socket }, classifyRequest('POST', segments));
    if (!auth.ok) {
      status = auth.status;
      writeError(res, status, auth.message, auth.challenge ? { 'www-authenticate': WWW_AUTHENTICATE } : undefined);
      return;
    }
    call.principal = auth.principal;
    call.body = await readBody(req, length);
    if (o.limits) await o.limits(auth.principal, ip, path.name);
    const answer = await o.infer(call);
    const headers: Record<string, string> = { 'content-type': answer.contentType, 'content-length': String(Buffer.byteLength(answer.body)) };
    if (answer.headerLength !== undefined) headers[INFERENCE_HEADER] = String(answer.headerLength);
    status = 200;
    res.writeHead(200, headers);
    res.end(answer.body);
  } catch (err) {
    if (err === GONE || res.destroyed) return; // the client left: nobody to answer
    const a = errorAnswer(err, o.logger, o.bodyLimit, { url, method: 'POST' });
    status = a.status;
    writeError(res, status, a.message, a.headers);
  } finally {
    // Every answer of a known deployment is counted, errors included (as on the Fastify route).
    const t = call.target;
    if (o.metrics && t) o.metrics.request(t.deployment, t.version, status, (o.clock.now() - t0) / 1000);
  }
}

const EMPTY = Buffer.alloc(0);
const GONE = new Error('the client closed the connection before sending the whole body');

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
    const onGone = () => { done(); reject(GONE); };
    const done = () => { req.off('data', onData); req.off('end', onEnd); req.off('error', onGone); req.off('close', onGone); };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onGone);
    req.on('close', onGone);
  });
}
