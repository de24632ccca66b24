/**
 * The fixed-answer ceiling without node:http: the same fixed response as fixed-server.mjs,
 * from a minimal HTTP/1.1 reader on raw node:net sockets (request line and headers up to
 * the blank line, then a Content-Length body; keep-alive; one pre-built response). It is
 * not a usable server: no chunked bodies, no header validation, no timeouts. Beside
 * fixed-server.mjs it shows what node:http's own machinery costs per request on this
 * machine, an upper bound on what a leaner HTTP layer could save.
 *
 * Usage: node bench/peers/socket-fixed-server.mjs --response <file> [--port 0]
 * Prints one line `{"event":"ready","url":"http://127.0.0.1:N","pid":N}` when listening.
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { response: { type: 'string' }, port: { type: 'string', default: '0' } } });
if (!values.response) throw new Error('usage: socket-fixed-server.mjs --response <file> [--port N]');
const body = readFileSync(values.response);
const head = `HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\nConnection: keep-alive\r\nKeep-Alive: timeout=60\r\n`;
let date = '';
let answer = Buffer.alloc(0);
// A Date header, as node:http sends, rebuilt once a second.
const refresh = () => {
  date = new Date().toUTCString();
  answer = Buffer.concat([Buffer.from(`${head}Date: ${date}\r\n\r\n`, 'latin1'), body]);
};
refresh();
setInterval(refresh, 1000).unref();

const HEADERS_END = Buffer.from('\r\n\r\n');
const MAX_HEADER_BYTES = 16 * 1024;

const server = createServer((socket) => {
  socket.setNoDelay(true);
  let pending = null;
  let bodyLeft = -1; // -1: reading headers
  socket.on('data', (chunk) => {
    pending = pending === null ? chunk : Buffer.concat([pending, chunk]);
    for (;;) {
      if (bodyLeft < 0) {
        const end = pending.indexOf(HEADERS_END);
        if (end < 0) {
          if (pending.length > MAX_HEADER_BYTES) socket.destroy();
          return;
        }
        const headers = pending.toString('latin1', 0, end).toLowerCase();
        const at = headers.indexOf('\r\ncontent-length:');
        let length = 0;
        if (at >= 0) {
          const eol = headers.indexOf('\r\n', at + 2);
          length = Number(headers.slice(at + 17, eol < 0 ? undefined : eol).trim());
        }
        if (!Number.isSafeInteger(length) || length < 0) {
          socket.destroy();
          return;
        }
        pending = pending.subarray(end + 4);
        bodyLeft = length;
      }
      if (pending.length < bodyLeft) return;
      pending = pending.subarray(bodyLeft);
      bodyLeft = -1;
      socket.write(answer);
      if (pending.length === 0) {
        pending = null;
        return;
      }
    }
  });
  socket.on('error', () => undefined);
});
server.listen(Number(values.port), '127.0.0.1', () => {
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  process.stdout.write(`${JSON.stringify({ event: 'ready', url: `http://127.0.0.1:${port}`, pid: process.pid })}\n`);
});
const stop = () => process.exit(0);
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
