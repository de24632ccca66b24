/**
 * The edge where errors become `{"error": "..."}` responses. Domain errors keep their
 * status and message; Fastify's own errors are mapped to the protocol's statuses;
 * anything else is logged and answered with a bare 500 — no stack trace reaches a client.
 */
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { codeForStatus, isAloftError, type ErrorCode } from '../errors.js';
import type { Logger } from '../log.js';

const FASTIFY_STATUS: Record<string, [number, string]> = {
  FST_ERR_CTP_BODY_TOO_LARGE: [413, 'request body is over the body limit'],
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: [400, 'the Content-Length header does not match the body'],
  FST_ERR_CTP_INVALID_MEDIA_TYPE: [400, 'unsupported Content-Type'],
  FST_ERR_CTP_EMPTY_JSON_BODY: [400, 'the request body is empty'],
  FST_ERR_BAD_URL: [400, 'the URL is malformed'],
  FST_ERR_ASYNC_CONSTRAINT: [400, 'the request could not be routed'],
};

export function sendError(reply: FastifyReply, status: number, message: string, code: ErrorCode = codeForStatus(status)): FastifyReply {
  return reply.code(status).header('content-type', 'application/json').send(errorBody(message, code));
}

/**
 * The body every error answer carries: the protocol's `{"error": "..."}`, plus the stable
 * `code` of docs/errors.md so that scripts need not match messages.
 */
export function errorBody(message: string, code: ErrorCode): string {
  return JSON.stringify({ error: message, code });
}

/** What an error becomes on the wire: status, extra headers, the `{"error"}` message and its code. */
export interface ErrorAnswer {
  status: number;
  headers: Record<string, string>;
  message: string;
  code: ErrorCode;
}

/**
 * The answer for any error a request raised, shared by every path that serves requests
 * (Fastify's error handler and the infer pipeline). Unexpected errors are logged here.
 */
export function errorAnswer(err: unknown, logger: Logger, bodyLimit: number, req: { url?: string; method?: string }): ErrorAnswer {
  if (isAloftError(err)) {
    if (err.status >= 500 && err.code !== 'ALOFT_NOT_READY' && err.code !== 'ALOFT_OVERLOADED') {
      logger.warn({ code: err.code, url: req.url, err: err.cause ?? err }, err.message);
    }
    const headers: Record<string, string> = {};
    // Every 503 says when to come back (overloaded, not ready yet, a limit store that cannot be asked), so clients back off instead of hammering.
    if (err.status === 503) headers['retry-after'] = '1';
    if (err.code === 'ALOFT_RATE_LIMITED') {
      const ms = (err.details as { retryAfterMs?: unknown } | undefined)?.retryAfterMs;
      headers['retry-after'] = String(typeof ms === 'number' ? Math.max(1, Math.ceil(ms / 1000)) : 1);
    }
    return { status: err.status, headers, message: err.message, code: err.code };
  }
  const e = err as FastifyError;
  const mapped = e.code ? FASTIFY_STATUS[e.code] : undefined;
  if (mapped) {
    const msg = e.code === 'FST_ERR_CTP_BODY_TOO_LARGE'
      ? `request body is over the ${bodyLimit}-byte body limit (after decompression); send smaller batches or raise server.bodyLimit`
      : mapped[1];
    return { status: mapped[0], headers: {}, message: msg, code: codeForStatus(mapped[0]) };
  }
  const code = e.code;
  if (code === 'Z_DATA_ERROR' || code === 'Z_BUF_ERROR' || code === 'ERR_INVALID_ARG_TYPE' && /zlib/i.test(e.message)) {
    return { status: 400, headers: {}, message: 'the request body is not valid for its Content-Encoding', code: 'ALOFT_BAD_REQUEST' };
  }
  if (typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
    return { status: e.statusCode, headers: {}, message: e.message.replace(/^FST_\w+: /, ''), code: codeForStatus(e.statusCode) };
  }
  logger.error({ err, url: req.url, method: req.method }, 'unhandled error');
  return { status: 500, headers: {}, message: 'internal error', code: 'ALOFT_INTERNAL' };
}

export function makeErrorHandler(logger: Logger, bodyLimit: number) {
  return (err: FastifyError, req: FastifyRequest, reply: FastifyReply): FastifyReply => {
    const a = errorAnswer(err, logger, bodyLimit, req);
    for (const [k, v] of Object.entries(a.headers)) reply.header(k, v);
    return sendError(reply, a.status, a.message, a.code);
  };
}
