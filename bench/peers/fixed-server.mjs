/**
 * The bare HTTP ceiling: node:http reads the whole request body and answers one fixed
 * response (a real inference response, so its size is realistic). No parsing, no model.
 *
 * Usage: node bench/peers/fixed-server.mjs --response <file> [--port 0]
 * Prints one line `{"event":"ready","url":"http://127.0.0.1:N","pid":N}` when listening.
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { response: { type: 'string' }, port: { type: 'string', default: '0' } } });
if (!values.response) throw new Error('usage: fixed-server.mjs --response <file> [--port N]');
const body = readFileSync(values.response);
const headers = { 'content-type': 'application/json', 'content-length': String(body.length) };

const server = createServer((req, res) => {
  req.on('data', () => undefined);
  req.on('end', () => {
    res.writeHead(200, headers);
    res.end(body);
  });
});
server.keepAliveTimeout = 60_000;
server.listen(Number(values.port), '127.0.0.1', () => {
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  process.stdout.write(`${JSON.stringify({ event: 'ready', url: `http://127.0.0.1:${port}`, pid: process.pid })}\n`);
});
const stop = () => { server.close(() => process.exit(0)); server.closeAllConnections(); };
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
