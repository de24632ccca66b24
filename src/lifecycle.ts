/**
 * One lifecycle for every long-running part of Aloft: each part is started by the one
 * owner (the composition root, aloft.ts), in order, and stopped in reverse order, each
 * step awaited, a failing step logged without stopping the others. Two kinds of part:
 *
 * - a resource that was opened and has a stop (a store, an HTTP server, an orchestrator):
 *   `own(name, stop)`;
 * - a loop that runs until told to stop (the key reloader, the controller): `run(name,
 *   loop)`, where `loop(signal)` resolves once it has stopped after `signal` aborts
 *   (controller-runtime's Runnable).
 *
 * `stop()` is idempotent; a part added after it started stopping is stopped at once.
 *
 * @example
 * const life = new Lifecycle(logger);
 * const store = await openStore(...); life.own('store', () => store.close());
 * life.run('key reload', (signal) => authenticator.start(signal));
 * ...
 * await life.stop(); // key reload, then store
 */
import type { Logger } from './log.js';

interface Part {
  name: string;
  stop(): Promise<void>;
}

export class Lifecycle {
  readonly #logger: Logger;
  readonly #parts: Part[] = [];
  #stopping: Promise<void> | undefined;

  constructor(logger: Logger) {
    this.#logger = logger;
  }

  /** Names of the parts, in start order. */
  get parts(): string[] {
    return this.#parts.map((p) => p.name);
  }

  /** A started resource; `stop` releases it. */
  own(name: string, stop: () => Promise<void> | void): void {
    const part = { name, stop: async () => { await stop(); } };
    if (this.#stopping) {
      void this.#stopPart(part);
      return;
    }
    this.#parts.push(part);
  }

  /** A loop: runs `loop(signal)` now; stopping aborts the signal and waits for the loop to end. */
  run(name: string, loop: (signal: AbortSignal) => Promise<void>): void {
    const abort = new AbortController();
    const running = loop(abort.signal).catch((err: unknown) => {
      this.#logger.error({ err, part: name }, 'a long-running part stopped with an error');
    });
    this.own(name, async () => {
      abort.abort();
      await running;
    });
  }

  /** Stop every part in reverse order of start. Idempotent. */
  stop(): Promise<void> {
    this.#stopping ??= (async () => {
      while (this.#parts.length > 0) await this.#stopPart(this.#parts.pop()!);
    })();
    return this.#stopping;
  }

  async #stopPart(part: Part): Promise<void> {
    try {
      await part.stop();
    } catch (err) {
      this.#logger.warn({ err, part: part.name }, 'error while stopping');
    }
  }
}
