/**
 * Small HTTP helpers for end-to-end tests of the gateway: send a request with undici and
 * read the whole answer, and check the protocol's error shape `{"error": "..."}`.
 */
import assert from 'node:assert/strict';
import type { Readable } from 'node:stream';
import { request, type Dispatcher } from 'undici';
import { ERRORS, isErrorCode } from '../../src/errors.js';

export interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  /** The raw body text. */
  text: string;
  /** The body parsed as JSON, or undefined when it is not JSON. */
  json: unknown;
}

export interface CallOptions {
  method?: 'GET' | 'POST' | 'PUT' | 'DELETE' | 'PATCH' | 'HEAD' | 'OPTIONS';
  body?: string | Buffer | Uint8Array | Readable;
  headers?: Record<string, string>;
  /** Another undici dispatcher (e.g. one that adds no credentials). */
  dispatcher?: Dispatcher;
  /** Headers and body timeout, ms (undici's default otherwise). */
  timeoutMs?: number;
}

/** Send one request (POST when there is a body, else GET) and read the whole answer. */
export async function call(url: string, opts: CallOptions = {}): Promise<Answer> {
  const method = opts.method ?? (opts.body === undefined ? 'GET' : 'POST');
  const res = await request(url, {
    method, ...(opts.body !== undefined ? { body: opts.body } : {}), ...(opts.headers ? { headers: opts.headers } : {}),
    ...(opts.dispatcher ? { dispatcher: opts.dispatcher } : {}), ...(opts.timeoutMs !== undefined ? { headersTimeout: opts.timeoutMs, bodyTimeout: opts.timeoutMs } : {}),
  });
  const text = await res.body.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.statusCode, headers: res.headers as Answer['headers'], text, json };
}

/** POST a JSON value (or a raw string/buffer as is). */
export function postJson(url: string, body: unknown, headers?: Record<string, string>): Promise<Answer> {
  const raw = typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body);
  return call(url, { method: 'POST', body: raw, ...(headers ? { headers } : {}) });
}

/** Signs of an internal detail leaking: stack frames, source paths, dependency paths. */
const LEAKS: [RegExp, string][] = [
  [/^\s*at\s/m, 'a stack frame line'],
  [/\bat \S+ \(/, 'a stack frame'],
  [/:\d+:\d+\)?/, 'a file:line:col position'],
  [/\.(ts|js|mjs|cjs):/, 'a source file name'],
  [/node_modules/, 'a node_modules path'],
  [/(^|[\s'"(])\/(home|tmp|usr|var|work|root|Users)\//, 'an absolute path'],
  [/\bFST_[A-Z_]+/, 'a Fastify error code'],
  [/\bError: /, 'a raw JS error name'],
];

/** Assert the body reveals nothing internal. */
export function assertNoLeak(text: string): void {
  for (const [re, what] of LEAKS) assert.doesNotMatch(text, re, `the body must not contain ${what}: ${text.slice(0, 500)}`);
}

/**
 * Assert an error answer: the exact status, a JSON body that is exactly `{"error": string}`
 * with a non-empty message containing every `keywords` entry (case-insensitive), and no leak.
 * Returns the message.
 */
export function assertError(res: Answer, status: number, keywords: readonly (string | RegExp)[] = []): string {
  assert.equal(res.status, status, `expected HTTP ${status}, got ${res.status}: ${res.text.slice(0, 500)}`);
  assert.match(String(res.headers['content-type'] ?? ''), /^application\/json\b/, 'error bodies are JSON');
  assert.ok(res.json !== undefined, `the body is not JSON: ${res.text.slice(0, 500)}`);
  const body = res.json as Record<string, unknown>;
  assert.ok(typeof body === 'object' && body !== null && !Array.isArray(body), `the body must be an object: ${res.text}`);
  assert.deepEqual(Object.keys(body), ['error', 'code'], `the body must be {"error", "code"}: ${res.text}`);
  assert.ok(isErrorCode(body.code), `'code' must be one of docs/errors.md's codes: ${res.text}`);
  assert.equal(ERRORS[body.code].status, status, `the code ${String(body.code)} is documented with HTTP ${ERRORS[body.code].status}, answered with ${status}`);
  const message = body.error;
  assert.equal(typeof message, 'string', `'error' must be a string: ${res.text}`);
  assert.ok((message as string).trim().length > 0, 'the error message must not be empty');
  for (const k of keywords) {
    if (typeof k === 'string') {
      assert.ok((message as string).toLowerCase().includes(k.toLowerCase()), `the message should mention ${JSON.stringify(k)}: ${String(message)}`);
    } else {
      assert.match(message as string, k);
    }
  }
  assertNoLeak(res.text);
  return message as string;
}
