/**
 * The gateway's HTTP server: Open Inference Protocol v2 REST over Fastify. Bodies are
 * read as raw bytes whatever their Content-Type (clients such as tritonclient send
 * none), gzip/deflate request bodies are inflated under the same body limit (so a
 * decompression bomb gets 413, not an out-of-memory), and every error leaves as
 * `{"error": "..."}` with the protocol's status.
 */
import { createServer as createHttp, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { createServer as createHttps } from 'node:https';
import { Transform } from 'node:stream';
import { createGunzip, createInflate } from 'node:zlib';
import Fastify, { type FastifyInstance } from 'fastify';
import { allowedMethods, routeOf, type Method } from '../api/routes.js';
import { systemClock, type Clock } from '../clock.js';
import { fail } from '../errors.js';
import { silentLogger, type Logger } from '../log.js';
import { makeErrorHandler, sendError } from './http-errors.js';
import type { GatewayMetrics } from '../monitor/metrics.js';
import { isPipelineRoute, registerAuth, type AuthHookOptions } from './auth-hook.js';
import { BodyBudget } from './body-budget.js';
import { inferRoutes, nodeFront, type RawHandler } from './fronts/node.js';
import { WireFront, type WireStats } from './fronts/wire.js';
import { healthRoutes } from './oip/health.js';
import { metadataRoutes, type ServerInfo } from './oip/metadata.js';
import { repositoryRoutes } from './oip/repository.js';
import { statisticsRoutes } from './oip/statistics.js';
import type { Observer } from './observe.js';
import { inferPipeline } from './pipeline.js';
import { shadowSender } from './shadow.js';
import type { ShadowCounts } from '../monitor/shadow.js';
import { makeLimitCheck, type RateLimitHookOptions } from './ratelimit/hook.js';
import type { EndpointInfo } from './replica-set.js';
import { Routing, type RouteConfig, type RoutingOptions } from './routing.js';

export interface GatewayOptions {
  /** The transport to one replica of a routed version (HTTP or a thread's messages). */
  connect: RoutingOptions['connect'];
  /** Routes to serve from the start; `gateway.routing.apply` changes them. */
  routes?: RouteConfig;
  /** Ready replicas of groups from the start, by group; `gateway.routing.setEndpoints` changes them. */
  endpoints?: Readonly<Record<string, readonly EndpointInfo[]>>;
  /** Largest request body in bytes, after decompression. */
  bodyLimit: number;
  /** Time allowed for a request's body once its head has arrived (server.bodyTimeout). Default 60 s. */
  bodyTimeoutMs?: number;
  /** Request-body memory held at once across connections (server.bodyMemory); shared with other servers through `budget`. */
  budget?: BodyBudget;
  /** Authentication and authorization of every route (registered as the app's hook, and run by the infer pipeline). */
  auth: AuthHookOptions;
  /** Rate limits of inference requests. */
  limits?: RateLimitHookOptions;
  info: ServerInfo;
  logger?: Logger;
  clock?: Clock;
  /** Time allowed to receive a request's headers (slow-client protection). Default 10 s. */
  headersTimeoutMs?: number;
  /** Idle keep-alive connections are closed after this long. Default 72 s. */
  keepAliveTimeoutMs?: number;
  /** Serve HTTPS with this certificate and key. */
  https?: { cert: Buffer; key: Buffer };
  /** Prometheus metrics, served at GET /metrics (and told of every answer). */
  metrics?: GatewayMetrics;
  /** More observers of every answer (observe.ts). */
  observers?: readonly Observer[];
  /** Shadow rollouts: where copies are counted and who is told of the candidate's answers. */
  shadow?: { counts: ShadowCounts; observe: Observer };
  /** A request reached a deployment scaled to zero (the autoscaler starts a replica). */
  activate?: (deployment: string) => void;
  /**
   * Read plain infer requests straight off the socket (fronts/wire.ts); every other
   * connection goes to node:http. Default true; never over TLS.
   */
  wire?: boolean;
  /**
   * Serve infer requests node:http has parsed without Fastify (fronts/node.ts). Default
   * true; false leaves them to Fastify's infer routes (the same pipeline), for tests and
   * measurements.
   */
  nodeFront?: boolean;
}

export interface Gateway {
  app: FastifyInstance;
  /** What is routed (routes as data, applied at one instant) and the batchers and replicas behind it. */
  routing: Routing;
  /** Stop answering readiness; new requests keep being served until close. */
  drain(): void;
  /** What the wire front has taken (undefined without it). */
  wireStats(): WireStats | undefined;
  /** The request-body memory budget every front and route charges. */
  budget: BodyBudget;
}

/** Default of server.bodyMemory: 128 MiB, or one whole body if bodyLimit is larger. */
export function defaultBodyMemory(bodyLimit: number): number {
  return Math.max(128 * 1024 * 1024, bodyLimit);
}

export const OIP_EXTENSIONS = ['binary_tensor_data', 'model_repository', 'statistics'];


/**
 * Node closes a connection whose headers are not complete within headersTimeout, checking
 * every connectionsCheckingInterval (30 s by default, too coarse to protect anything).
 */
function slowClientLimits(headersTimeoutMs = 10_000) {
  return { headersTimeout: headersTimeoutMs, connectionsCheckingInterval: Math.max(100, Math.min(1000, headersTimeoutMs / 2)) };
}

/**
 * Node's headersTimeout starts with a request's first byte, so a connection that never
 * sends anything would stay open for good, and enough of them exhaust file descriptors.
 * Close connections that are still silent after the headers timeout. (With TLS the clock
 * starts after the handshake, which Node bounds separately.)
 */
function closeSilentConnections(app: FastifyInstance, timeoutMs: number, tls: boolean): void {
  const watch = (socket: { bytesRead: number; destroy(): void; once(e: 'close', f: () => void): unknown }) => {
    const before = socket.bytesRead;
    const timer = setTimeout(() => {
      if (socket.bytesRead === before) socket.destroy();
    }, timeoutMs);
    timer.unref();
    socket.once('close', () => clearTimeout(timer));
  };
  app.server.on(tls ? 'secureConnection' : 'connection', watch);
}

/** What every Aloft HTTP server shares (the gateway, and the admin API on its own port). */
export type HttpServerOptions = Pick<GatewayOptions, 'bodyLimit' | 'bodyTimeoutMs' | 'logger' | 'headersTimeoutMs' | 'keepAliveTimeoutMs' | 'https'> & {
  /** Charge request bodies to this budget (503 with Retry-After past it). */
  budget?: BodyBudget;
  /**
   * Consulted for every request before Fastify: a handler that takes it answers it. With
   * `wire` set, new plain-HTTP connections go to the wire front first, which hands the
   * rest to node:http through `handoff` (set here).
   */
  front?: Front;
};

export interface Front {
  handler: RawHandler | undefined;
  wire?: WireFront;
  handoff?: (socket: Socket) => void;
}

/**
 * Puts `front.wire` before node:http's own connection listener, keeping that listener as
 * the hand-off. Leaves the server as it is if node's listener is not the one expected.
 */
function interceptConnections(server: Server, front: Front): void {
  const listeners = server.listeners('connection');
  const node = listeners[0] as ((socket: Socket) => void) | undefined;
  if (listeners.length !== 1 || node?.name !== 'connectionListener') return;
  server.removeListener('connection', node);
  const handoff = (socket: Socket) => node.call(server, socket);
  front.handoff = handoff;
  server.on('connection', (socket: Socket) => {
    if (front.wire) front.wire.accept(socket);
    else handoff(socket);
  });
}

/**
 * A Fastify server with Aloft's transport rules: raw-byte bodies whatever the
 * Content-Type, gzip/deflate inflated under the body limit, slow and silent clients
 * dropped, every error as `{"error"}`, 405 for known paths with the wrong method.
 */
export function createHttpServer(opts: HttpServerOptions): FastifyInstance {
  const logger = opts.logger ?? silentLogger;
  const app = Fastify({
    bodyLimit: opts.bodyLimit,
    logger: false,
    return503OnClosing: true,
    forceCloseConnections: 'idle',
    keepAliveTimeout: opts.keepAliveTimeoutMs ?? 72_000,
    requestTimeout: 0,
    connectionTimeout: 0,
    // Our own server, so a request can be answered before Fastify sees it (opts.front).
    serverFactory: (handler: (req: IncomingMessage, res: ServerResponse) => void, fopts: { keepAliveTimeout?: number; requestTimeout?: number; connectionTimeout?: number }) => {
      const front = opts.front;
      const dispatch = front === undefined ? handler : (req: IncomingMessage, res: ServerResponse) => {
        if (front.handler === undefined || !front.handler(req, res)) handler(req, res);
      };
      const limits = slowClientLimits(opts.headersTimeoutMs);
      const server = opts.https ? createHttps({ ...opts.https, ...limits }, dispatch) : createHttp(limits, dispatch);
      if (front && !opts.https) interceptConnections(server, front);
      server.keepAliveTimeout = fopts.keepAliveTimeout ?? 72_000;
      // A whole request read by node:http (headers, then body) within both timeouts; node
      // answers 408 and closes past it. The infer pipeline bounds its bodies itself.
      server.requestTimeout = limits.headersTimeout + (opts.bodyTimeoutMs ?? DEFAULT_BODY_TIMEOUT_MS);
      server.setTimeout(fopts.connectionTimeout ?? 0);
      return server;
    },
    routerOptions: { ignoreDuplicateSlashes: false, maxParamLength: 256 },
    // Errors Fastify raises before routing (bad percent-encoding, over-long names) leave in
    // the same {"error"} shape as everything else.
    frameworkErrors: (err, _req, reply) => {
      if (err.code === 'FST_ERR_MAX_PARAM_LENGTH') return sendError(reply, 414, 'a path segment is longer than 256 characters; model names are at most 63');
      return sendError(reply, 400, 'the URL is malformed (invalid percent-encoding?)');
    },
  });

  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));

  app.addHook('preParsing', async (req, _reply, payload) => {
    if (isPipelineRoute(req.routeOptions.config)) return payload; // the pipeline reads its own bodies
    const enc = req.headers['content-encoding'];
    if (enc === undefined || enc === 'identity') return payload;
    if (enc === 'gzip' || enc === 'x-gzip' || enc === 'deflate') {
      // Fastify checks Content-Length against `receivedEncodedLength` (the bytes on the
      // wire) and the body limit against what the returned stream yields (the inflated
      // bytes), so a decompression bomb stops at the limit with 413.
      const inflated = (enc === 'deflate' ? createInflate() : createGunzip()) as ReturnType<typeof createGunzip> & { receivedEncodedLength?: number };
      let received = 0;
      payload.on('data', (chunk: Buffer) => {
        received += chunk.length;
        inflated.receivedEncodedLength = received;
      });
      return payload.pipe(inflated);
    }
    throw fail('ALOFT_UNSUPPORTED_ENCODING', `Content-Encoding '${String(enc).slice(0, 40)}' is not supported; use gzip, deflate or none`);
  });

  if (opts.budget) chargeBodies(app, opts.budget);

  app.setErrorHandler(makeErrorHandler(logger, opts.bodyLimit));
  app.setNotFoundHandler((req, reply) => {
    const path = req.url.split('?')[0] ?? '';
    // A path the route contract declares, with a method it does not: 405 with Allow.
    const allowed = allowedMethods(path);
    if (allowed && !allowed.includes(req.method as Method)) {
      reply.header('allow', allowed.join(', '));
      return sendError(reply, 405, `method ${req.method} is not allowed on ${path}; use ${allowed.join(' or ')}`);
    }
    return sendError(reply, 404, `no route for ${req.method} ${path.slice(0, 200)}; see GET /v2 for the protocol, GET /v2/models for served models and /api/v1 for the admin API`);
  });

  closeSilentConnections(app, opts.headersTimeoutMs ?? 10_000, opts.https !== undefined);
  return app;
}

/**
 * Charges the bodies Fastify reads (admin uploads, repository index) to the budget: a
 * declared identity Content-Length at once, other bodies as their (inflated) bytes
 * arrive; released when the answer is done or the connection closes.
 */
function chargeBodies(app: FastifyInstance, budget: BodyBudget): void {
  app.addHook('preParsing', async (req, reply, payload) => {
    if (isPipelineRoute(req.routeOptions.config)) return payload;
    const reservation = budget.open();
    reply.raw.once('close', () => reservation.release());
    const cl = req.headers['content-length'];
    const enc = req.headers['content-encoding'];
    if ((enc === undefined || enc === 'identity') && cl !== undefined && /^[0-9]{1,15}$/.test(cl)) {
      if (!reservation.charge(Number(cl))) throw budget.refusal();
      return payload;
    }
    const counted = new Transform({
      transform(chunk: Buffer, _e, done) {
        if (!reservation.charge(chunk.length)) done(budget.refusal());
        else done(null, chunk);
      },
    }) as Transform & { receivedEncodedLength?: number };
    // Fastify checks Content-Length against the bytes on the wire, which the inflater counts.
    payload.on('data', () => { counted.receivedEncodedLength = (payload as { receivedEncodedLength?: number }).receivedEncodedLength; });
    return payload.pipe(counted);
  });
}

const DEFAULT_BODY_TIMEOUT_MS = 60_000;

/**
 * The gateway: the protocol's routes on Fastify, authentication on every route, and the
 * inference pipeline behind its three fronts (the wire front, the node front and Fastify's
 * infer routes).
 */
export function createGateway(opts: GatewayOptions): Gateway {
  const clock = opts.clock ?? systemClock;
  const logger = opts.logger ?? silentLogger;
  let draining = false;
  let closing = false;
  const front: Front = { handler: undefined };
  const budget = opts.budget ?? new BodyBudget(defaultBodyMemory(opts.bodyLimit));
  const app = createHttpServer({ ...opts, front, budget });
  app.addHook('preClose', (done) => {
    closing = true;
    front.wire?.shutdown();
    done();
  });
  const routing = new Routing({ clock, connect: opts.connect, metrics: opts.metrics });
  if (opts.routes) routing.apply(opts.routes);
  for (const [group, endpoints] of Object.entries(opts.endpoints ?? {})) routing.setEndpoints(group, endpoints);
  const routes = routing.table;
  const auth = registerAuth(app, opts.auth);
  const serve = inferPipeline({
    routes, auth, limits: opts.limits ? makeLimitCheck(opts.limits) : undefined, budget, clock, logger,
    observers: [...(opts.metrics ? [opts.metrics.observer()] : []), ...(opts.observers ?? [])],
    bodyLimit: opts.bodyLimit, bodyTimeoutMs: opts.bodyTimeoutMs ?? DEFAULT_BODY_TIMEOUT_MS,
    shadow: opts.shadow ? shadowSender({ ...opts.shadow, clock }) : undefined,
    activate: opts.activate,
  });
  healthRoutes(app, routes, () => draining);
  metadataRoutes(app, routes, opts.info);
  inferRoutes(app, { serve, clock, logger });
  if (opts.metrics) {
    const metrics = opts.metrics;
    app.route({ ...routeOf('metrics'), handler: async (_req, reply) => reply.header('content-type', metrics.contentType).send(await metrics.render()) });
  }
  repositoryRoutes(app, routes);
  statisticsRoutes(app, routes);
  if (opts.nodeFront !== false) front.handler = nodeFront({ serve, clock, logger, closing: () => closing });
  if (opts.wire !== false && front.handoff) {
    front.wire = new WireFront({
      serve, bodyLimit: opts.bodyLimit, bodyTimeoutMs: opts.bodyTimeoutMs ?? DEFAULT_BODY_TIMEOUT_MS,
      keepAliveTimeoutMs: app.server.keepAliveTimeout, closing: () => closing, handoff: front.handoff, clock, logger,
    });
  }

  return {
    app,
    routing,
    budget,
    drain: () => { draining = true; },
    wireStats: () => front.wire?.stats,
  };
}
