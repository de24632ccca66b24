/**
 * Carries one batch to one replica over HTTP/1.1 keep-alive as an OIP binary request
 * (every input binary, every output binary) and decodes the binary answer.
 *
 * undici is loaded on the first pool, not with the module: replicas on this machine speak
 * the wire protocol over a Unix socket, so most gateways never open one (the package costs
 * several MiB of resident memory).
 */
import type { Pool } from 'undici';
import { AloftError, fail } from '../../errors.js';
import { decodeInferResponse, encodeInferRequest } from '../../runtime/codec/index.js';
import type { Tensor } from '../../runtime/tensor.js';
import type { ReplicaTransport } from '../replica-set.js';

export interface HttpTransportOptions {
  /** Base URL of the replica, e.g. http://127.0.0.1:40123 */
  url: string;
  /** Name the replica serves the model under. */
  model: string;
  /** Connections to keep open; at least the in-flight cap. */
  connections: number;
}

// Network errors that mean the batch never reached a replica (or its answer never came
// back): they become ALOFT_NOT_READY, which the error registry marks transient.
const UNREACHABLE_CODES = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED', 'UND_ERR_DESTROYED',
  'UND_ERR_CONNECT_TIMEOUT', 'ENOTCONN', 'EHOSTUNREACH',
]);

export class HttpTransport implements ReplicaTransport {
  readonly url: string;
  readonly #opts: HttpTransportOptions;
  #pool: Promise<Pool>;
  readonly #path: string;

  constructor(opts: HttpTransportOptions) {
    this.url = opts.url;
    this.#opts = opts;
    this.#path = `/v2/models/${encodeURIComponent(opts.model)}/infer`;
    this.#pool = this.#newPool();
  }

  #newPool(): Promise<Pool> {
    const opts = this.#opts;
    return import('undici').then(({ Pool }) => new Pool(opts.url, {
      connections: opts.connections,
      pipelining: 1,
      keepAliveTimeout: 60_000,
      keepAliveMaxTimeout: 600_000,
      headersTimeout: 0,
      bodyTimeout: 0,
    }));
  }

  /** The replica stopped answering: drop its connections (calls in flight fail as retryable) and open new ones. */
  abandon(): void {
    const old = this.#pool;
    this.#pool = this.#newPool();
    void old.then((p) => p.destroy()).catch(() => undefined);
  }

  async infer(inputs: Tensor[]): Promise<Tensor[]> {
    const enc = encodeInferRequest(inputs, { binary: true, binaryOutput: true });
    let res;
    try {
      res = await (await this.#pool).request({
        method: 'POST',
        path: this.#path,
        headers: {
          'content-type': enc.contentType,
          'inference-header-content-length': String(enc.headerLength ?? enc.body.length),
        },
        body: enc.body,
      });
    } catch (err) {
      throw toReplicaError(err, this.url);
    }
    let body: Buffer;
    try {
      body = Buffer.from(await res.body.arrayBuffer());
    } catch (err) {
      throw toReplicaError(err, this.url);
    }
    if (res.statusCode !== 200) {
      let message = `replica answered ${res.statusCode}`;
      try {
        const parsed = JSON.parse(body.toString('utf8')) as { error?: unknown };
        if (typeof parsed.error === 'string') message = parsed.error;
      } catch { /* keep the status line */ }
      if (res.statusCode === 503) throw fail('ALOFT_NOT_READY', message);
      if (res.statusCode >= 400 && res.statusCode < 500) throw fail('ALOFT_INVALID_INPUT', message);
      throw fail('ALOFT_REPLICA_FAILED', message);
    }
    const h = res.headers['inference-header-content-length'];
    const headerLength = typeof h === 'string' ? Number(h) : undefined;
    return decodeInferResponse(body, headerLength).outputs;
  }

  async close(): Promise<void> {
    return (await this.#pool).close();
  }

  async destroy(): Promise<void> {
    return (await this.#pool).destroy();
  }
}

function toReplicaError(err: unknown, url: string): AloftError {
  const code = (err as { code?: string }).code ?? '';
  if (UNREACHABLE_CODES.has(code) || err instanceof TypeError) {
    return fail('ALOFT_NOT_READY', `replica ${url} is unreachable (${code || 'connection failed'})`, { cause: err });
  }
  return fail('ALOFT_REPLICA_FAILED', `replica ${url} failed: ${(err as Error).message}`, { cause: err });
}
