/**
 * The nats capture sink against a real NATS with JetStream: the one on 127.0.0.1:4222 for
 * delivery (exactly once, retries included), and a nats-server this test starts and kills
 * for an outage (writes fail within their timeout and are counted; the observer never waits).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { connect } from 'nats';
import { systemClock } from '../../clock.js';
import { silentLogger } from '../../log.js';
import { captureSchema } from '../../spec/schema.js';
import type { CaptureSpec } from '../../spec/types.js';
import { aadOf, Capture, PlainCapture } from './capture.js';
import { KeyRing } from './crypto.js';
import { NatsSink } from './nats.js';

const KEY = randomBytes(32).toString('base64');
const ring = new KeyRing(KEY);
const record = (d: string, i: number) => new PlainCapture({ deployment: d, id: `r-${i}`, at: Date.UTC(2026, 0, 1, 0, 0, i), version: 1 }, Buffer.from(`{"i":${i}}`), ring);

async function reachable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(true));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(false)));
  });
}

const natsUp = await reachable(4222);

test('every record reaches a JetStream consumer exactly once, a retried batch included', { skip: natsUp ? false : 'no NATS on 127.0.0.1:4222 (the machine runs one; start it with nats-server -js)', timeout: 60_000 }, async () => {
  const tag = randomBytes(4).toString('hex');
  const stream = `ALOFT_TEST_${tag}`;
  const subject = `aloft.test${tag}`;
  const sink = new NatsSink({ url: 'nats://127.0.0.1:4222', stream, subject, logger: silentLogger });
  const nc = await connect({ servers: 'nats://127.0.0.1:4222' });
  try {
    const batch = Array.from({ length: 300 }, (_, i) => record('credit-risk', i));
    await sink.write(batch);
    await sink.write(batch.slice(0, 50)); // a retry after a failure seen half-way: duplicates
    const consumer = await nc.jetstream().consumers.get(stream);
    const seen = new Map<string, number>();
    for (let round = 0; round < 10 && seen.size < 300; round++) {
      const messages = await consumer.fetch({ max_messages: 500, expires: 1000 });
      for await (const m of messages) {
        const body = JSON.parse(m.string()) as { deployment: string; id: string; kid: string; data: string };
        assert.equal(m.subject, `${subject}.credit-risk`);
        assert.equal(ring.open({ kid: body.kid, data: body.data }, aadOf(body.deployment, body.id)).toString(), `{"i":${body.id.slice(2)}}`);
        seen.set(body.id, (seen.get(body.id) ?? 0) + 1);
      }
    }
    assert.equal(seen.size, 300, 'every record');
    assert.ok([...seen.values()].every((n) => n === 1), 'each once: JetStream dropped the retried duplicates by message id');
    const info = await (await nc.jetstreamManager()).streams.info(stream);
    assert.equal(info.state.messages, 300);
  } finally {
    await sink.close();
    await (await nc.jetstreamManager()).streams.delete(stream).catch(() => undefined);
    await nc.close();
  }
});

test('with NATS gone, writes fail within their timeout and are counted; capturing never waits', { timeout: 60_000 }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'aloft-nats-'));
  const port = 20000 + Math.floor(Math.random() * 20000);
  const server = spawn('nats-server', ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', dir], { stdio: 'ignore' });
  const spawned = await new Promise<boolean>((resolve) => { server.once('error', () => resolve(false)); server.once('spawn', () => resolve(true)); });
  if (!spawned) {
    t.skip('nats-server is not installed (apt-get install nats-server)');
    return;
  }
  try {
    for (let i = 0; i < 100 && !(await reachable(port)); i++) await new Promise((r) => setTimeout(r, 50));
    const spec = captureSchema.parse({ key: KEY, sinks: ['nats'], buffer: 50 }) as CaptureSpec;
    const sink = new NatsSink({ url: `nats://127.0.0.1:${port}`, stream: 'ALOFT_CAPTURE', subject: 'aloft.capture', logger: silentLogger, timeoutMs: 500 });
    const capture = new Capture({ clock: systemClock, logger: silentLogger, config: () => ({ capture: spec }), sinks: [], sinksFor: () => [sink], flushMs: 10 });
    const observe = capture.observer();
    const tensor = { name: 'x', datatype: 'FP32' as const, shape: [1, 1], data: Float32Array.of(1) };
    const obs = (id: string) => ({ deployment: 'd', version: 1, model: 'm', status: 200, totalMs: 1, at: Date.now(), requestId: id, inputs: [tensor], outputs: [tensor] });
    for (let i = 0; i < 20; i++) observe(obs(`up-${i}`));
    await capture.flush();
    assert.equal(capture.counts()[0]!.counts.written.nats, 20, 'written while NATS is up');
    server.kill('SIGKILL');
    await new Promise((r) => server.once('exit', r));
    const t0 = performance.now();
    for (let i = 0; i < 1000; i++) observe(obs(`down-${i}`));
    const observeMs = performance.now() - t0;
    t.diagnostic(`1000 observations with NATS down took ${observeMs.toFixed(1)} ms in all`);
    await capture.flush();
    const c = capture.counts()[0]!.counts;
    t.diagnostic(`with NATS down: ${c.droppedFull} dropped (queue full), ${c.droppedSink} dropped (sink error), ${c.written.nats} written in all`);
    assert.equal(c.written.nats, 20, 'nothing more written');
    assert.equal(c.droppedFull + c.droppedSink, 1000, 'every record while NATS was down is counted as dropped');
    assert.ok(c.droppedSink > 0, 'the sink failed, it did not hang');
    await capture.close();
  } finally {
    server.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  }
});
