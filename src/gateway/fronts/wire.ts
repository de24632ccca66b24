/**
 * The wire front: plain infer requests read straight off the socket, every other
 * connection handed to node:http.
 *
 * node:http costs about 20–35 µs of the gateway's main-thread time per request on the
 * 2-core bench machine (`tsx bench/run.ts --systems fixed,socket-fixed`: 53–66 µs of CPU
 * per fixed answer against 32 µs for a minimal reader on raw sockets), the largest cost
 * left on the hot path. This front reads one strict subset of HTTP/1.1 and nothing else:
 *
 *   POST /v2/models/{name}[/versions/{v}]/infer HTTP/1.1, CRLF line ends, token header
 *   names, header values of visible ASCII, space, tab or obs-text, exactly one Host,
 *   exactly one Content-Length of digits within the body limit, no Transfer-Encoding,
 *   Expect or Upgrade, Connection absent or keep-alive, no duplicate of any header it
 *   reads, the whole header block in hand.
 *
 * The first request that is anything else — or whose header block has not fully arrived,
 * or that arrives once the server is closing — and everything after it on that
 * connection go to node:http, as if node had read the connection from its first byte:
 * the bytes held so far are put back on the socket (`unshift`) and node's own connection
 * listener takes the socket. Node then answers exactly as it always has (400 for
 * malformed requests, Fastify's 404/405/413/503, slow-header timeouts). A request is
 * never split between the two readers, so there is no way to make them disagree on where
 * one request ends (request smuggling needs two parsers reading one byte stream
 * differently; here each byte is parsed by one of them only).
 *
 * A request is served as soon as its head is in hand: the pipeline (pipeline.ts)
 * authenticates, resolves the model and reserves body memory from the head, and only then
 * asks for the body, so a caller without access holds at most 64 KiB of a connection's
 * bytes and then has the rest of its body dropped unread as it arrives (node:http does the
 * same with a body nobody read), within server.bodyTimeout. If the client half-closes
 * before the body is complete, the request goes to node:http as it came (head included),
 * which rejects it as it always has.
 *
 * What it keeps from node:http: answers in request order (one request at a time per
 * connection), the same response header block (Date, Connection: keep-alive, Keep-Alive
 * timeout), the keep-alive timeout for idle connections, back-pressure on a client that
 * does not read, and on a half-close (FIN) node's own handling of whatever the front does
 * not answer itself (node gets those bytes and the end event), and draining:
 * on close, idle connections are closed and busy ones answer with Connection: close.
 * TLS connections stay on node:http.
 */
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { Clock, Timer } from '../../clock.js';
import type { Logger } from '../../log.js';
import { CLIENT_GONE, inferPath, type BodyRead, type InferExchange, type InferTarget, type Serve } from '../pipeline.js';

export interface WireOptions {
  serve: Serve;
  bodyLimit: number;
  /** Time allowed for a body to arrive once its head has (server.bodyTimeout). */
  bodyTimeoutMs: number;
  /** Idle connections are closed after this long (node's keepAliveTimeout). */
  keepAliveTimeoutMs: number;
  /** True once the server is closing. */
  closing(): boolean;
  /** Gives a socket to node:http (its own connection listener). */
  handoff(socket: Socket): void;
  clock: Clock;
  logger: Logger;
  /** Wall clock for the Date header (as node's own). */
  wallClock?: () => number;
}

/** What the wire front has taken (read by tests): answers it gave, connections it handed off. */
export interface WireStats {
  /** Requests answered by the wire front. */
  served: number;
  /** Connections given to node:http. */
  handedOff: number;
}

/** Node's default limit for a request's header block. */
const MAX_HEAD = 16 * 1024;
/** Bytes held beyond what the request being answered has asked for before the socket is paused. */
const HOLD = 64 * 1024;

export class WireFront {
  readonly stats: WireStats = { served: 0, handedOff: 0 };
  private readonly conns = new Set<WireConn>();
  private dateSecond = -1;
  private dateText = '';
  readonly keepAliveHeader: string;

  constructor(readonly o: WireOptions) {
    // Node writes `Keep-Alive: timeout=<whole seconds>` when keepAliveTimeout is set.
    this.keepAliveHeader = o.keepAliveTimeoutMs > 0 ? `Connection: keep-alive\r\nKeep-Alive: timeout=${Math.floor(o.keepAliveTimeoutMs / 1000)}\r\n` : 'Connection: keep-alive\r\n';
  }

  /** Takes a new connection. */
  accept(socket: Socket): void {
    if (this.o.closing()) {
      this.o.handoff(socket);
      return;
    }
    this.conns.add(new WireConn(this, socket));
  }

  /** The server is closing: idle connections close now, busy ones after their answer. */
  shutdown(): void {
    for (const c of [...this.conns]) c.shutdown();
  }

  /** @internal */
  release(c: WireConn): void {
    this.conns.delete(c);
  }

  /** The Date header's value, computed once a second as node does. */
  date(): string {
    const now = (this.o.wallClock ?? Date.now)();
    const second = Math.floor(now / 1000);
    if (second !== this.dateSecond) {
      this.dateSecond = second;
      this.dateText = new Date(second * 1000).toUTCString();
    }
    return this.dateText;
  }
}

/** A parsed request head: where its body starts and what the pipeline needs. */
interface Head {
  url: string;
  target: InferTarget;
  /** Bytes of the request line and headers, blank line included. */
  headLength: number;
  bodyLength: number;
  authorization: string | undefined;
  inferenceHeader: string | undefined;
}

/** The request being served on a connection. */
interface Current {
  head: Head;
  /** The head's bytes, to give node:http the request as it came if the front lets it go. */
  headBytes: Buffer;
  arrivedAt: number;
  /** Body bytes not yet taken off the connection. */
  bodyLeft: number;
  /**
   * The pipeline is waiting for the body, which is copied into `target` (its declared
   * size, allocated once) as it arrives: one copy of the body in memory, not chunks and
   * then their concatenation.
   */
  reader: { resolve(b: Buffer): void; reject(e: unknown): void; timer: Timer | undefined; target?: Buffer; filled: number } | undefined;
  /** The body did not arrive in time: the answer closes the connection. */
  late: boolean;
  /** The answer has been written. */
  written: boolean;
  /** The connection went to node:http mid-request: this exchange has nobody to answer. */
  abandoned: boolean;
}

const EMPTY = Buffer.alloc(0);

class WireConn {
  /** Bytes received and not yet taken, in arrival order (the current head excluded). */
  private chunks: Buffer[] = [];
  private size = 0;
  private cur: Current | undefined;
  /** A request is being served. */
  private busy = false;
  /** Bytes of an answered request's body still to drop as they arrive. */
  private discard = 0;
  private discardTimer: Timer | undefined;
  /** Waiting for the socket to drain before reading the next request. */
  private draining = false;
  /** The client has half-closed (sent FIN). */
  private ended = false;
  /** The server is closing: the current answer is the last. */
  private last = false;
  private released = false;
  private readonly ip: string;

  constructor(private readonly front: WireFront, private readonly socket: Socket) {
    this.ip = socket.remoteAddress ?? '';
    for (const [event, fn] of this.listeners()) socket.on(event, fn);
    socket.setTimeout(front.o.keepAliveTimeoutMs);
  }

  /** Every socket listener of this connection (taken off again at the hand-off). */
  private listeners(): [string, (arg: Buffer & Error) => void][] {
    return [['data', this.onData], ['end', this.onEnd], ['error', this.onError], ['close', this.onClose], ['timeout', this.onTimeout], ['drain', this.onDrain]];
  }

  private readonly onData = (chunk: Buffer): void => {
    if (this.discard > 0) {
      const n = Math.min(this.discard, chunk.length);
      this.discard -= n;
      if (this.discard === 0) this.stopDiscard();
      if (n === chunk.length) return;
      chunk = chunk.subarray(n);
    }
    const filling = this.cur?.reader;
    if (filling?.target) {
      const n = Math.min(chunk.length, filling.target.length - filling.filled);
      chunk.copy(filling.target, filling.filled, 0, n);
      filling.filled += n;
      if (filling.filled === filling.target.length) this.filled(this.cur!);
      if (n === chunk.length) return;
      chunk = chunk.subarray(n);
    }
    this.chunks.push(chunk);
    this.size += chunk.length;
    const cur = this.cur;
    if (cur?.reader && !cur.reader.target && this.size >= cur.bodyLeft) this.deliver(cur);
    if (!this.busy && !this.draining) this.pump();
    else if (this.size > HOLD + (cur?.reader && !cur.reader.target ? cur.bodyLeft : 0)) this.socket.pause();
  };

  /** Whether the current request's body is still arriving. */
  private bodyIncomplete(cur: Current): boolean {
    const r = cur.reader;
    return r?.target ? r.filled < r.target.length : cur.bodyLeft > this.size;
  }

  private readonly onEnd = (): void => {
    this.ended = true;
    const cur = this.cur;
    if (cur && !cur.written && this.bodyIncomplete(cur)) {
      // The body can never be completed: node answers the request as it came, as it always has.
      return this.handoff();
    }
    if (this.discard > 0) {
      this.socket.end(); // the rest of an answered body will not come
      return;
    }
    if (!this.busy && !this.draining) this.pump();
  };

  private readonly onError = (): void => {
    // A reset or a write to a closed socket; 'close' follows and releases the connection.
    this.socket.destroy();
  };

  private readonly onClose = (): void => {
    const r = this.cur?.reader;
    if (r) {
      this.cur!.reader = undefined;
      r.timer?.cancel();
      r.reject(CLIENT_GONE);
    }
    this.stopDiscard();
    this.release();
  };

  private readonly onTimeout = (): void => {
    // Node's keepAliveTimeout: a connection with nothing in progress is closed. A request in
    // progress is bounded by its deadline and server.bodyTimeout.
    if (!this.busy) this.socket.destroy();
  };

  private readonly onDrain = (): void => {
    if (!this.draining) return;
    this.draining = false;
    this.pump();
  };

  shutdown(): void {
    if (this.busy || this.draining || this.discard > 0) this.last = true;
    else if (this.size === 0) this.socket.destroy();
    else this.handoff(); // a request in the making: node answers it (503, Connection: close)
  }

  private release(): void {
    if (this.released) return;
    this.released = true;
    this.front.release(this);
  }

  /** The untaken bytes as one buffer. */
  private bytes(): Buffer {
    if (this.chunks.length === 0) return EMPTY;
    if (this.chunks.length > 1) this.chunks = [Buffer.concat(this.chunks, this.size)];
    return this.chunks[0]!;
  }

  /** Takes the first `n` untaken bytes off the connection. */
  private take(n: number): Buffer {
    const buf = this.bytes();
    this.size -= n;
    this.chunks = this.size === 0 ? [] : [buf.subarray(n)];
    return buf.subarray(0, n);
  }

  /** Reads and serves requests until one is incomplete, unusual, or being served. */
  private pump(): void {
    while (!this.busy && !this.draining && !this.released) {
      if (this.discard > 0) {
        if (this.socket.isPaused()) this.socket.resume();
        return;
      }
      if (this.size === 0) {
        if (this.last || this.ended) this.socket.end();
        else if (this.socket.isPaused()) this.socket.resume();
        return;
      }
      if (this.front.o.closing()) return this.handoff();
      const head = parseHead(this.bytes(), this.front.o.bodyLimit);
      if (head === undefined) return this.handoff();
      const cur: Current = {
        head, headBytes: this.take(head.headLength), arrivedAt: this.front.o.clock.now(), bodyLeft: head.bodyLength,
        reader: undefined, late: false, written: false, abandoned: false,
      };
      this.cur = cur;
      this.busy = true;
      this.front.o.serve(this.exchange(cur)).then(() => this.answered(cur), (err: unknown) => {
        // serve answers every error itself; this is only a last guard for the process.
        this.front.o.logger.error({ err, url: head.url }, 'wire front failed');
        this.socket.destroy();
      });
    }
  }

  /** The body is in hand: give it to the waiting pipeline. */
  private deliver(cur: Current): void {
    const r = cur.reader!;
    cur.reader = undefined;
    r.timer?.cancel();
    const body = this.take(cur.bodyLeft);
    cur.bodyLeft = 0;
    r.resolve(body);
  }

  /** The body's target buffer is full: give it to the waiting pipeline. */
  private filled(cur: Current): void {
    const r = cur.reader!;
    cur.reader = undefined;
    r.timer?.cancel();
    cur.bodyLeft = 0;
    r.resolve(r.target!);
  }

  private answered(cur: Current): void {
    if (cur.abandoned || this.released) return;
    this.busy = false;
    this.cur = undefined;
    if (this.socket.destroyed || this.last || cur.late) return; // that answer ended the connection
    if (cur.bodyLeft > 0) {
      // Answered without the whole body (refused before it was read): skip the rest, as
      // node:http does, within server.bodyTimeout.
      const have = Math.min(this.size, cur.bodyLeft);
      this.take(have);
      this.discard = cur.bodyLeft - have;
      if (this.discard > 0) {
        const clock = this.front.o.clock;
        this.discardTimer = clock.setTimeout(() => this.socket.destroy(), Math.max(0, cur.arrivedAt + this.front.o.bodyTimeoutMs - clock.now()));
        if (this.ended) return void this.socket.end();
      }
    }
    if (this.socket.writableNeedDrain) this.draining = true;
    else this.pump();
  }

  private stopDiscard(): void {
    this.discardTimer?.cancel();
    this.discardTimer = undefined;
  }

  private exchange(cur: Current): InferExchange {
    const socket = this.socket;
    const { head } = cur;
    return {
      url: head.url, target: head.target, ip: this.ip, authorization: head.authorization, inferenceHeader: head.inferenceHeader, socket,
      header: (name) => headerIn(cur.headBytes, head.headLength, name),
      arrivedAt: cur.arrivedAt, declaredLength: head.bodyLength,
      body: (read) => this.body(cur, read),
      answer: (status, headers, content) => this.write(cur, status, headers, content),
      gone: () => socket.destroyed || cur.abandoned,
    };
  }

  private body(cur: Current, read: BodyRead): Promise<Buffer> {
    if (this.socket.destroyed || cur.abandoned) return Promise.reject(CLIENT_GONE);
    return new Promise<Buffer>((resolve, reject) => {
      cur.reader = { resolve, reject, timer: undefined, filled: 0 };
      if (this.size >= cur.bodyLeft) return this.deliver(cur);
      // The rest is still to come: every byte held so far is body; copy it into place.
      const target = Buffer.allocUnsafe(cur.bodyLeft);
      for (const c of this.chunks) {
        c.copy(target, cur.reader.filled);
        cur.reader.filled += c.length;
      }
      this.chunks = [];
      this.size = 0;
      cur.reader.target = target;
      const clock = this.front.o.clock;
      cur.reader.timer = clock.setTimeout(() => {
        if (cur.reader === undefined) return;
        cur.reader = undefined;
        cur.late = true;
        reject(read.late());
      }, Math.max(0, read.until - clock.now()));
      if (this.socket.isPaused()) this.socket.resume();
    });
  }

  /** One answer, with the header block node:http would write for it. */
  private write(cur: Current, status: number, headers: Record<string, string>, content: string | Buffer): void {
    const socket = this.socket;
    if (cur.abandoned || cur.written || socket.destroyed || !socket.writable) return;
    cur.written = true;
    const close = this.last || cur.late;
    let head = `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'unknown'}\r\n`;
    for (const name in headers) head += `${name}: ${headers[name]}\r\n`;
    head += `Date: ${this.front.date()}\r\n`;
    head += close ? 'Connection: close\r\n\r\n' : `${this.front.keepAliveHeader}\r\n`;
    this.front.stats.served++;
    if (typeof content === 'string') {
      socket.write(head + content);
    } else {
      socket.cork();
      socket.write(head, 'latin1');
      socket.write(content);
      socket.uncork();
    }
    if (close) socket.end();
  }

  /** Gives the connection, and the bytes read so far (the current request's head too), to node:http. */
  private handoff(): void {
    const socket = this.socket;
    const cur = this.cur;
    this.release();
    for (const [event, fn] of this.listeners()) socket.off(event, fn);
    socket.setTimeout(0);
    let held = this.bytes();
    if (cur) {
      cur.abandoned = true;
      const r = cur.reader;
      cur.reader = undefined;
      r?.timer?.cancel();
      r?.reject(CLIENT_GONE);
      const body = r?.target ? r.target.subarray(0, r.filled) : EMPTY;
      held = Buffer.concat([cur.headBytes, body, held]);
    }
    this.cur = undefined;
    this.chunks = [];
    this.size = 0;
    this.front.stats.handedOff++;
    if (this.ended) {
      // The stream has ended, so nothing can be put back on it: node's listeners get the
      // bytes and the end directly, and answer (or reject) what was sent before the FIN.
      this.front.o.handoff(socket);
      if (held.length > 0) socket.emit('data', held);
      socket.emit('end');
      return;
    }
    // Paused while node attaches, so the bytes put back are read before any new ones.
    socket.pause();
    if (held.length > 0) socket.unshift(held);
    this.front.o.handoff(socket);
    socket.resume();
  }
}

/**
 * The body length of a request plain enough for the wire front, or undefined: no chunked
 * body, no `Expect`, no Content-Encoding but identity, a JSON or binary Content-Type (or
 * none), and a Content-Length within the body limit.
 */
export function plainBodyLength(h: PlainHeaders, bodyLimit: number): number | undefined {
  if (h['transfer-encoding'] !== undefined || h.expect !== undefined) return undefined;
  const enc = h['content-encoding'];
  if (enc !== undefined && enc !== 'identity') return undefined;
  const type = h['content-type'];
  if (type !== undefined && !CONTENT_TYPE.test(type)) return undefined;
  const cl = h['content-length'];
  if (cl === undefined || !LENGTH.test(cl)) return undefined;
  const length = Number(cl);
  return length > bodyLimit ? undefined : length;
}

/** The headers that decide whether a request is plain (lower-case names, one value each). */
export interface PlainHeaders {
  'transfer-encoding'?: string | undefined;
  expect?: string | undefined;
  'content-encoding'?: string | undefined;
  'content-type'?: string | undefined;
  'content-length'?: string | undefined;
}

const CONTENT_TYPE = /^application\/(json|octet-stream)(\s*;\s*charset=utf-8)?$/i;
const LENGTH = /^[0-9]{1,12}$/;

/** RFC 9110 token characters, the only ones allowed in a header name. */
const TOKEN = new Uint8Array(256);
for (const c of "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") TOKEN[c.charCodeAt(0)] = 1;

const CR = 13;
const LF = 10;
const SP = 32;
const TAB = 9;
const REQUEST_START = Buffer.from('POST /', 'latin1');
const VERSION = Buffer.from(' HTTP/1.1\r\n', 'latin1');
const HEAD_END = Buffer.from('\r\n\r\n', 'latin1');

/** The headers the wire front reads; a second copy of any of them sends the request to node. */
type Known = keyof PlainHeaders | 'host' | 'connection' | 'upgrade' | 'authorization' | 'inference-header-content-length';
const KNOWN = new Set<string>(['transfer-encoding', 'expect', 'content-encoding', 'content-type', 'content-length', 'host', 'connection', 'upgrade', 'authorization', 'inference-header-content-length']);
const KNOWN_LENGTHS = new Set([...KNOWN].map((k) => k.length));

/** The value of header `name` (lower case) in a head parseHead accepted, first copy; undefined without it. */
export function headerIn(buf: Buffer, headLength: number, name: string): string | undefined {
  let line = buf.indexOf(CR, 0) + 2;
  while (line < headLength - 2) {
    const eol = buf.indexOf(CR, line);
    if (eol < 0) return undefined;
    const colon = buf.indexOf(0x3a, line);
    if (colon > line && colon < eol && colon - line === name.length && buf.toString('latin1', line, colon).toLowerCase() === name) {
      let vs = colon + 1;
      while (vs < eol && (buf[vs] === SP || buf[vs] === TAB)) vs++;
      let ve = eol;
      while (ve > vs && (buf[ve - 1] === SP || buf[ve - 1] === TAB)) ve--;
      return buf.toString('latin1', vs, ve);
    }
    line = eol + 2;
  }
  return undefined;
}

/**
 * The head of a plain infer request at the start of `buf`, or undefined for anything
 * else — including a head that has not fully arrived — which node:http then reads.
 */
export function parseHead(buf: Buffer, bodyLimit: number): Head | undefined {
  if (buf.length < REQUEST_START.length || buf.compare(REQUEST_START, 0, REQUEST_START.length, 0, REQUEST_START.length) !== 0) return undefined;
  const end = buf.indexOf(HEAD_END, REQUEST_START.length - 1);
  if (end < 0 || end + 4 > MAX_HEAD) return undefined;
  // Request target: visible ASCII only, up to the single space before the version.
  let i = REQUEST_START.length - 1;
  while (i < end && buf[i]! > SP && buf[i]! < 127) i++;
  if (buf[i] !== SP || i + VERSION.length > buf.length || buf.compare(VERSION, 0, VERSION.length, i, i + VERSION.length) !== 0) return undefined;
  const url = buf.toString('latin1', REQUEST_START.length - 1, i);
  const path = inferPath(url);
  if (path === undefined) return undefined;
  const found: Partial<Record<Known, string>> = {};
  let line = i + VERSION.length;
  while (line < end + 2) {
    const eol = buf.indexOf(CR, line);
    if (eol < 0 || buf[eol + 1] !== LF) return undefined;
    // name ":" OWS value OWS, with a token name (no space before the colon, no obs-fold)
    let c = line;
    while (c < eol && TOKEN[buf[c]!] === 1) c++;
    if (c === line || buf[c] !== 0x3a) return undefined;
    let vs = c + 1;
    while (vs < eol && (buf[vs] === SP || buf[vs] === TAB)) vs++;
    let ve = eol;
    while (ve > vs && (buf[ve - 1] === SP || buf[ve - 1] === TAB)) ve--;
    for (let k = vs; k < ve; k++) {
      const b = buf[k]!;
      if ((b < SP && b !== TAB) || b === 127) return undefined;
    }
    if (KNOWN_LENGTHS.has(c - line)) {
      const name = buf.toString('latin1', line, c).toLowerCase();
      if (KNOWN.has(name)) {
        // The headers that frame or route the request: one copy, no trailing whitespace
        // (parsers differ on "7\t"), else node decides.
        if (found[name as Known] !== undefined || ve !== eol) return undefined;
        found[name as Known] = buf.toString('latin1', vs, ve);
      }
    }
    line = eol + 2;
  }
  if (found.host === undefined || found.host === '' || found.upgrade !== undefined) return undefined;
  if (found.connection !== undefined && found.connection.toLowerCase() !== 'keep-alive') return undefined;
  const bodyLength = plainBodyLength(found, bodyLimit);
  if (bodyLength === undefined) return undefined;
  // Header values are read as latin1, as node:http reads them.
  return { url, target: path, headLength: end + 4, bodyLength, authorization: found.authorization, inferenceHeader: found['inference-header-content-length'] };
}
