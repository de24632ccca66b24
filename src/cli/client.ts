/**
 * How the CLI reaches a running Aloft: the admin API and the data plane over HTTP. The
 * base URL comes from --url, then ALOFT_URL, then the spec's server address, then
 * http://127.0.0.1:8080.
 */
import { existsSync } from 'node:fs';
import { request } from 'undici';
import { AloftError, fail } from '../errors.js';
import { loadSpec } from '../spec/load.js';

export interface ClientOptions {
  url?: string;
  file?: string;
}

export async function resolveUrl(opts: ClientOptions): Promise<string> {
  if (opts.url) return opts.url.replace(/\/+$/, '');
  if (process.env.ALOFT_URL) return process.env.ALOFT_URL.replace(/\/+$/, '');
  const file = opts.file ?? (existsSync('aloft.yaml') ? 'aloft.yaml' : undefined);
  if (file) {
    try {
      const { spec } = await loadSpec(file);
      const host = spec.server.host === '0.0.0.0' ? '127.0.0.1' : spec.server.host;
      return `http://${host}:${spec.server.port}`;
    } catch { /* fall through to the default */ }
  }
  return 'http://127.0.0.1:8080';
}

export interface HttpResult {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

export async function call(base: string, method: string, path: string, body?: Buffer | string, headers: Record<string, string> = {}): Promise<HttpResult> {
  let res;
  try {
    res = await request(`${base}${path}`, { method: method as 'GET', headers, ...(body !== undefined ? { body } : {}) });
  } catch (err) {
    throw fail('ALOFT_CONNECT', `cannot reach Aloft at ${base} (${(err as { code?: string }).code ?? (err as Error).message}); start it with 'aloft up -f aloft.yaml' or pass --url`, { cause: err });
  }
  return { status: res.statusCode, headers: res.headers, body: Buffer.from(await res.body.arrayBuffer()) };
}

/** Call and parse a JSON answer; a non-2xx answer becomes an AloftError carrying the server's message. */
export async function callJson<T>(base: string, method: string, path: string, body?: Buffer | string, headers: Record<string, string> = {}): Promise<T> {
  const r = await call(base, method, path, body, headers);
  let parsed: unknown;
  try {
    parsed = JSON.parse(r.body.toString('utf8'));
  } catch {
    throw fail('ALOFT_CONNECT', `${base}${path} answered ${r.status} with a body that is not JSON; is --url pointing at Aloft?`);
  }
  if (r.status >= 400) {
    const message = typeof (parsed as { error?: unknown }).error === 'string' ? (parsed as { error: string }).error : `HTTP ${r.status}`;
    const err = new AloftError(r.status === 404 ? 'ALOFT_NOT_FOUND' : r.status >= 500 ? 'ALOFT_INTERNAL' : 'ALOFT_BAD_REQUEST', message);
    throw err;
  }
  return parsed as T;
}
