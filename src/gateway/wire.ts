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
import type { Logger } from '../log.js';
import { inferPath, plainBodyLength, LEAN_GONE, type InferTarget, type LeanExchange, type LeanServe, type PlainHeaders } from './lean-infer.js';

export interface WireOptions {
  serve: LeanServe;
  bodyLimit: number;
  /** Idle connections are closed after this long (node's keepAliveTimeout). */
  keepAliveTimeoutMs: number;
  /** True once the server is closing. */
  closing(): boolean;
  /** Gives a socket to node:http (its own connection listener). */
  handoff(socket: Socket): void;
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
/** Bytes held beyond the request being answered before the socket is paused. */
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

/** A parsed request head: where its body starts and what the lean path needs. */
interface Head {
  url: string;
  path: InferTarget;
  /** Bytes of the request line and headers, blank line included. */
  headLength: number;
  bodyLength: number;
  authorization: string | undefined;
  inferenceHeader: string | undefined;
}

const EMPTY = Buffer.alloc(0);

class WireConn {
  /** Bytes received and not yet parsed, in arrival order. */
  private chunks: Buffer[] = [];
  private size = 0;
  private head: Head | undefined;
  /** A request is being answered. */
  private busy = false;
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
    this.chunks.push(chunk);
    this.size += chunk.length;
    if (!this.busy && !this.draining) this.pump();
    else if (this.size > HOLD + (this.head ? this.head.headLength + this.head.bodyLength : 0)) this.socket.pause();
  };

  private readonly onEnd = (): void => {
    this.ended = true;
    if (!this.busy && !this.draining) this.pump();
  };

  private readonly onError = (): void => {
    // A reset or a write to a closed socket; 'close' follows and releases the connection.
    this.socket.destroy();
  };

  private readonly onClose = (): void => {
    this.release();
  };

  private readonly onTimeout = (): void => {
    // Node's keepAliveTimeout: a connection with nothing in progress is closed. An answer
    // in progress is bounded by the deployment's own request timeout.
    if (!this.busy) this.socket.destroy();
  };

  private readonly onDrain = (): void => {
    if (!this.draining) return;
    this.draining = false;
    this.pump();
  };

  shutdown(): void {
    if (this.busy || this.draining) this.last = true;
    else if (this.size === 0) this.socket.destroy();
    else this.handoff(); // a request in the making: node answers it (503, Connection: close)
  }

  private release(): void {
    if (this.released) return;
    this.released = true;
    this.front.release(this);
  }

  /** The unparsed bytes as one buffer. */
  private bytes(): Buffer {
    if (this.chunks.length === 0) return EMPTY;
    if (this.chunks.length > 1) this.chunks = [Buffer.concat(this.chunks, this.size)];
    return this.chunks[0]!;
  }

  /** Reads and answers requests until one is incomplete, unusual, or being answered. */
  private pump(): void {
    while (!this.busy && !this.draining && !this.released) {
      if (this.size === 0) {
        if (this.last) this.socket.end();
        else if (this.ended) this.socket.end();
        else if (this.socket.isPaused()) this.socket.resume();
        return;
      }
      if (this.front.o.closing()) return this.handoff();
      if (this.head === undefined) {
        const head = parseHead(this.bytes(), this.front.o.bodyLimit);
        if (head === undefined) return this.handoff();
        this.head = head;
      }
      const total = this.head.headLength + this.head.bodyLength;
      if (this.size < total) {
        // Wait for the rest of the body (the keep-alive timeout closes a stalled one).
        if (this.ended) return this.handoff(); // node rejects a body cut short, as it always has
        if (this.socket.isPaused()) this.socket.resume();
        return;
      }
      const buf = this.bytes();
      const body = buf.subarray(this.head.headLength, total);
      this.size -= total;
      this.chunks = this.size === 0 ? [] : [buf.subarray(total)];
      const head = this.head;
      this.head = undefined;
      this.busy = true;
      this.front.o.serve(this.exchange(head, body)).then(this.answered, (err: unknown) => {
        // serve answers every error itself; this is only a last guard for the process.
        this.front.o.logger.error({ err, url: head.url }, 'wire front failed');
        this.socket.destroy();
      });
    }
  }

  private readonly answered = (): void => {
    this.busy = false;
    if (this.socket.destroyed || this.last) return; // the last answer ended the connection
    if (this.socket.writableNeedDrain) this.draining = true;
    else this.pump();
  };

  private exchange(head: Head, body: Buffer): LeanExchange {
    const socket = this.socket;
    return {
      url: head.url, path: head.path, ip: this.ip, authorization: head.authorization, inferenceHeader: head.inferenceHeader, socket,
      body: () => (socket.destroyed ? Promise.reject(LEAN_GONE) : Promise.resolve(body)),
      answer: (status, headers, content) => this.write(status, headers, content),
      gone: () => socket.destroyed,
    };
  }

  /** One answer, with the header block node:http would write for it. */
  private write(status: number, headers: Record<string, string>, content: string | Buffer): void {
    const socket = this.socket;
    if (socket.destroyed || !socket.writable) return;
    let head = `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'unknown'}\r\n`;
    for (const name in headers) head += `${name}: ${headers[name]}\r\n`;
    head += `Date: ${this.front.date()}\r\n`;
    head += this.last ? 'Connection: close\r\n\r\n' : `${this.front.keepAliveHeader}\r\n`;
    this.front.stats.served++;
    if (typeof content === 'string') {
      socket.write(head + content);
    } else {
      socket.cork();
      socket.write(head, 'latin1');
      socket.write(content);
      socket.uncork();
    }
    if (this.last) socket.end();
  }

  /** Gives the connection, and the bytes read so far, to node:http. */
  private handoff(): void {
    const socket = this.socket;
    this.release();
    for (const [event, fn] of this.listeners()) socket.off(event, fn);
    socket.setTimeout(0);
    const held = this.bytes();
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
  return { url, path, headLength: end + 4, bodyLength, authorization: found.authorization, inferenceHeader: found['inference-header-content-length'] };
}
