/**
 * The replica's Unix-socket listener for the wire protocol (wire.ts): each infer frame is
 * decoded, checked against the model's signature, run, and answered with a result or a
 * failed frame carrying the same id. A malformed frame is answered as the caller's error
 * (the connection keeps serving); a frame over the size limit, which leaves the stream
 * unframed, closes that connection alone. The socket file is created mode 0600 inside a
 * folder only its owner can open (the orchestrator's), and removed on close.
 */
import { chmodSync, rmSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { fail } from '../errors.js';
import { validateInputs } from './codec/index.js';
import type { ModelSignature, Tensor } from './tensor.js';
import { decodeTensorFrame, encodeFailedFrame, encodeTensorFrame, FRAME_INFER, FRAME_RESULT, FrameReader, type Frame } from './wire.js';

export interface FrameServer {
  /** Stop accepting; answer what was asked; then close every connection and remove the file. */
  close(): Promise<void>;
}

export async function serveFrames(
  path: string,
  signature: ModelSignature,
  run: (inputs: Tensor[]) => Promise<Tensor[]>,
  onError: (e: unknown) => void,
): Promise<FrameServer> {
  let draining = false;
  const sockets = new Set<Socket>();
  let inflight = 0;
  let idle: (() => void) | undefined;

  const write = (s: Socket, parts: Buffer[] | Buffer): void => {
    if (s.destroyed) return;
    if (Buffer.isBuffer(parts)) { s.write(parts); return; }
    if (parts.length === 1) { s.write(parts[0]!); return; }
    s.cork();
    for (const p of parts) s.write(p);
    s.uncork();
  };

  const answer = async (s: Socket, f: Frame): Promise<void> => {
    if (f.kind !== FRAME_INFER) throw fail('ALOFT_BAD_REQUEST', `the replica takes infer frames (kind ${FRAME_INFER}), not kind ${f.kind}`);
    if (draining) throw fail('ALOFT_NOT_READY', 'the replica is shutting down; retry on another replica');
    const inputs = validateInputs(decodeTensorFrame(f, 'request'), signature);
    const outputs = await run(inputs);
    write(s, encodeTensorFrame(f.id, FRAME_RESULT, outputs));
  };

  const server = createServer((s) => {
    sockets.add(s);
    s.setNoDelay?.(true);
    const reader = new FrameReader(
      (f) => {
        inflight++;
        answer(s, f).catch((e: unknown) => {
          if (!(e as { status?: number }).status || (e as { status: number }).status >= 500) onError(e);
          write(s, encodeFailedFrame(f.id, e));
        }).finally(() => {
          if (--inflight === 0) idle?.();
        });
      },
      (e) => { onError(e); s.destroy(); },
    );
    s.on('data', (c: Buffer) => reader.push(c));
    s.on('error', () => undefined);
    s.on('close', () => sockets.delete(s));
  });

  rmSync(path, { force: true });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => { server.off('error', reject); resolve(); });
  });
  chmodSync(path, 0o600);

  let closing: Promise<void> | undefined;
  return {
    close() {
      closing ??= (async () => {
        draining = true;
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        if (inflight > 0) await new Promise<void>((resolve) => { idle = resolve; });
        for (const s of sockets) {
          s.end();
          setTimeout(() => s.destroy(), 5000).unref();
        }
        await closed;
        rmSync(path, { force: true });
      })();
      return closing;
    },
  };
}
