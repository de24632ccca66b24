/**
 * Structured logs (pino). Level from ALOFT_LOG_LEVEL (default 'info'; 'silent' in tests).
 * Never log request bodies, keys or tokens.
 */
import { pino, type Logger as PinoLogger } from 'pino';

export type Logger = Pick<PinoLogger, 'info' | 'warn' | 'error' | 'debug' | 'child'>;

export function createLogger(opts: { level?: string; name?: string; destination?: NodeJS.WritableStream } = {}): Logger {
  const level = opts.level ?? process.env.ALOFT_LOG_LEVEL ?? 'info';
  return pino({ level, name: opts.name ?? 'aloft', base: undefined }, (opts.destination ?? process.stderr) as pino.DestinationStream);
}

/** A logger that drops everything, for library use without configuration. */
export const silentLogger: Logger = pino({ level: 'silent' });
