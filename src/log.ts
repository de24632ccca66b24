/**
 * Structured logs (pino). Level from ALOFT_LOG_LEVEL (default 'info'; 'silent' in tests).
 * Never log request bodies, keys or tokens; as a second line of defence, the fields in
 * REDACTED_LOG_PATHS are replaced by '[redacted]' in every record.
 */
import { pino, type Logger as PinoLogger } from 'pino';

export type Logger = Pick<PinoLogger, 'info' | 'warn' | 'error' | 'debug' | 'child'>;

/** Credentials at the top level, one level down, and in request headers (pino path syntax). */
export const REDACTED_LOG_PATHS: readonly string[] = [
  'authorization', 'Authorization', 'key', 'token', 'secret', 'password', 'apiKey',
  'headers.authorization', 'headers.Authorization', 'headers.cookie',
  'req.headers.authorization', 'req.headers.Authorization', 'req.headers.cookie',
  '*.authorization', '*.Authorization', '*.key', '*.token', '*.secret', '*.password', '*.apiKey',
  '*.headers.authorization', '*.headers.Authorization',
];

export const REDACTED = '[redacted]';

const redact = { paths: [...REDACTED_LOG_PATHS], censor: REDACTED };

export function createLogger(opts: { level?: string; name?: string; destination?: NodeJS.WritableStream } = {}): Logger {
  const level = opts.level ?? process.env.ALOFT_LOG_LEVEL ?? 'info';
  return pino({ level, name: opts.name ?? 'aloft', base: undefined, redact }, (opts.destination ?? process.stderr) as pino.DestinationStream);
}

/** A logger that drops everything, for library use without configuration. */
export const silentLogger: Logger = pino({ level: 'silent' });
