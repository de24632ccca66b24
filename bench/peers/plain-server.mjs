/**
 * The peer a user would write by hand: node:http + onnxruntime-node, one request = one
 * inference, JSON.parse the body, answer JSON in the Open Inference Protocol's shape.
 * No batching, no validation beyond what a careful hand-written server does.
 *
 * Usage: node bench/peers/plain-server.mjs --model <file.onnx> --name <model> [--port 0]
 * Prints one line `{"event":"ready","url":"http://127.0.0.1:N","pid":N}` when listening.
 */
import { createServer } from 'node:http';
import { parseArgs } from 'node:util';
import { InferenceSession, Tensor } from 'onnxruntime-node';

const { values } = parseArgs({ options: { model: { type: 'string' }, name: { type: 'string' }, port: { type: 'string', default: '0' } } });
if (!values.model || !values.name) throw new Error('usage: plain-server.mjs --model <file.onnx> --name <model> [--port N]');
const name = values.name;

const session = await InferenceSession.create(values.model);
const inferPath = `/v2/models/${name}/infer`;

function send(res, status, body) {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

async function infer(req, res) {
  const chunks = [];
  for await (const c of req) chunks.push(c);
  let inputs;
  try {
    inputs = JSON.parse(Buffer.concat(chunks).toString('utf8')).inputs;
    if (!Array.isArray(inputs)) throw new Error("no 'inputs' array");
  } catch (err) {
    send(res, 400, { error: `bad request: ${err.message}` });
    return;
  }
  const feeds = {};
  for (const input of inputs) feeds[input.name] = new Tensor('float32', Float32Array.from(input.data), input.shape);
  let results;
  try {
    results = await session.run(feeds);
  } catch (err) {
    send(res, 400, { error: err.message });
    return;
  }
  send(res, 200, {
    model_name: name,
    model_version: '1',
    outputs: session.outputNames.map((o) => {
      const t = results[o];
      return { name: o, datatype: 'FP32', shape: t.dims, data: Array.from(t.data) };
    }),
  });
}

const server = createServer((req, res) => {
  if (req.method === 'POST' && req.url === inferPath) {
    infer(req, res).catch((err) => send(res, 500, { error: String(err) }));
    return;
  }
  if (req.method === 'GET' && req.url === '/v2/health/ready') {
    res.writeHead(200).end();
    return;
  }
  send(res, 404, { error: 'not found' });
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
