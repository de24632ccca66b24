/**
 * Capture without servers: records are redacted, hashed and sealed; keys rotate; a stalled
 * sink costs a bounded queue and counted drops, never a blocked observer. Then the store
 * sink and the feedback join on SQLite and PostgreSQL. Nothing sleeps: the flush timer is
 * on a ManualClock.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import { ManualClock } from '../../clock.js';
import { isAloftError } from '../../errors.js';
import type { Observation } from '../../gateway/observe.js';
import { silentLogger } from '../../log.js';
import type { Tensor } from '../../runtime/tensor.js';
import { captureSchema } from '../../spec/schema.js';
import type { CaptureSpec } from '../../spec/types.js';
import type { Store } from '../../store/db.js';
import { freshDatabaseEach, testDialects } from '../../store/testing/databases.js';
import { aadOf, Capture, PlainCapture, type CaptureSink } from './capture.js';
import { KeyRing, keyId } from './crypto.js';
import { buildRecord, ByteWriter, decodeParts, encodeParts, hashStored, partsOf, readHead, readRecord, recordOf, writeSource, type CaptureRecord } from './record.js';
import { CaptureStore, decodeBlock, encodeBlock, type StoredCapture } from './store.js';

const KEY = randomBytes(32).toString('base64');
const OTHER = randomBytes(32).toString('base64');
const spec = (o: Record<string, unknown> = {}): CaptureSpec => captureSchema.parse({ key: KEY, redact: ['income'], hash: ['region'], hashKey: 'a-secret-of-16-chars', ...o }) as CaptureSpec;
const FEATURES = [{ name: 'age', kind: 'numeric' as const }, { name: 'income', kind: 'numeric' as const }, { name: 'region', kind: 'categorical' as const }];
const inputs = (...rows: number[][]): Tensor[] => [{ name: 'x', datatype: 'FP32', shape: [rows.length, 3], data: Float32Array.from(rows.flat()) }];
const outputs = (...ps: number[]): Tensor[] => [{ name: 'p', datatype: 'FP32', shape: [ps.length, 1], data: Float32Array.from(ps) }];

function obs(id: string, o: Partial<Observation> = {}): Observation {
  return { deployment: 'd', version: 1, model: 'm', status: 200, totalMs: 2, at: Date.UTC(2026, 0, 1), requestId: id, inputs: inputs([31, 98765.5, 3]), outputs: outputs(0.25), ...o };
}

test('a record names the columns, leaves redacted features out, hashes hashed ones (equal values, equal hashes) and keeps the outputs', () => {
  const r = buildRecord({ id: 'r-1', at: 0, deployment: 'd', version: 2, model: 'm', key: 'app', latencyMs: 1.23456, inputs: inputs([31, 98765.5, 3], [40, 1000, 3], [50, 7, 4]), outputs: outputs(0.1, 0.2, Number.NaN) }, spec(), FEATURES);
  assert.deepEqual(r.rows.map((x) => Object.keys(x)), [['age', 'region'], ['age', 'region'], ['age', 'region']]);
  assert.equal(r.rows[0]!.region, r.rows[1]!.region, 'equal values hash equally, so they still join');
  assert.notEqual(r.rows[0]!.region, r.rows[2]!.region);
  assert.match(String(r.rows[0]!.region), /^hmac:[0-9a-f]{32}$/);
  assert.deepEqual(r.outputs.p, { shape: [3, 1], data: [Math.fround(0.1), Math.fround(0.2), null] }, 'NaN is stored as null');
  assert.equal(r.latencyMs, 1.235);
  const unnamed = buildRecord({ id: 'r', at: 0, deployment: 'd', version: 1, model: 'm', key: 'k', latencyMs: 1, inputs: inputs([1, 2, 3]), outputs: outputs(0) }, spec({ redact: [], hash: [] }), undefined);
  assert.deepEqual(Object.keys(unnamed.rows[0]!), ['input[0]', 'input[1]', 'input[2]']);
});

test('the stored form keeps every datatype, reads back as the record, leaves redacted values out of its bytes and hashed ones out once hashed', () => {
  const src = {
    id: 'r-ü', at: Date.UTC(2026, 0, 1, 12), deployment: 'd', version: 3, model: 'm', key: 'app', latencyMs: 4.56789,
    inputs: [
      { name: 'x', datatype: 'FP32', shape: [2, 3], data: Float32Array.from([31, 98765.5, 3, 40, 1000.25, Number.POSITIVE_INFINITY]) },
      { name: 'ids', datatype: 'INT64', shape: [3], data: BigInt64Array.from([7n, -9n, 2n ** 62n + 1n]) },
      { name: 'flag', datatype: 'BOOL', shape: [2], data: Uint8Array.from([1, 0]) },
      { name: 'text', datatype: 'BYTES', shape: [2], data: [Buffer.from('héllo'), Buffer.from('')] },
    ],
    outputs: [
      { name: 'p', datatype: 'FP64', shape: [2, 1], data: Float64Array.from([0.125, Number.NaN]) },
      { name: 'c', datatype: 'UINT8', shape: [2], data: Uint8Array.from([2, 255]) },
    ],
  } as const;
  const s = spec();
  const stored = encodeParts(partsOf(src as never, s, FEATURES));
  for (const [what, x, sp] of [['redacted', src, s], ['nothing redacted', src, spec({ redact: [] })], ['no input', { ...src, inputs: [] }, s], ['BYTES first input', { ...src, inputs: [src.inputs[3], src.inputs[0]] }, spec({ redact: [], hash: [] })]] as const) {
    const w = new ByteWriter(8);
    writeSource(w, x as never, sp, FEATURES);
    assert.deepEqual(w.buf.subarray(0, w.n), encodeParts(partsOf(x as never, sp, FEATURES)), `the gateway's writer and the parts' writer agree byte for byte (${what})`);
  }
  assert.equal(stored.indexOf(Buffer.from(Float32Array.from([98765.5]).buffer)), -1, 'a redacted value never reaches the stored form');
  assert.notEqual(stored.indexOf(Buffer.from(Float32Array.from([3]).buffer)), -1, 'a hashed value is there until the writer hashes it');
  const hashed = hashStored(stored, s);
  assert.equal(hashed.indexOf(Buffer.from(Float32Array.from([3]).buffer)), -1, 'and gone once hashed');
  assert.deepEqual(readHead(hashed), { id: 'r-ü', at: src.at, deployment: 'd', version: 3 });
  const r = readRecord(hashed);
  assert.deepEqual(r, buildRecord(src as never, s, FEATURES));
  assert.deepEqual(r.rows, [{ age: 31, region: r.rows[0]!.region }, { age: 40, region: r.rows[1]!.region }]);
  assert.match(String(r.rows[1]!.region), /^hmac:[0-9a-f]{32}$/, 'a non-finite value hashes as null, as before');
  assert.deepEqual(r.inputs, { ids: { shape: [3], data: [7, -9, '4611686018427387905'] }, flag: { shape: [2], data: [1, 0] }, text: { shape: [2], data: ['héllo', ''] } });
  assert.deepEqual(r.outputs, { p: { shape: [2, 1], data: [0.125, null] }, c: { shape: [2], data: [2, 255] } });
  assert.equal(r.at, '2026-01-01T12:00:00.000Z');
  assert.equal(r.latencyMs, 4.568);
  assert.equal(hashStored(stored, spec({ hash: [] })), stored, 'nothing to hash: the same bytes, not a copy');
  const noInput = recordOf(decodeParts(encodeParts(partsOf({ ...src, inputs: [] } as never, s, FEATURES))));
  assert.deepEqual(noInput.rows, []);
  // Records written as JSON text (before the stored form) still read.
  const legacy: CaptureRecord = { id: 'old', at: '2026-01-01T00:00:00.000Z', deployment: 'd', version: 1, model: 'm', key: 'k', latencyMs: 1, rows: [{ age: 1 }], outputs: { p: { shape: [1, 1], data: [0.5] } } };
  assert.deepEqual(readRecord(Buffer.from(JSON.stringify(legacy))), legacy);
  assert.throws(() => readRecord(Buffer.from([0xac, 1, 5])), /cut off/);
});

test('a prediction whose record cannot be encoded is dropped and counted; the others are written', async () => {
  const clock = new ManualClock(0);
  const written: PlainCapture[] = [];
  const sink: CaptureSink = { name: 'store', write: async (b) => { written.push(...b); } };
  const capture = new Capture({ clock, logger: silentLogger, sinks: [sink], config: () => ({ capture: spec(), features: FEATURES }) });
  const observe = capture.observer();
  observe(obs('ok-1'));
  observe(obs('too-long', { model: 'm'.repeat(70_000) }));
  observe(obs('ok-2'));
  await capture.flush();
  assert.deepEqual(written.map((w) => w.id), ['ok-1', 'ok-2']);
  const c = capture.counts()[0]!.counts;
  assert.equal(c.droppedSink, 1);
  assert.equal(c.written.store, 2);
  assert.equal(c.queued, 0);
  assert.equal(readRecord(new KeyRing(KEY).open(written[1]!.sealed().sealed, aadOf('d', 'ok-2'))).id, 'ok-2', 'the batch was not corrupted by the failed record');
  assert.equal(written[1]!.sealed(), written[1]!.sealed(), 'sealed once, however many sinks ask');
});

test('sealed records open with their key, fail clearly with another, and stay readable after rotation; a moved record does not open', () => {
  const ring = new KeyRing(KEY);
  const sealed = ring.seal(Buffer.from('{"a":1}'), aadOf('d', 'r-1'));
  assert.equal(sealed.kid, keyId(Buffer.from(KEY, 'base64')));
  assert.ok(!Buffer.from(sealed.data, 'base64').toString('latin1').includes('"a"'), 'ciphertext, not the plaintext');
  assert.equal(ring.open(sealed, aadOf('d', 'r-1')).toString(), '{"a":1}');
  const wrong = new KeyRing(OTHER);
  assert.throws(() => wrong.open(sealed, aadOf('d', 'r-1')), (e: unknown) => isAloftError(e) && e.code === 'ALOFT_CAPTURE_KEY' && /key id [0-9a-f]{16}, which is neither capture\.key .* add the key it was written with to capture\.previousKeys/.test(e.message));
  const rotated = new KeyRing(OTHER, [KEY]);
  assert.equal(rotated.open(sealed, aadOf('d', 'r-1')).toString(), '{"a":1}', 'the old key, now in previousKeys, still reads it');
  assert.notEqual(rotated.seal(Buffer.from('x'), 'a').kid, sealed.kid, 'new records use the new key');
  assert.throws(() => ring.open(sealed, aadOf('d', 'r-2')), /did not decrypt: it was changed, or moved from another row/);
});

class Held implements CaptureSink {
  readonly name = 'store' as const;
  readonly batches: PlainCapture[][] = [];
  release: (() => void) | undefined;
  fail = false;
  async write(batch: readonly PlainCapture[]): Promise<void> {
    if (this.fail) throw new Error('disk full');
    this.batches.push([...batch]);
    await new Promise<void>((r) => { this.release = r; });
  }
}

test('the observer only samples and queues; a stalled sink fills the queue to its bound and the rest is dropped and counted; a failing sink is counted', async () => {
  const clock = new ManualClock(0);
  const sink = new Held();
  let draws = 0;
  const capture = new Capture({ clock, logger: silentLogger, sinks: [sink], config: () => ({ capture: spec({ buffer: 100, sampleRate: 0.5 }), features: FEATURES }), random: () => (draws++ % 2) / 2, batch: 10 });
  const observe = capture.observer();
  for (let i = 0; i < 40; i++) observe(obs(`a${i}`));
  assert.equal(capture.counts()[0]!.counts.queued, 20, 'a sample rate of 0.5 keeps half');
  observe(obs('e', { status: 503 }));
  assert.equal(capture.counts()[0]!.counts.queued, 20, 'errors are not captured');
  clock.advance(200); // the flush timer: the first batch of 10 goes to the sink, which stalls
  await new Promise((r) => setImmediate(r));
  assert.equal(sink.batches.length, 1);
  for (let i = 0; i < 1000; i++) observe(obs(`b${i}`));
  const c = capture.counts()[0]!.counts;
  assert.equal(c.queued, 100, 'the queue stops at capture.buffer');
  assert.equal(c.droppedFull, 500 - (100 - 10), 'every sample past the bound is dropped and counted');
  // The sink recovers: everything queued is written.
  while (sink.release) {
    const r = sink.release;
    sink.release = undefined;
    r();
    await new Promise((x) => setImmediate(x));
  }
  await capture.flush();
  assert.equal(capture.counts()[0]!.counts.written.store, 110);
  const first = sink.batches[0]![0]!;
  const record = readRecord(new KeyRing(KEY).open(first.sealed().sealed, aadOf('d', first.id)));
  assert.deepEqual(Object.keys(record.rows[0]!), ['age', 'region']);
  assert.equal(record.key, 'anonymous');
  sink.fail = true;
  observe(obs('z1'));
  observe(obs('z2')); // the sampler draws 0 then 0.5: one of the two is kept
  await capture.flush();
  assert.equal(capture.counts()[0]!.counts.droppedSink, 1);
});

for (const target of await testDialects()) {
  describe(`capture store: ${target.name}`, { skip: target.skip ?? false }, () => {
    let store: Store;
    freshDatabaseEach(target, (_d, s) => { store = s; });

    test('records are kept once per request id, sealed in blocks, listed since a time, joined to feedback (latest label wins), and deleted past retention', async () => {
      const s = new CaptureStore(store);
      const ring = new KeyRing(KEY);
      const ms = (m: number) => Date.UTC(2026, 0, 1, 0, m);
      const at = (m: number) => new Date(ms(m)).toISOString();
      const rec = (id: string, m: number, r = ring, version = 1) => new PlainCapture({ deployment: 'd', id, at: ms(m), version }, encodeParts(partsOf({ ...obs(id), id, at: ms(m), key: 'k', latencyMs: 1, version } as never, spec({ hash: [] }), FEATURES)), r);
      // One write a minute, 20 records each, an hour long; one id repeated within a write and one across writes.
      for (let m = 0; m < 60; m++) {
        const batch = Array.from({ length: 20 }, (_, i) => rec(`r${String(m * 20 + i).padStart(4, '0')}`, m));
        if (m === 1) batch.push(rec('r0020', 1, ring, 9));
        await s.write(batch);
      }
      await s.write([rec('r0000', 59, ring, 9)]);
      const all: StoredCapture[] = [];
      for await (const r of s.list('d', at(0), ring, 500)) all.push(r);
      assert.equal(all.length, 1200, 'every record from `since` on (inclusive), each repeated id once');
      const read = all.map((r) => readRecord(r.plain()));
      assert.ok(read.every((r, i) => i === 0 || read[i - 1]!.at <= r.at), 'oldest first, across pages');
      assert.deepEqual(read.filter((r) => r.id === 'r0000' || r.id === 'r0020').map((r) => r.version), [1, 1], 'the first record of an id is the one kept');
      const later: StoredCapture[] = [];
      for await (const r of s.list('d', at(59), ring, 500)) later.push(r);
      assert.equal(later.length, 20);
      const got = await s.get('d', ['r0001', 'nope', 'r0599'], ring);
      assert.deepEqual([...got.keys()].sort(), ['r0001', 'r0599']);
      assert.equal(readRecord(got.get('r0599')!.plain()).at, at(29));
      // Another key cannot open them, and says which key they need.
      const wrong = await s.get('d', ['r0001'], new KeyRing(OTHER));
      assert.throws(() => wrong.get('r0001')!.plain(), /key id [0-9a-f]{16}, which is neither capture\.key/);
      const listed: string[] = [];
      for await (const r of s.list('d', at(59), new KeyRing(OTHER), 500)) {
        listed.push(r.id);
        assert.throws(() => r.plain(), /key id [0-9a-f]{16}, which is neither/);
      }
      assert.equal(listed.length, 20, 'a block that does not open still yields its records, each failing clearly when opened');
      // Rotation: records under the old key stay readable once it is in previousKeys; new ones use the new key.
      const rotated = new KeyRing(OTHER, [KEY]);
      await s.write([rec('n0001', 60, rotated)]);
      assert.deepEqual((await s.kids('d', at(59))).sort(), [ring.id, rotated.id].sort());
      assert.equal(readRecord((await s.get('d', ['r0001'], rotated)).get('r0001')!.plain()).id, 'r0001');
      await s.putFeedback('d', [{ id: 'r0001', label: 0 }, { id: 'r0061', label: [0.2, 0.8] }], 'app', at(70));
      await s.putFeedback('d', [{ id: 'r0001', label: 1 }], 'app', at(71));
      const joined = await s.labelled('d', at(0), ring);
      assert.deepEqual(joined.map((j) => [j.capture.id, j.label]), [['r0001', 1], ['r0061', [0.2, 0.8]]]);
      assert.equal(readRecord(joined[1]!.capture.plain()).at, at(3));
      assert.equal(await s.deleteBefore('d', at(30)), 600, 'the blocks of the first 30 minutes');
      assert.equal((await s.get('d', ['r0001', 'r0600'], ring)).size, 1, 'their index rows went with them');
      assert.deepEqual(await s.deployments(), ['d']);
    });

    test('a request id captured again is not stored twice, and is counted as repeated, not as written', async () => {
      const clock = new ManualClock(Date.UTC(2026, 0, 1));
      const capture = new Capture({ clock, logger: silentLogger, sinks: [new CaptureStore(store)], config: () => ({ capture: spec(), features: FEATURES }) });
      const observe = capture.observer();
      for (const id of ['a', 'b', 'a']) observe(obs(id));
      await capture.flush();
      observe(obs('b'));
      observe(obs('c'));
      await capture.flush();
      const c = capture.counts()[0]!.counts;
      assert.deepEqual([c.written.store, c.repeated], [3, 2], 'a, b and c stored; a within a write and b across writes not');
      const ids: string[] = [];
      for await (const r of new CaptureStore(store).list('d', new Date(0).toISOString(), new KeyRing(KEY))) ids.push(r.id);
      assert.deepEqual(ids.sort(), ['a', 'b', 'c']);
    });

    test('records stored one per row by an earlier version are still listed, found, joined and expired', async () => {
      const s = new CaptureStore(store);
      const ring = new KeyRing(KEY);
      const at = (m: number) => new Date(Date.UTC(2026, 0, 1, 0, m)).toISOString();
      const legacy: CaptureRecord = { id: 'old-1', at: at(1), deployment: 'd', version: 1, model: 'm', key: 'k', latencyMs: 1, rows: [{ age: 1 }], outputs: { p: { shape: [1, 1], data: [0.5] } } };
      const db = store.db as unknown as import('kysely').Kysely<{ captures: { deployment: string; request_id: string; at: string; version: number; kid: string; data: string } }>;
      const sealed = ring.seal(Buffer.from(JSON.stringify(legacy)), aadOf('d', 'old-1'));
      await db.insertInto('captures').values({ deployment: 'd', request_id: 'old-1', at: at(1), version: 1, kid: sealed.kid, data: sealed.data }).execute();
      await s.write([new PlainCapture({ deployment: 'd', id: 'new-1', at: Date.UTC(2026, 0, 1, 0, 2), version: 2 }, encodeParts(partsOf({ ...obs('new-1'), id: 'new-1', at: Date.UTC(2026, 0, 1, 0, 2), key: 'k', latencyMs: 1, version: 2 } as never, spec({ hash: [] }), FEATURES)), ring)]);
      const ids: string[] = [];
      for await (const r of s.list('d', at(0), ring)) ids.push(readRecord(r.plain()).id);
      assert.deepEqual(ids, ['old-1', 'new-1']);
      assert.deepEqual(readRecord((await s.get('d', ['old-1'], ring)).get('old-1')!.plain()), legacy);
      await s.putFeedback('d', [{ id: 'old-1', label: 1 }, { id: 'new-1', label: 0 }], 'app', at(3));
      assert.deepEqual((await s.labelled('d', at(0), ring)).map((j) => j.capture.id), ['old-1', 'new-1']);
      assert.deepEqual(await s.kids('d', at(0)), [ring.id]);
      assert.equal(await s.deleteBefore('d', at(5)), 2);
      assert.deepEqual(await s.deployments(), []);
    });
  });
}

test('a block holds its records back to back and refuses what is not one', () => {
  const records = [Buffer.from([0xac, 1, 2]), Buffer.alloc(0), Buffer.from('xyz')];
  assert.deepEqual(decodeBlock(encodeBlock(records)), records);
  assert.throws(() => decodeBlock(Buffer.from('{"json":1}')), /not a block/);
  assert.throws(() => decodeBlock(encodeBlock(records).subarray(0, 16)), /cut off/);
});
