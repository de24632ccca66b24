import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import Fastify from 'fastify';
const { values } = parseArgs({ options: { response: { type: 'string' }, port: { type: 'string', default: '0' } } });
const body = readFileSync(values.response);
const app = Fastify({ logger: false, keepAliveTimeout: 60_000 });
app.removeAllContentTypeParsers();
app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, b, done) => done(null, b));
const mode = process.env.FF_MODE ?? 'async';
const headers = { 'content-type': 'application/json', 'content-length': String(body.length) };
if (mode === 'async') app.post('/v2/models/:name/infer', async (req, reply) => { reply.header('content-type', 'application/json'); return reply.send(body); });
if (mode === 'sync') app.post('/v2/models/:name/infer', (req, reply) => { reply.header('content-type', 'application/json'); reply.send(body); });
if (mode === 'hijack') app.post('/v2/models/:name/infer', (req, reply) => { reply.hijack(); reply.raw.writeHead(200, headers); reply.raw.end(body); });
if (mode === 'hooks-cb') {
  app.addHook('onRequest', (req, reply, done) => done());
  app.addHook('preHandler', (req, reply, done) => done());
  app.addHook('preParsing', (req, reply, payload, done) => done(null, payload));
  app.post('/v2/models/:name/infer', { onResponse: (req, reply, done) => done() }, async (req, reply) => { reply.header('content-type', 'application/json'); return reply.send(body); });
}
if (mode === 'hooks') {
  app.addHook('onRequest', async () => {});
  app.addHook('preHandler', async () => {});
  app.addHook('preParsing', async (req, reply, payload) => payload);
  app.post('/v2/models/:name/infer', { onResponse: async () => {} }, async (req, reply) => { reply.header('content-type', 'application/json'); return reply.send(body); });
}
await app.listen({ host: '127.0.0.1', port: 0 });
const port = app.server.address().port;
process.stdout.write(`${JSON.stringify({ event: 'ready', url: `http://127.0.0.1:${port}`, pid: process.pid })}\n`);
process.once('SIGTERM', () => app.close().then(() => process.exit(0)));

