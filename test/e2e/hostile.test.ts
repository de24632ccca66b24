/**
 * Issue 3: hostile input that is not a malformed request — slow clients, idle
 * connections by the thousand, absurd nesting, and a bounded fuzz test. Each leaves the
 * gateway serving correct answers.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { connect } from 'node:net';
import { createInterface } from 'node:readline';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Pool, request } from 'undici';
import { seeded } from '../../src/gateway/balancers/balancer.case.js';
import { encodeInferRequest } from '../../src/runtime/codec/index.js';
import { startProject, type Project } from '../helpers/project.js';
import { inferBody } from '../helpers/credit-risk.js';

let p: Project;
let expected: number;
const validJson = JSON.stringify(inferBody());

async function infer(): Promise<number> {
  const res = await request(`${p.url}/v2/models/credit-risk/infer`, { method: 'POST', body: validJson });
  const body = await res.body.json() as { outputs: { data: number[] }[] };
  assert.equal(res.statusCode, 200);
  return body.outputs[0]!.data[0]!;
}

before(async () => {
  p = await startProject({ replicas: 1, yaml: 'server: { headersTimeout: 1s, bodyLimit: 1MiB }' });
  expected = await infer();
});
after(() => p.close());

test('a client that never finishes its headers is disconnected after headersTimeout', async () => {
  const port = Number(new URL(p.url).port);
  const socket = connect({ host: '127.0.0.1', port });
  await new Promise((r) => socket.once('connect', r));
  socket.write('POST /v2/models/credit-risk/infer HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 10\r\n');
  const started = Date.now();
  let received = '';
  socket.on('data', (d: Buffer) => { received += d.toString(); });
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('the slow client was not disconnected within 15 s')), 15_000);
    socket.once('close', () => { clearTimeout(t); resolve(); });
  });
  assert.ok(Date.now() - started < 15_000);
  if (received) assert.match(received, /^HTTP\/1\.1 408/);
  assert.equal(await infer(), expected);
});

test('10,000 idle connections neither stop service nor stay open forever', async () => {
  const port = new URL(p.url).port;
  const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('../helpers/idle-connections.ts', import.meta.url)), '127.0.0.1', port, '10000'], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout! });
  const next = () => new Promise<Record<string, number>>((resolve) => lines.once('line', (l) => resolve(JSON.parse(l) as Record<string, number>)));
  try {
    const opened = await next();
    console.log(`hostile: ${opened.open} idle connections open, ${opened.failed} refused`);
    assert.equal(opened.open! + opened.failed!, 10_000);
    assert.ok(opened.open! >= 9_000, `only ${opened.open} connections opened`);
    // Serving continues with every idle connection held open.
    const answers = await Promise.all(Array.from({ length: 20 }, infer));
    assert.ok(answers.every((a) => a === expected));
    // The gateway closes connections that never send a request (headersTimeout 1 s).
    const serverConnections = () => new Promise<number>((resolve, reject) => p.aloft.server.getConnections((err, n) => (err ? reject(err) : resolve(n))));
    let remaining = await serverConnections();
    const end = Date.now() + 30_000;
    while (remaining > 30 && Date.now() < end) {
      await new Promise((r) => setTimeout(r, 250));
      remaining = await serverConnections();
    }
    child.stdin!.write('report\n');
    const { closed } = await next();
    console.log(`hostile: ${remaining} connections left on the server (this test's own keep-alive connections); the client saw ${closed} of ${opened.open} closed`);
    // What stays open on the server is this test's own keep-alive pool (20 concurrent
    // inferences, plus earlier tests'). The client's count is reported, not asserted: a
    // socket that overflowed the kernel's accept queue looks open to the client but never
    // reached the server, and nothing tells the client (it never sends a byte).
    assert.ok(remaining <= 30, `${remaining} connections still open on the server`);
    assert.ok(closed! > 0);
    assert.equal(await infer(), expected);
  } finally {
    child.stdin!.end();
    child.kill();
  }
});

test('JSON nested 100,000 levels deep is refused with 400', async () => {
  const deep = `{"inputs":[{"name":"features","datatype":"FP32","shape":[1,22],"data":${'['.repeat(100_000)}1${']'.repeat(100_000)}}]}`;
  const res = await request(`${p.url}/v2/models/credit-risk/infer`, { method: 'POST', body: deep });
  const body = await res.body.json() as { error: string };
  assert.equal(res.statusCode, 400);
  assert.equal(typeof body.error, 'string');
  assert.equal(await infer(), expected);
});

test('fuzz: 3,000 mutated requests (fixed seed) get no 500 and no crash', async () => {
  const random = seeded(20261122);
  const int = (n: number) => Math.floor(random() * n);
  const binary = encodeInferRequest([{ name: 'features', datatype: 'FP32', shape: [1, 22], data: new Float32Array(22).fill(0.5) }], { binary: true, binaryOutput: true });
  const seeds = [Buffer.from(validJson), binary.body];
  const tokens = ['null', 'NaN', '-1', '1e309', '"x"', '[]', '{}', 'true', '"FP64"', '"BYTES"', '[1,22]', '[0]', '[-1]', '9007199254740993', '"\\u0000"'];
  function mutate(base: Buffer): Buffer {
    let b = Buffer.from(base);
    const rounds = 1 + int(4);
    for (let r = 0; r < rounds; r++) {
      const at = int(Math.max(1, b.length));
      switch (int(6)) {
        case 0: b[at] = int(256); break;
        case 1: b = Buffer.concat([b.subarray(0, at), b.subarray(Math.min(b.length, at + 1 + int(20)))]); break;
        case 2: b = Buffer.concat([b.subarray(0, at), Buffer.from(Array.from({ length: 1 + int(8) }, () => int(256))), b.subarray(at)]); break;
        case 3: b = b.subarray(0, at); break;
        case 4: b = Buffer.concat([b.subarray(0, at), Buffer.from(tokens[int(tokens.length)]!), b.subarray(at)]); break;
        default: b = Buffer.concat([b, b.subarray(0, int(b.length))]); break;
      }
    }
    return b;
  }
  const pool = new Pool(p.url, { connections: 8 });
  const statuses = new Map<number, number>();
  const failures: string[] = [];
  let i = 0;
  const worker = async () => {
    while (i < 3000) {
      const n = i++;
      const useBinary = n % 2 === 1;
      const body = mutate(seeds[useBinary ? 1 : 0]!);
      const headers: Record<string, string> = { ...p.headers };
      if (useBinary) headers['inference-header-content-length'] = String(n % 7 === 0 ? int(body.length + 50) : binary.headerLength);
      const res = await pool.request({ method: 'POST', path: '/v2/models/credit-risk/infer', headers, body });
      const text = await res.body.text();
      statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1);
      if (res.statusCode >= 500) failures.push(`#${n} ${res.statusCode} ${text.slice(0, 200)}`);
      else if (res.statusCode !== 200) {
        let parsed: unknown;
        try { parsed = JSON.parse(text); } catch { failures.push(`#${n} ${res.statusCode} body is not JSON: ${text.slice(0, 100)}`); continue; }
        if (typeof (parsed as { error?: unknown }).error !== 'string') failures.push(`#${n} ${res.statusCode} no error field`);
      }
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  await pool.close();
  console.log(`fuzz: statuses ${JSON.stringify(Object.fromEntries(statuses))}`);
  assert.deepEqual(failures, []);
  assert.equal([...statuses.values()].reduce((a, b) => a + b, 0), 3000);
  // The mutations must reach the decoder: some survive as valid requests, none is refused at the door.
  assert.equal(statuses.get(401) ?? 0, 0, 'fuzz requests must carry a key, or they only test authentication');
  assert.ok((statuses.get(200) ?? 0) > 0 && (statuses.get(400) ?? 0) > 1000, JSON.stringify(Object.fromEntries(statuses)));
  assert.equal(await infer(), expected);
});
