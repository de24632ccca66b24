/**
 * The serving pipeline of an inference request, the one every front runs: the wire front
 * (fronts/wire.ts, plain requests read off the socket), the node front (fronts/node.ts,
 * requests node:http has parsed) and Fastify's infer routes (oip/infer.ts, URLs that need
 * Fastify's decoding). A front describes the request as an `InferExchange`; the steps,
 * their order and every answer are here, once:
 *
 *   authenticate → resolve the deployment and version → rate-limit → reserve body memory
 *   → read the body (by the deadline) → decode, validate, batch, infer → answer → observe
 *
 * Everything before the body is decided from the request head, so a caller without access,
 * a request for a model that is not served and a rate-limited caller cost no body read,
 * and the body memory a request may hold is reserved before a byte of it is kept
 * (body-budget.ts). The deadline counts from the head's arrival, so a slow upload uses up
 * the request's own time: a body that has not arrived by the deadline gets 504, one that
 * has not arrived within `server.bodyTimeout` gets 408, and either closes the connection.
 *
 * The observation point is the `finally` below: every answer of a known deployment is
 * counted there, errors included.
 */
import type { Clock } from '../clock.js';
import { codeForStatus, fail, type AloftError, type ErrorCode } from '../errors.js';
import type { Logger } from '../log.js';

import { classifyRequest } from '../security/policy.js';
import type { Principal } from '../security/principal.js';
import { WWW_AUTHENTICATE, type AuthCheck } from './auth-hook.js';
import type { BodyBudget, BodyReservation } from './body-budget.js';
import { errorAnswer, errorBody } from './http-errors.js';
import type { Observer } from './observe.js';
import { INFERENCE_HEADER, nextRequestId, runInfer, type InferTimings } from './oip/infer.js';
import { resolveVersion } from './oip/resolve.js';
import { TICKETS } from './route-table.js';
import type { LimitCheckFn } from './ratelimit/hook.js';
import type { RouteTable } from './route-table.js';
import type { ShadowSend } from './shadow.js';

export interface InferTarget {
  name: string;
  version: string | undefined;
}

/** How a front reads a body for the pipeline. */
export interface BodyRead {
  /** Charge bytes the front keeps beyond the declared length (chunked or compressed bodies). */
  reservation: BodyReservation;
  /** The most bytes the body may have (after decompression). */
  limit: number;
  /** clock.now() by which the whole body must be in hand. */
  until: number;
  /** The error to reject with at `until`. */
  late: () => AloftError;
}

/** One inference request as a front sees it. */
export interface InferExchange {
  readonly url: string;
  readonly target: InferTarget;
  readonly ip: string;
  readonly authorization: string | string[] | undefined;
  readonly inferenceHeader: string | string[] | undefined;
  /** Any other request header by its lower-case name (first copy), read only when routing needs it (a sticky header). */
  header(name: string): string | undefined;
  /** The connection (the authentication memo is kept per connection). */
  readonly socket: object;
  /** clock.now() when the request head had arrived: the deadline counts from here. */
  readonly arrivedAt: number;
  /** The body's length when the front knows it before reading (an identity Content-Length). */
  readonly declaredLength: number | undefined;
  /**
   * The whole body. Rejects with `CLIENT_GONE` when the client leaves first, with
   * `read.late()` at `read.until`, with 413 past `read.limit`, with 503 when a charge is
   * refused. Called at most once; a front whose body was not read (or not wholly read)
   * drops the rest after the answer, or closes the connection.
   */
  body(read: BodyRead): Promise<Buffer>;
  /** Writes the answer; does nothing once the client is gone. */
  answer(status: number, headers: Record<string, string>, body: string | Buffer): void;
  /** True once the client is gone. */
  gone(): boolean;
}

/** A body read that ended because the client left: nobody to answer. */
export const CLIENT_GONE = new Error('the client closed the connection before sending the whole body');

export interface PipelineOptions {
  routes: RouteTable;
  auth: AuthCheck;
  limits?: LimitCheckFn | undefined;
  /** Told of every answer of a known deployment, after the version's statistics (observe.ts). */
  observers: readonly Observer[];
  budget: BodyBudget;
  clock: Clock;
  logger: Logger;
  /** Largest body, after decompression (server.bodyLimit). */
  bodyLimit: number;
  /** Time allowed for a body to arrive once the head has (server.bodyTimeout). */
  bodyTimeoutMs: number;
  /** Sends shadow copies (shadow.ts); without it shadow routes copy nothing. */
  shadow?: ShadowSend | undefined;
  /** A request reached a deployment scaled to zero: start a replica (the request waits in its batcher). */
  activate?: ((deployment: string) => void) | undefined;
}

/** Serves one inference request, answering every error itself. */
export type Serve = (ex: InferExchange) => Promise<void>;

const EMPTY = Buffer.alloc(0);
/** A client's X-Request-Id that is kept: printable ASCII, up to 128 characters. */
const REQUEST_ID = /^[\x21-\x7e]{1,128}$/;

/** A request's ticket in [0, TICKETS) for weighted splits: xorshift32, no allocation. */
let ticketState = (Math.random() * 0x100000000) >>> 0 || 1;
function nextTicket(): number {
  ticketState ^= ticketState << 13;
  ticketState ^= ticketState >>> 17;
  ticketState ^= ticketState << 5;
  return (ticketState >>> 0) % TICKETS;
}

export function inferPipeline(o: PipelineOptions): Serve {
  return async (ex) => {
    const { url, target } = ex;
    let resolved: ReturnType<typeof resolveVersion> | undefined;
    let principal: Principal | undefined;
    const timings: InferTimings = {};
    let status = 0;
    let reservation: BodyReservation | undefined;
    try {
      const segments = target.version === undefined ? ['v2', 'models', target.name, 'infer'] : ['v2', 'models', target.name, 'versions', target.version, 'infer'];
      const auth = await o.auth({ method: 'POST', url, ip: ex.ip, authorization: ex.authorization, socket: ex.socket }, classifyRequest('POST', segments));
      if (!auth.ok) {
        status = auth.status;
        answerError(ex, status, auth.message, codeForStatus(status), { 'x-request-id': givenRequestId(ex) ?? nextRequestId(), ...(auth.challenge ? { 'www-authenticate': WWW_AUTHENTICATE } : {}) });
        return;
      }
      principal = auth.principal;
      const caller = principal === undefined ? {} : { principal };
      // One ticket per request, for a traffic split (both picks below land on the same version) or a shadow's sample.
      const ticket = nextTicket();
      resolved = resolveVersion(o.routes, target.name, target.version, caller, ticket, ex.header);
      // Scaled to zero: a replica starts while the body arrives and the request waits in the queue.
      if (resolved.served.desiredReplicas === 0) {
        if (resolved.served.scalesFromZero === true) o.activate?.(resolved.dep.name);
        // Declared with no replicas (replicas: 0), none left running: nothing will start, so waiting for the deadline helps no one.
        else if (resolved.served.replicas.readyCount() === 0) throw fail('ALOFT_NOT_READY', `deployment '${resolved.dep.name}' has replicas: 0, so it serves nothing; apply a spec that gives it replicas (or a range, replicas: {min: 0, max: N}, to start one on demand)`);
      }
      const deadline = ex.arrivedAt + resolved.dep.timeoutMs;
      // Admission control before the body is read: over the limit, or sure to miss its deadline, it is refused now.
      // Header values are compared as HTTP tokens are: case and surrounding spaces aside.
      const priorityHeader = ex.header('x-aloft-priority');
      const priority = priorityHeader?.trim().toLowerCase();
      if (priority !== undefined && priority !== 'low' && priority !== 'normal') throw fail('ALOFT_BAD_REQUEST', `x-aloft-priority must be 'low' or 'normal', got '${priorityHeader!.slice(0, 40)}'`);
      const admission = resolved.served.batcher.admission;
      if (admission) {
        const b = resolved.served.batcher;
        // A low-priority key stays low whatever its header says; a header can only lower a request.
        const refusal = admission.check(b.busy, b.queued, deadline - o.clock.now(), priority === 'low' || principal?.priority === 'low');
        if (refusal) throw fail('ALOFT_OVERLOADED', refusal.message);
      }
      if (o.limits) await o.limits(auth.principal, ex.ip, resolved.dep.name);
      if (ex.declaredLength !== undefined && ex.declaredLength > o.bodyLimit) throw tooLarge(o.bodyLimit);
      reservation = o.budget.open();
      if (!reservation.charge(ex.declaredLength ?? 0)) throw o.budget.refusal();
      const bodyDue = ex.arrivedAt + o.bodyTimeoutMs;
      const { timeoutMs } = resolved.dep;
      const body = ex.declaredLength === 0 ? EMPTY : await ex.body({
        reservation, limit: o.bodyLimit,
        until: Math.min(deadline, bodyDue),
        late: () => (deadline <= bodyDue
          ? fail('ALOFT_TIMEOUT', `the request body had not arrived by the request's deadline (${timeoutMs} ms from its arrival); send it faster or raise the deployment's timeout`)
          : fail('ALOFT_BODY_TIMEOUT', `the request body did not arrive within ${o.bodyTimeoutMs} ms (server.bodyTimeout); send it faster or raise server.bodyTimeout`)),
      });
      // The version is picked again now, as the request joins a batcher: a route switched
      // while the body was arriving takes it to the new version, at one instant for all.
      resolved = resolveVersion(o.routes, target.name, target.version, caller, ticket, ex.header);
      const given = givenRequestId(ex);
      if (given !== undefined) timings.requestId = given;
      const answer = await runInfer(resolved, body, ex.inferenceHeader, deadline, o.clock, timings);
      const headers: Record<string, string> = { 'content-type': answer.contentType, 'content-length': String(Buffer.byteLength(answer.body)) };
      // A body `id` may be any string; only one that is safe in a header goes into X-Request-Id.
      if (REQUEST_ID.test(timings.requestId!)) headers['x-request-id'] = timings.requestId!;
      if (answer.headerLength !== undefined) headers[INFERENCE_HEADER] = String(answer.headerLength);
      status = 200;
      ex.answer(200, headers, answer.body);
      // A shadow rollout: a sampled copy goes to the candidate once the caller has its answer (shadow.ts).
      const sh = resolved.dep.shadow;
      if (sh !== undefined && o.shadow !== undefined && target.version === undefined && ticket < sh.below && timings.inputs && timings.outputs) {
        o.shadow(resolved.dep, sh, timings.inputs, timings.outputs);
      }
    } catch (err) {
      if (err === CLIENT_GONE || ex.gone()) return; // the client left: nobody to answer
      const a = errorAnswer(err, o.logger, o.bodyLimit, { url, method: 'POST' });
      status = a.status;
      // An error answer carries a request id too: the one the request had, or a new one (for the caller's and the logs' sake).
      timings.requestId ??= givenRequestId(ex) ?? nextRequestId();
      answerError(ex, status, a.message, a.code, REQUEST_ID.test(timings.requestId) ? { ...a.headers, 'x-request-id': timings.requestId } : a.headers);
    } finally {
      reservation?.release();
      // The observation point: every answer of a known deployment, errors included.
      if (resolved && status !== 0) {
        const served = resolved.served;
        const obs = {
          deployment: resolved.dep.name, version: served.version, model: served.model, status, totalMs: o.clock.now() - ex.arrivedAt, at: o.clock.date().getTime(),
          ...timings, ...(principal ? { principal } : {}),
        };
        served.stats.observe(obs);
        for (const observe of o.observers) observe(obs);
      }
    }
  };
}

/** The request's X-Request-Id when it is one Aloft keeps (1–128 visible ASCII characters). */
function givenRequestId(ex: InferExchange): string | undefined {
  const given = ex.header('x-request-id');
  return given !== undefined && REQUEST_ID.test(given) ? given : undefined;
}

/** The 413 answer of a body over the limit, however the front found out. */
export function tooLarge(bodyLimit: number): AloftError {
  return fail('ALOFT_PAYLOAD_TOO_LARGE', `request body is over the ${bodyLimit}-byte body limit (after decompression); send smaller batches or raise server.bodyLimit`);
}

/** The `{"error"}` answer, with the headers Fastify gives sendError's answers. */
function answerError(ex: InferExchange, status: number, message: string, code: ErrorCode, headers?: Record<string, string>): void {
  const body = errorBody(message, code);
  ex.answer(status, { ...headers, 'content-type': 'application/json; charset=utf-8', 'content-length': String(Buffer.byteLength(body)) }, body);
}

const PREFIX = '/v2/models/';
const NAME = /^[A-Za-z0-9._-]{1,256}$/;

/** `{name, version}` of `/v2/models/{name}[/versions/{version}]/infer` with plain names, or undefined. */
export function inferPath(url: string): InferTarget | undefined {
  if (!url.startsWith(PREFIX) || !url.endsWith('/infer')) return undefined;
  const parts = url.slice(PREFIX.length, -'/infer'.length).split('/');
  if (parts.length === 1 && NAME.test(parts[0]!)) return { name: parts[0]!, version: undefined };
  if (parts.length === 3 && parts[1] === 'versions' && NAME.test(parts[0]!) && NAME.test(parts[2]!)) return { name: parts[0]!, version: parts[2]! };
  return undefined;
}
