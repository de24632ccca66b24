/**
 * Batches to a replica process on this machine over its Unix socket, in the wire protocol
 * (runtime/wire.ts): one frame out, one frame back, matched by id, on one connection that
 * carries every call in flight. The default for process replicas: against HTTP to the
 * same process it saves the request and response heads, the JSON header of the binary
 * extension and both HTTP stacks' bookkeeping per batch (BENCHMARKS.md has the figures).
 *
 * Calls in flight when the connection drops, or when the replica stopped answering and
 * the batcher abandoned them, fail as retryable (ALOFT_NOT_READY); the next call opens a
 * new connection, so a late answer on the old one is never mistaken for a new call's.
 */
import { connect, type Socket } from 'node:net';
import { fail, type AloftError, type ErrorCode } from '../../errors.js';
import type { Tensor } from '../../runtime/tensor.js';
import {
  decodeFailedFrame, decodeTensorFrame, encodeTensorFrame, FRAME_FAILED, FRAME_INFER, FRAME_RESULT, FrameReader, type Frame,
} from '../../runtime/wire.js';
import type { ReplicaTransport } from '../replica-set.js';

interface Pending {
  resolve: (outputs: Tensor[]) => void;
  reject: (e: Error) => void;
}

/** Codes a replica's failed frame may carry through as they are; anything else is a replica failure. */
const PASSED_THROUGH = new Set<string>(['ALOFT_NOT_READY', 'ALOFT_INVALID_INPUT', 'ALOFT_BAD_REQUEST', 'ALOFT_PAYLOAD_TOO_LARGE', 'ALOFT_REPLICA_FAILED']);

export class SocketTransport implements ReplicaTransport {
  readonly path: string;
  #conn: { socket: Socket; pending: Map<number, Pending> } | undefined;
  #next = 1;
  #closed = false;
  #drained: (() => void) | undefined;

  constructor(path: string) {
    this.path = path;
  }

  #connection(): { socket: Socket; pending: Map<number, Pending> } {
    if (this.#conn && !this.#conn.socket.destroyed) return this.#conn;
    const socket = connect(this.path);
    socket.setNoDelay?.(true);
    const conn = { socket, pending: new Map<number, Pending>() };
    const lost = (why: string) => {
      if (this.#conn === conn) this.#conn = undefined;
      this.#failAll(conn.pending, why);
      socket.destroy();
    };
    const reader = new FrameReader((f) => this.#answer(conn.pending, f), (e) => lost(e.message));
    socket.on('data', (c: Buffer) => reader.push(c));
    socket.on('error', (e: NodeJS.ErrnoException) => lost(`replica socket ${this.path} is unreachable (${e.code ?? e.message})`));
    socket.on('close', () => lost(`the replica closed its socket ${this.path}`));
    this.#conn = conn;
    return conn;
  }

  #answer(pending: Map<number, Pending>, f: Frame): void {
    const p = pending.get(f.id);
    if (!p) return;
    pending.delete(f.id);
    try {
      if (f.kind === FRAME_RESULT) p.resolve(decodeTensorFrame(f, 'response'));
      else if (f.kind === FRAME_FAILED) p.reject(replicaError(decodeFailedFrame(f)));
      else p.reject(fail('ALOFT_REPLICA_FAILED', `the replica answered with a frame of kind ${f.kind}`));
    } catch (e) {
      p.reject(e as Error);
    }
    if (pending.size === 0) this.#drained?.();
  }

  #failAll(pending: Map<number, Pending>, why: string): void {
    if (pending.size === 0) return;
    const err = fail('ALOFT_NOT_READY', why);
    for (const p of pending.values()) p.reject(err);
    pending.clear();
    this.#drained?.();
  }

  infer(inputs: Tensor[]): Promise<Tensor[]> {
    if (this.#closed) return Promise.reject(fail('ALOFT_NOT_READY', 'the transport to this replica is closed'));
    let parts: Buffer[];
    try {
      parts = encodeTensorFrame(this.#next, FRAME_INFER, inputs);
    } catch (e) {
      return Promise.reject(e as Error);
    }
    const id = this.#next;
    this.#next = this.#next >= 0xffffffff ? 1 : this.#next + 1;
    const { socket, pending } = this.#connection();
    return new Promise<Tensor[]>((resolve, reject) => {
      pending.set(id, { resolve, reject });
      if (parts.length === 1) socket.write(parts[0]!);
      else {
        socket.cork();
        for (const p of parts) socket.write(p);
        socket.uncork();
      }
    });
  }

  /** The replica stopped answering: fail what is in flight as retryable and drop the connection. */
  abandon(): void {
    const conn = this.#conn;
    if (!conn) return;
    this.#conn = undefined;
    this.#failAll(conn.pending, `the replica on ${this.path} did not answer in time`);
    conn.socket.destroy();
  }

  /** Let calls in flight finish, then close the connection. */
  async close(): Promise<void> {
    this.#closed = true;
    const conn = this.#conn;
    if (!conn) return;
    if (conn.pending.size > 0) await new Promise<void>((resolve) => { this.#drained = () => { if (conn.pending.size === 0) resolve(); }; });
    this.#conn = undefined;
    conn.socket.destroy();
  }
}

function replicaError(e: { code: string; message: string }): AloftError {
  return fail(PASSED_THROUGH.has(e.code) ? (e.code as ErrorCode) : 'ALOFT_REPLICA_FAILED', e.message);
}
