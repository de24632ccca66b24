/**
 * The fixed-answer ceiling on Fastify instead of bare node:http: the same fixed response
 * as fixed-server.mjs, through a Fastify route with a raw-body parser for every
 * Content-Type and `--hooks` no-op async hooks (default 4, as many as Aloft's gateway runs
 * on an inference request: onRequest, preParsing, preHandler, onResponse). Beside
 * fixed-server.mjs it shows what the framework costs per request on this machine, the
 * reason inference requests take Aloft's node front (src/gateway/fronts/node.ts).
 *
 * Usage: node bench/peers/fastify-fixed-server.mjs --response <file> [--hooks 4] [--port 0]
 * Prints one line `{"event":"ready","url":"http://127.0.0.1:N","pid":N}` when listening.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import Fastify from 'fastify';

const { values } = parseArgs({ options: { response: { type: 'string' }, hooks: { type: 'string', default: '4' }, port: { type: 'string', default: '0' } } });
if (!values.response) throw new Error('usage: fastify-fixed-server.mjs --response <file> [--hooks 4] [--port N]');
const hooks = Number(values.hooks);
if (!Number.isInteger(hooks) || hooks < 0 || hooks > 4) throw new Error('--hooks takes 0..4');
const body = readFileSync(values.response);

const app = Fastify({ logger: false, keepAliveTimeout: 60_000 });
app.removeAllContentTypeParsers();
app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, b, done) => done(null, b));
if (hooks >= 1) app.addHook('onRequest', async () => undefined);
if (hooks >= 2) app.addHook('preParsing', async (_req, _reply, payload) => payload);
if (hooks >= 3) app.addHook('preHandler', async () => undefined);
const route = hooks >= 4 ? { onResponse: async () => undefined } : {};
app.post('/v2/models/:name/infer', route, async (_req, reply) => reply.header('content-type', 'application/json').send(body));

await app.listen({ host: '127.0.0.1', port: Number(values.port) });
const addr = app.server.address();
const port = typeof addr === 'object' && addr ? addr.port : 0;
process.stdout.write(`${JSON.stringify({ event: 'ready', url: `http://127.0.0.1:${port}`, pid: process.pid })}\n`);
const stop = () => { void app.close().then(() => process.exit(0)); };
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
