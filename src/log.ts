/**
 * Structured logs (pino). Level from ALOFT_LOG_LEVEL (default 'info'; 'silent' in tests).
 * Never log request bodies, keys or tokens; as a second line of defence, the fields in
 * REDACTED_LOG_PATHS are replaced by '[redacted]' in every record.
 */
import { Writable } from 'node:stream';
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

const LEVELS: Readonly<Record<number, string>> = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' };

/**
 * One log line as a person reads it in a terminal: `12:00:01 warn  message (key=value, …)`
 * from pino's JSON line (as redacted); a line that is not JSON is passed on as it is.
 */
export function humanLogLine(json: string): string {
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return json;
  }
  const { time, level, msg, pid: _pid, hostname: _host, name: _name, ...rest } = o;
  const at = typeof time === 'number' ? new Date(time).toISOString().slice(11, 19) : '';
  const fields = Object.entries(rest).map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`).join(', ');
  return `${at} ${(LEVELS[level as number] ?? String(level)).padEnd(5)} ${typeof msg === 'string' ? msg : ''}${fields ? ` (${fields})` : ''}`;
}

/** A destination that writes pino's lines to `out` as humanLogLine reads them. */
export function humanLogStream(out: NodeJS.WritableStream): NodeJS.WritableStream {
  let pending = '';
  return new Writable({
    write(chunk: Buffer | string, _enc, done) {
      pending += chunk.toString();
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const l of lines) if (l !== '') out.write(`${humanLogLine(l)}\n`);
      done();
    },
  });
}
