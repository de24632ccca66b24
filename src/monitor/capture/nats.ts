/**
 * The `nats` capture sink: the scaled shape's capture stream. Each record is published to
 * JetStream on `<subject>.<deployment>` with the message id `<deployment>/<request id>`,
 * so JetStream's duplicate window drops a record published twice (a retried batch) and a
 * consumer sees each record once. The payload is the sealed record as the other sinks keep
 * it: `{"deployment","id","at","version","kid","data"}`, data encrypted.
 *
 * The stream is created when missing (subjects `<subject>.>`, limits retention with
 * `maxAge` = the longest retention asked for). Aloft connects lazily and reconnects
 * forever; while NATS is away a batch fails after `timeoutMs` and is dropped and counted
 * by the capture (aloft_capture_dropped_total{reason="sink_error"}), and the queue in front
 * of it fills and drops (reason="buffer_full"): predictions are never slowed or failed.
 */
import { connect, type JetStreamClient, type NatsConnection } from 'nats';
import type { Logger } from '../../log.js';
import type { CaptureSink, PlainCapture } from './capture.js';

export interface NatsSinkOptions {
  url: string;
  stream: string;
  subject: string;
  /** ms a publish waits for JetStream's acknowledgement. Default 2000. */
  timeoutMs?: number;
  /** ms records are kept in the stream. Default 30 days. */
  maxAgeMs?: number;
  logger: Logger;
}

export class NatsSink implements CaptureSink {
  readonly name = 'nats' as const;
  readonly #o: NatsSinkOptions;
  #conn: Promise<{ nc: NatsConnection; js: JetStreamClient }> | undefined;

  constructor(o: NatsSinkOptions) {
    this.#o = o;
  }

  async write(records: readonly PlainCapture[]): Promise<void> {
    const batch = records.map((r) => r.sealed());
    const { js } = await this.#connect();
    const timeout = this.#o.timeoutMs ?? 2000;
    await Promise.all(batch.map((r) => js.publish(`${this.#o.subject}.${r.deployment}`, JSON.stringify({ deployment: r.deployment, id: r.id, at: r.at, version: r.version, kid: r.sealed.kid, data: r.sealed.data }), { msgID: `${r.deployment}/${r.id}`, timeout })));
  }

  async close(): Promise<void> {
    const c = this.#conn;
    this.#conn = undefined;
    if (!c) return;
    const { nc } = await c.catch(() => ({ nc: undefined }));
    if (!nc || nc.isClosed()) return;
    // Drain sends what is buffered; with the server away it would wait for a reconnection, so it gets a second.
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([nc.drain().catch(() => undefined), new Promise((r) => { timer = setTimeout(r, 1000); })]);
    clearTimeout(timer);
    if (!nc.isClosed()) await nc.close().catch(() => undefined);
  }

  #connect(): Promise<{ nc: NatsConnection; js: JetStreamClient }> {
    this.#conn ??= (async () => {
      const nc = await connect({ servers: this.#o.url, name: 'aloft-capture', maxReconnectAttempts: -1, reconnectTimeWait: 500, timeout: this.#o.timeoutMs ?? 2000 });
      const jsm = await nc.jetstreamManager();
      const subjects = [`${this.#o.subject}.>`];
      try {
        await jsm.streams.info(this.#o.stream);
      } catch {
        await jsm.streams.add({ name: this.#o.stream, subjects, max_age: (this.#o.maxAgeMs ?? 30 * 86_400_000) * 1_000_000, duplicate_window: 120 * 1_000_000_000 });
        this.#o.logger.info({ stream: this.#o.stream, subjects }, 'created the JetStream capture stream');
      }
      return { nc, js: nc.jetstream() };
    })();
    // A failed first connection is retried on the next write.
    this.#conn.catch(() => { this.#conn = undefined; });
    return this.#conn;
  }
}
