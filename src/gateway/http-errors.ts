/**
 * The edge where errors become `{"error": "..."}` responses. Domain errors keep their
 * status and message; Fastify's own errors are mapped to the protocol's statuses;
 * anything else is logged and answered with a bare 500 — no stack trace reaches a client.
 */
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { isAloftError } from '../errors.js';
import type { Logger } from '../log.js';

const FASTIFY_STATUS: Record<string, [number, string]> = {
  FST_ERR_CTP_BODY_TOO_LARGE: [413, 'request body is over the body limit'],
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: [400, 'the Content-Length header does not match the body'],
  FST_ERR_CTP_INVALID_MEDIA_TYPE: [400, 'unsupported Content-Type'],
  FST_ERR_CTP_EMPTY_JSON_BODY: [400, 'the request body is empty'],
  FST_ERR_BAD_URL: [400, 'the URL is malformed'],
  FST_ERR_ASYNC_CONSTRAINT: [400, 'the request could not be routed'],
};

export function sendError(reply: FastifyReply, status: number, message: string): FastifyReply {
  return reply.code(status).header('content-type', 'application/json').send(JSON.stringify({ error: message }));
}

export function makeErrorHandler(logger: Logger, bodyLimit: number) {
  return (err: FastifyError, req: FastifyRequest, reply: FastifyReply): FastifyReply => {
    if (isAloftError(err)) {
      if (err.status >= 500 && err.code !== 'ALOFT_NOT_READY' && err.code !== 'ALOFT_OVERLOADED') {
        logger.warn({ code: err.code, url: req.url, err: err.cause ?? err }, err.message);
      }
      if (err.code === 'ALOFT_OVERLOADED') reply.header('retry-after', '1');
      return sendError(reply, err.status, err.message);
    }
    const mapped = err.code ? FASTIFY_STATUS[err.code] : undefined;
    if (mapped) {
      const msg = err.code === 'FST_ERR_CTP_BODY_TOO_LARGE'
        ? `request body is over the ${bodyLimit}-byte body limit (after decompression); send smaller batches or raise server.bodyLimit`
        : mapped[1];
      return sendError(reply, mapped[0], msg);
    }
    const code = (err as { code?: string }).code;
    if (code === 'Z_DATA_ERROR' || code === 'Z_BUF_ERROR' || code === 'ERR_INVALID_ARG_TYPE' && /zlib/i.test(err.message)) {
      return sendError(reply, 400, 'the request body is not valid for its Content-Encoding');
    }
    if (typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500) {
      return sendError(reply, err.statusCode, err.message.replace(/^FST_\w+: /, ''));
    }
    logger.error({ err, url: req.url, method: req.method }, 'unhandled error');
    return sendError(reply, 500, 'internal error');
  };
}
