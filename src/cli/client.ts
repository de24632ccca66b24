/**
 * How the CLI reaches a running Aloft: the admin API and the data plane over HTTP. The
 * base URL comes from --url, then ALOFT_URL, then the spec's server address, then
 * http://127.0.0.1:8080; the credential from --key, ALOFT_KEY, then the admin key file
 * (see credentials.ts). Every request carries it.
 */
import { existsSync } from 'node:fs';
import { request } from 'undici';
import { AloftError, fail } from '../errors.js';
import { loadSpec } from '../spec/load.js';
import { explainAuthError, resolveCredentials, type Credentials } from './credentials.js';

export interface ClientOptions {
  url?: string;
  /** The spec file, for the default URL and the admin key file. */
  file?: string;
  /** --key */
  key?: string;
}

/** A resolved target: where Aloft is and which credential to send. */
export interface Connection {
  base: string;
  creds: Credentials;
}

/** `purpose` picks the spec's port when no URL is given: the admin API may have its own (server.adminPort). */
export async function connect(opts: ClientOptions, purpose: 'admin' | 'data' = 'admin'): Promise<Connection> {
  return { base: await resolveUrl(opts, purpose), creds: await resolveCredentials(opts) };
}

export async function resolveUrl(opts: ClientOptions, purpose: 'admin' | 'data' = 'admin'): Promise<string> {
  if (opts.url) return opts.url.replace(/\/+$/, '');
  if (process.env.ALOFT_URL) return process.env.ALOFT_URL.replace(/\/+$/, '');
  const file = opts.file ?? (existsSync('aloft.yaml') ? 'aloft.yaml' : undefined);
  if (file) {
    try {
      const { spec } = await loadSpec(file);
      const host = spec.server.host === '0.0.0.0' || spec.server.host === '::' ? '127.0.0.1' : spec.server.host;
      const port = purpose === 'admin' && spec.server.adminPort ? spec.server.adminPort : spec.server.port;
      return `${spec.security.tls ? 'https' : 'http'}://${host}:${port}`;
    } catch { /* fall through to the default */ }
  }
  return 'http://127.0.0.1:8080';
}

export interface HttpResult {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

export async function call(conn: Connection, method: string, path: string, body?: Buffer | string, headers: Record<string, string> = {}): Promise<HttpResult> {
  const { base } = conn;
  const auth: Record<string, string> = conn.creds.key !== undefined ? { authorization: `Bearer ${conn.creds.key}` } : {};
  let res;
  try {
    res = await request(`${base}${path}`, { method: method as 'GET', headers: { ...auth, ...headers }, ...(body !== undefined ? { body } : {}) });
  } catch (err) {
    throw fail('ALOFT_CONNECT', `cannot reach Aloft at ${base} (${(err as { code?: string }).code ?? (err as Error).message}); start it with 'aloft up -f aloft.yaml' or pass --url`, { cause: err });
  }
  return { status: res.statusCode, headers: res.headers, body: Buffer.from(await res.body.arrayBuffer()) };
}

/** The error for a non-2xx answer, carrying the server's message (and, for 401/403, where the key came from). */
export function errorFor(status: number, message: string, conn: Connection): unknown {
  const code = status === 401 ? 'ALOFT_UNAUTHENTICATED' : status === 403 ? 'ALOFT_FORBIDDEN' : status === 404 ? 'ALOFT_NOT_FOUND'
    : status === 429 ? 'ALOFT_RATE_LIMITED' : status === 503 ? 'ALOFT_NOT_READY' : status >= 500 ? 'ALOFT_INTERNAL' : 'ALOFT_BAD_REQUEST';
  return explainAuthError(new AloftError(code, message), conn.creds);
}

/** Call and parse a JSON answer; a non-2xx answer becomes an AloftError carrying the server's message. */
export async function callJson<T>(conn: Connection, method: string, path: string, body?: Buffer | string, headers: Record<string, string> = {}): Promise<T> {
  const { base } = conn;
  const r = await call(conn, method, path, body, headers);
  let parsed: unknown;
  try {
    parsed = JSON.parse(r.body.toString('utf8'));
  } catch {
    throw fail('ALOFT_CONNECT', `${base}${path} answered ${r.status} with a body that is not JSON; is --url pointing at Aloft?`);
  }
  if (r.status >= 400) {
    const message = typeof (parsed as { error?: unknown }).error === 'string' ? (parsed as { error: string }).error : `HTTP ${r.status}`;
    throw errorFor(r.status, message, conn);
  }
  return parsed as T;
}
