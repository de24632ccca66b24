/**
 * The replica server: one model version in ONNX Runtime behind the Open Inference
 * Protocol's REST routes, on plain `node:http` with keep-alive. The gateway sends it whole
 * batches as binary requests; it also answers JSON requests, so it can be called directly.
 * The same server runs as a child process (embedded Aloft) and in a Kubernetes pod.
 *
 * Lifecycle: verify the file's sha256, load, warm up, then listen; `close()` stops
 * accepting, finishes in-flight requests and releases the session.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fail, isAloftError, type AloftError } from '../errors.js';
import {
  checkRequestedOutputs, decodeInferRequest, encodeInferResponse, validateInputs,
} from './codec/index.js';
import { PLATFORM, sessionOptionsOf, type ReplicaOptions as ReplicaDescription } from './replica-spec.js';
import { ModelSession , type StartupTimings } from './session.js';
import { serveFrames, type FrameServer } from './socket-server.js';
import type { ModelSignature, Tensor } from './tensor.js';

/** The replica's description (replica-spec.ts) and what only a server in this process takes. */
export interface ReplicaOptions extends ReplicaDescription {
  /** Largest request body accepted. Default 1 GiB (the gateway enforces the client-facing limit). */
  maxBodyBytes?: number;
  /** On close, connections still busy after this long are cut. Default 30 s. */
  drainTimeoutMs?: number;
  /** Where unexpected errors are reported. Default: one JSON line on stderr. */
  onError?: (err: unknown) => void;
}

export interface RunningReplica {
  port: number;
  host: string;
  /** The Unix socket it serves the wire protocol on, when asked to. */
  socket?: string;
  signature: ModelSignature;
  /** Where its start went. */
  startup: StartupTimings;
  /** Stop accepting, finish in-flight requests, release the model. Idempotent. */
  close(): Promise<void>;
}

const MODEL_PATH = /^\/v2\/models\/([^/]+)(?:\/versions\/([^/]+))?(?:\/(ready|infer))?$/;

function defaultOnError(err: unknown): void {
  const e = err instanceof Error ? { message: err.message, stack: err.stack } : { message: String(err) };
  console.error(JSON.stringify({ event: 'replica-error', ...e }));
}

function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = req.headers['content-length'];
    if (declared !== undefined && Number(declared) > limit) {
      reject(fail('ALOFT_PAYLOAD_TOO_LARGE', `the request body is ${declared} bytes; this replica accepts at most ${limit}`));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on('data', (c: Buffer) => {
      if (over) return;
      size += c.length;
      if (size > limit) {
        over = true;
        reject(fail('ALOFT_PAYLOAD_TOO_LARGE', `the request body is over ${limit} bytes, the most this replica accepts`));
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => {
      if (!over) resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
    });
    req.on('error', reject);
  });
}

function parseHeaderLength(v: string | string[] | undefined): number | undefined {
  if (v === undefined) return undefined;
  const s = Array.isArray(v) ? v[0] ?? '' : v;
  if (!/^\s*[0-9]{1,15}\s*$/.test(s)) {
    throw fail('ALOFT_BAD_REQUEST', `Inference-Header-Content-Length is ${JSON.stringify(s)}; it must be the byte length of the JSON part of the body`);
  }
  return Number(s);
}

/**
 * Load the model and serve it. Resolves once the model is loaded, warmed up and the port
 * is listening.
 *
 * @example
 *   const r = await startReplica({ modelPath: 'm.onnx', modelName: 'credit', modelVersion: '1' });
 *   // POST http://127.0.0.1:${r.port}/v2/models/credit/infer
 *   await r.close();
 */
export async function startReplica(opts: ReplicaOptions): Promise<RunningReplica> {
  const startup: StartupTimings = {};
  const session = await ModelSession.open(opts.modelPath, sessionOptionsOf(opts), startup);
  try {
    const t = performance.now();
    await session.warmUp();
    startup.warmUpMs = performance.now() - t;
  } catch (e) {
    await session.close();
    throw e;
  }
  const sig = session.signature;
  const limit = opts.maxBodyBytes ?? 1024 ** 3;
  const onError = opts.onError ?? defaultOnError;
  const metadata = JSON.stringify({
    name: opts.modelName,
    versions: [opts.modelVersion],
    platform: PLATFORM,
    inputs: sig.inputs.map((t) => ({ name: t.name, datatype: t.datatype, shape: t.shape })),
    outputs: sig.outputs.map((t) => ({ name: t.name, datatype: t.datatype, shape: t.shape })),
  });
  const serverMetadata = JSON.stringify({ name: 'aloft-replica', version: '1', extensions: ['binary_tensor_data'] });

  let draining = false;

  /** Send one response; while draining, ask the client to close the connection after it. */
  function send(res: ServerResponse, status: number, body: Buffer | string, contentType = 'application/json', headerLength?: number): void {
    const buf = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
    const headers: Record<string, string | number> = { 'content-type': contentType, 'content-length': buf.length };
    if (headerLength !== undefined) headers['inference-header-content-length'] = headerLength;
    if (draining) headers.connection = 'close';
    res.writeHead(status, headers);
    res.end(buf);
  }

  function sendError(res: ServerResponse, e: AloftError): void {
    send(res, e.status, JSON.stringify({ error: e.message, code: e.code }));
  }
  // One inference at a time, in arrival order: ONNX Runtime already uses the replica's
  // threads for one run, and a FIFO keeps latency predictable.
  let tail: Promise<unknown> = Promise.resolve();
  const serial = <T>(fn: () => Promise<T>): Promise<T> => {
    const p = tail.then(fn);
    tail = p.catch(() => undefined);
    return p;
  };

  async function infer(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const enc = req.headers['content-encoding'];
    if (enc !== undefined && enc !== 'identity') {
      throw fail('ALOFT_UNSUPPORTED_ENCODING', `Content-Encoding ${JSON.stringify(enc)} is not accepted by the replica; send identity`);
    }
    const headerLength = parseHeaderLength(req.headers['inference-header-content-length']);
    const body = await readBody(req, limit);
    const request = decodeInferRequest(body, headerLength, { signature: sig });
    const outputNames = checkRequestedOutputs(request.outputs, sig);
    const inputs = validateInputs(request.inputs, sig);
    const outputs: Tensor[] = await serial(() => session.run(inputs, outputNames));
    const encoded = encodeInferResponse(
      { modelName: opts.modelName, modelVersion: opts.modelVersion, ...(request.id !== undefined ? { id: request.id } : {}), outputs },
      {
        ...(request.outputs !== undefined ? { outputs: request.outputs } : {}),
        ...(request.binaryOutput !== undefined ? { binaryOutput: request.binaryOutput } : {}),
      },
    );
    send(res, 200, encoded.body, encoded.contentType, encoded.headerLength);
  }

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    const method = req.method ?? 'GET';
    const only = (m: string): void => {
      if (method !== m && !(m === 'GET' && method === 'HEAD')) {
        throw fail('ALOFT_METHOD_NOT_ALLOWED', `${method} is not allowed on ${path}; use ${m}`);
      }
    };
    if (path === '/v2/health/live') {
      only('GET');
      return send(res, 200, '{"live":true}');
    }
    if (path === '/v2/health/ready') {
      only('GET');
      if (draining) throw fail('ALOFT_NOT_READY', 'the replica is shutting down');
      return send(res, 200, '{"ready":true}');
    }
    if (path === '/v2') {
      only('GET');
      return send(res, 200, serverMetadata);
    }
    const m = MODEL_PATH.exec(path);
    if (m === null) throw fail('ALOFT_NOT_FOUND', `no route ${path}`);
    let name: string;
    let version: string | undefined;
    try {
      name = decodeURIComponent(m[1]!);
      version = m[2] === undefined ? undefined : decodeURIComponent(m[2]);
    } catch {
      throw fail('ALOFT_NOT_FOUND', `no route ${path}`);
    }
    if (name !== opts.modelName) {
      throw fail('ALOFT_MODEL_NOT_FOUND', `this replica serves model '${opts.modelName}', not '${name}'`);
    }
    if (version !== undefined && version !== opts.modelVersion) {
      throw fail('ALOFT_VERSION_NOT_FOUND', `this replica serves version ${opts.modelVersion} of '${name}', not ${version}`);
    }
    switch (m[3]) {
      case 'infer':
        only('POST');
        if (draining) throw fail('ALOFT_NOT_READY', 'the replica is shutting down; retry on another replica');
        return infer(req, res);
      case 'ready':
        only('GET');
        if (draining) throw fail('ALOFT_NOT_READY', 'the replica is shutting down');
        return send(res, 200, JSON.stringify({ name, ready: true }));
      default:
        only('GET');
        return send(res, 200, metadata);
    }
  }

  const server = createServer((req, res) => {
    route(req, res).catch((e: unknown) => {
      if (res.headersSent) {
        onError(e);
        res.destroy();
        return;
      }
      if (isAloftError(e)) {
        if (e.status >= 500) onError(e);
        // After an early error the rest of the body may be unread: do not reuse the socket.
        if (!req.complete) res.setHeader('connection', 'close');
        sendError(res, e);
      } else {
        onError(e);
        send(res, 500, '{"error":"internal error"}');
      }
    });
  });
  // Longer than the gateway's idle keep-alive, so the server never closes a socket the
  // client is about to reuse.
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  server.requestTimeout = 0;

  const listening = performance.now();
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (e) {
    await session.close();
    throw e;
  }
  const addr = server.address() as AddressInfo;
  let frames: FrameServer | undefined;
  if (opts.socket !== undefined) {
    try {
      frames = await serveFrames(opts.socket, sig, (inputs) => serial(() => session.run(inputs)), onError);
    } catch (e) {
      server.close();
      await session.close();
      throw fail('ALOFT_REPLICA_START', `could not listen on the socket ${opts.socket}: ${(e as Error).message}`, { cause: e });
    }
  }
  startup.listenMs = performance.now() - listening;

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      draining = true;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const timer = setTimeout(() => server.closeAllConnections(), opts.drainTimeoutMs ?? 30_000);
      timer.unref();
      await Promise.all([closed, frames?.close()]);
      clearTimeout(timer);
      await tail;
      await session.close();
    })();
    return closing;
  };

  return { port: addr.port, host: addr.address, ...(opts.socket !== undefined ? { socket: opts.socket } : {}), signature: sig, startup, close };
}
