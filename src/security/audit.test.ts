import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, test } from 'node:test';
import type { Kysely } from 'kysely';
import { ManualClock } from '../clock.js';
import { isAloftError } from '../errors.js';
import type { Store } from '../store/db.js';
import type { AuditTables } from '../store/audit.js';
import type { Database } from '../store/schema.js';
import { testDialects, type TestDatabase } from '../store/testing/databases.js';
import {
  AuditLog,
  FailureBurstDetector,
  GENESIS_HASH,
  SYSTEM_ACTOR,
  authFailuresEntry,
  canonicalJson,
  entryHash,
  redact,
  type AuditInput,
  type AuditVerification,
  type FailureBurst,
} from './audit.js';
import type { Principal } from './principal.js';

const alice: Principal = { kind: 'key', id: 'k_1', name: 'alice', role: 'admin', scopes: ['*'] };
const bob: Principal = { kind: 'jwt', id: 'sub-bob', name: 'bob', role: 'operator', scopes: [] };

describe('redact, canonical JSON and the entry hash', () => {
  test('redact drops secret-named keys at every depth, in any case', () => {
    const input = {
      name: 'ci',
      Key: 'sk_live_1',
      nested: { TOKEN: 't', api_key: 'a', clientSecret: 'c', list: [{ password: 'p', keep: 1 }] },
      headers: { Authorization: 'Bearer x', accept: 'json' },
      keyId: 'k_1',
    };
    assert.deepEqual(redact(input), { name: 'ci', nested: { list: [{ keep: 1 }] }, headers: { accept: 'json' }, keyId: 'k_1' });
    assert.equal(redact('plain'), 'plain');
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic.self = cyclic;
    assert.deepEqual(redact(cyclic), { a: 1, self: '[circular]' });
  });

  test('canonical JSON sorts keys at every level and drops undefined', () => {
    assert.equal(canonicalJson({ b: 1, a: { d: [2, { z: 1, y: null }], c: 'x' }, u: undefined }), '{"a":{"c":"x","d":[2,{"y":null,"z":1}]},"b":1}');
  });

  test('the hash covers prev_hash and every field', () => {
    const content = {
      seq: 1, time: '2026-01-01T00:00:00.000Z', actor: { kind: 'key' as const, id: 'k', name: 'n' },
      action: 'key.created', target: 't', source: 'cli', before: null, after: { role: 'viewer' }, details: null,
    };
    const h = entryHash(GENESIS_HASH, content);
    assert.match(h, /^[0-9a-f]{64}$/);
    assert.equal(entryHash(GENESIS_HASH, { ...content }), h);
    assert.notEqual(entryHash('1'.repeat(64), content), h);
    assert.notEqual(entryHash(GENESIS_HASH, { ...content, seq: 2 }), h);
    assert.notEqual(entryHash(GENESIS_HASH, { ...content, after: { role: 'admin' } }), h);
  });
});

describe('FailureBurstDetector', () => {
  function detector(opts: { threshold?: number; windowMs?: number; maxTrackedIps?: number } = {}) {
    const clock = new ManualClock();
    const bursts: FailureBurst[] = [];
    const d = new FailureBurstDetector({ clock, onBurst: (b) => { bursts.push(b); }, ...opts });
    return { clock, bursts, d };
  }

  test('reports the 10th failure within 60 s, once per window per IP', () => {
    const { clock, bursts, d } = detector();
    for (let i = 0; i < 9; i++) {
      assert.equal(d.record('10.0.0.1'), false);
      clock.advance(1000);
    }
    assert.equal(d.record('10.0.0.2'), false, 'another IP counts separately');
    assert.equal(d.record('10.0.0.1'), true);
    assert.deepEqual(bursts, [{ ip: '10.0.0.1', count: 10, windowMs: 60_000 }]);
    for (let i = 0; i < 20; i++) d.record('10.0.0.1');
    assert.equal(bursts.length, 1, 'no second report within the window');
    clock.advance(59_999);
    assert.equal(d.record('10.0.0.1'), false, 'still within 60 s of the report');
    clock.advance(1); // 60 s after the report: the earlier failures have left the window
    for (let i = 0; i < 8; i++) assert.equal(d.record('10.0.0.1'), false);
    assert.equal(d.record('10.0.0.1'), true);
    assert.deepEqual(bursts[1], { ip: '10.0.0.1', count: 10, windowMs: 60_000 });
  });

  test('a continuing attack is reported once a minute with the count of the last minute', () => {
    const { clock, bursts, d } = detector();
    for (let i = 0; i < 600; i++) {
      d.record('10.0.0.1');
      clock.advance(200); // 5 per second
    }
    assert.deepEqual(bursts.map((b) => b.count), [10, 300]);
  });

  test('failures spread wider than the window never make a burst', () => {
    const { clock, bursts, d } = detector();
    for (let i = 0; i < 100; i++) {
      d.record('10.0.0.1');
      clock.advance(6_667); // 10 failures span just over 60 s
    }
    assert.deepEqual(bursts, []);
  });

  test('threshold and window are configurable; the window slides', () => {
    const { clock, bursts, d } = detector({ threshold: 3, windowMs: 1000 });
    d.record('a');
    clock.advance(600);
    d.record('a');
    clock.advance(600); // the first failure leaves the window
    assert.equal(d.record('a'), false);
    clock.advance(100);
    assert.equal(d.record('a'), true);
    assert.deepEqual(bursts, [{ ip: 'a', count: 3, windowMs: 1000 }]);
  });

  test('remembers a bounded number of IPs', () => {
    const { clock, d } = detector({ maxTrackedIps: 100 });
    for (let i = 0; i < 1000; i++) d.record(`10.0.${i >> 8}.${i & 255}`);
    assert.ok(d.trackedIps <= 100);
    clock.advance(61_000);
    d.record('fresh');
    assert.ok(d.trackedIps <= 100);
  });

  test('a failing or rejecting onBurst goes to onError and never throws', async () => {
    const errors: unknown[] = [];
    const clock = new ManualClock();
    const sync = new FailureBurstDetector({ clock, threshold: 1, onBurst: () => { throw new Error('sync'); }, onError: (e) => errors.push(e) });
    assert.equal(sync.record('a'), true);
    const async = new FailureBurstDetector({ clock, threshold: 1, onBurst: () => Promise.reject(new Error('async')), onError: (e) => errors.push(e) });
    assert.equal(async.record('a'), true);
    await new Promise<void>((r) => setImmediate(r));
    assert.deepEqual(errors.map((e) => (e as Error).message), ['sync', 'async']);
  });

  test('authFailuresEntry is a system entry about the IP', () => {
    assert.deepEqual(authFailuresEntry({ ip: '10.0.0.9', count: 12, windowMs: 60_000 }), {
      actor: SYSTEM_ACTOR, action: 'auth.failures', target: '10.0.0.9', source: '10.0.0.9', details: { count: 12, windowMs: 60_000 },
    });
  });
});

const ACTIONS: Omit<AuditInput, 'actor' | 'source'>[] = [
  { action: 'key.created', target: 'ci', after: { role: 'operator', scopes: ['risk-*'] } },
  { action: 'spec.applied', target: 'aloft.yaml', details: { revision: 1 } },
  { action: 'model.registered', target: 'credit-risk@1', after: { sha256: 'ab'.repeat(32) } },
  { action: 'alias.set', target: 'credit-risk@production', before: null, after: { version: 1 } },
  { action: 'model.registered', target: 'credit-risk@2', after: { sha256: 'cd'.repeat(32) } },
  { action: 'rollout.promoted', target: 'credit-risk', before: { version: 1 }, after: { version: 2 } },
  { action: 'rollout.rolled_back', target: 'credit-risk', before: { version: 2 }, after: { version: 1 }, details: { reason: 'error rate 4%' } },
  { action: 'key.revoked', target: 'ci', before: { role: 'operator' } },
  { action: 'auth.failures', target: '10.0.0.9', details: { count: 10, windowMs: 60000 } },
  { action: 'alias.set', target: 'credit-risk@production', before: { version: 1 }, after: { version: 2 } },
];

for (const dialect of await testDialects()) {
  describe(`audit trail: ${dialect.name}`, { skip: dialect.skip ?? false }, () => {
    let database: TestDatabase;
    let store: Store;
    let clock: ManualClock;
    let audit: AuditLog;
    let db: Kysely<Database & AuditTables>;

    beforeEach(async () => {
      database = await dialect.create();
      store = await database.open();
      db = store.db.withTables<AuditTables>();
      clock = new ManualClock();
      audit = new AuditLog(store, { clock });
    });
    afterEach(async () => {
      await store?.close();
      await database?.cleanup();
    });

    async function chain(n = 10): Promise<void> {
      for (let i = 0; i < n; i++) {
        const a = ACTIONS[i % ACTIONS.length]!;
        await audit.append({ ...a, actor: i % 3 === 2 ? bob : alice, source: i % 2 ? '127.0.0.1' : 'cli' });
        clock.advance(1000);
      }
    }

    function failed(r: AuditVerification): Extract<AuditVerification, { ok: false }> {
      assert.equal(r.ok, false, `expected verify to fail, got ${JSON.stringify(r)}`);
      return r as Extract<AuditVerification, { ok: false }>;
    }

    const setSeq = (from: number, to: number) => db.updateTable('audit_entries').set({ seq: to }).where('seq', '=', from).execute();

    test('an empty trail verifies', async () => {
      assert.deepEqual(await audit.verify(), { ok: true, entries: 0, head: GENESIS_HASH });
      assert.deepEqual(await audit.list(), []);
    });

    test('entries are numbered 1, 2, 3…, timed by the clock, chained, and keep only who, never secrets', async () => {
      const withLimits: Principal = { ...alice, limits: { rate: 1, burst: 1 } };
      const e1 = await audit.append({
        actor: withLimits,
        action: 'key.created', target: 'ci', source: 'cli',
        after: { name: 'ci', role: 'operator', key: 'aloft_sk_supersecret' },
        details: { Authorization: 'Bearer aloft_sk_other', note: 'first' },
      });
      clock.advance(1500);
      const e2 = await audit.append({ actor: bob, action: 'spec.applied', target: 'aloft.yaml', source: '10.1.2.3' });
      assert.deepEqual(e1, {
        seq: 1, time: '2026-01-01T00:00:00.000Z', actor: { kind: 'key', id: 'k_1', name: 'alice' },
        action: 'key.created', target: 'ci', source: 'cli', before: null, after: { name: 'ci', role: 'operator' },
        details: { note: 'first' }, prevHash: GENESIS_HASH, hash: e1.hash,
      });
      assert.equal(e2.seq, 2);
      assert.equal(e2.time, '2026-01-01T00:00:01.500Z');
      assert.equal(e2.prevHash, e1.hash);
      assert.deepEqual(await audit.list(), [e1, e2]);
      const stored = JSON.stringify(await db.selectFrom('audit_entries').selectAll().execute());
      assert.doesNotMatch(stored, /supersecret|aloft_sk_other|Bearer|"rate"|"\*"|admin/);
      assert.deepEqual(await audit.verify(), { ok: true, entries: 2, head: e2.hash });
    });

    test('concurrent appends make one unbroken chain (PostgreSQL: through two connection pools)', async () => {
      // Two SQLite handles in one process cannot wait for each other (the busy wait blocks
      // the thread that would commit); test/e2e/audit.test.ts runs two processes instead.
      const other = dialect.name === 'postgres' ? await database.open() : store;
      try {
        const audit2 = new AuditLog(other, { clock });
        const all = await Promise.all(
          Array.from({ length: 30 }, (_, i) => (i % 2 ? audit : audit2).append({ actor: alice, action: 'model.registered', target: `m@${i}`, source: 'cli' })),
        );
        assert.deepEqual(all.map((e) => e.seq).sort((a, b) => a - b), Array.from({ length: 30 }, (_, i) => i + 1));
        const r = await audit.verify();
        assert.deepEqual(r, { ok: true, entries: 30, head: (await audit.list({ limit: 1 }))[0]!.hash });
      } finally {
        if (other !== store) await other.close();
      }
    });

    test('list filters by action (exact or prefix), actor, target, time, and pages by seq', async () => {
      await chain(10);
      const seqs = (es: { seq: number }[]) => es.map((e) => e.seq);
      assert.deepEqual(seqs(await audit.list({ action: 'alias.set' })), [4, 10]);
      assert.deepEqual(seqs(await audit.list({ action: 'key.*' })), [1, 8]);
      assert.deepEqual(seqs(await audit.list({ action: 'rollout.' })), [6, 7]);
      assert.deepEqual(seqs(await audit.list({ actor: 'bob' })), [3, 6, 9]);
      assert.deepEqual(seqs(await audit.list({ actor: 'sub-bob' })), [3, 6, 9]);
      assert.deepEqual(seqs(await audit.list({ target: 'credit-risk' })), [6, 7]);
      assert.deepEqual(seqs(await audit.list({ since: '2026-01-01T00:00:07Z' })), [8, 9, 10]);
      assert.deepEqual(seqs(await audit.list({ since: new Date(Date.UTC(2026, 0, 1, 0, 0, 2)), until: '2026-01-01T00:00:04Z' })), [3, 4]);
      assert.deepEqual(seqs(await audit.list({ limit: 3 })), [8, 9, 10], 'the newest, oldest first');
      assert.deepEqual(seqs(await audit.list({ afterSeq: 2, limit: 3 })), [3, 4, 5]);
      assert.deepEqual(seqs(await audit.list({ actor: 'alice', action: 'alias.set' })), [4, 10]);
      for (const bad of [{ since: 'yesterday' }, { limit: 0 }, { limit: 5000 }, { afterSeq: -1 }]) {
        await assert.rejects(audit.list(bad), (e) => isAloftError(e) && e.code === 'ALOFT_BAD_REQUEST');
      }
    });

    test('an untouched chain of 10 verifies', async () => {
      await chain(10);
      const r = await audit.verify();
      assert.equal(r.ok, true);
      assert.equal(r.entries, 10);
    });

    test('tamper: an edited entry is named', async () => {
      await chain(10);
      await db.updateTable('audit_entries').set({ after: '{"version":9}' }).where('seq', '=', 4).execute();
      const r = failed(await audit.verify());
      assert.deepEqual([r.problem, r.seq], ['edited', 4]);
      assert.match(r.message, /entry 4 was edited/);
    });

    test('tamper: an edited actor, time or action is named', async () => {
      await chain(10);
      await db.updateTable('audit_entries').set({ actor_name: 'mallory' }).where('seq', '=', 2).execute();
      assert.deepEqual(pick(failed(await audit.verify())), ['edited', 2]);
      await db.updateTable('audit_entries').set({ actor_name: 'alice' }).where('seq', '=', 2).execute();
      assert.equal((await audit.verify()).ok, true, 'restoring the value restores the chain');
      await db.updateTable('audit_entries').set({ time: '2025-12-31T00:00:00.000Z' }).where('seq', '=', 9).execute();
      assert.deepEqual(pick(failed(await audit.verify())), ['edited', 9]);
    });

    test('tamper: an entry edited and re-hashed is named by the broken link after it', async () => {
      await chain(10);
      const row = await db.selectFrom('audit_entries').selectAll().where('seq', '=', 6).executeTakeFirstOrThrow();
      const forged = { ...row, after: '{"version":3}' };
      const hash = entryHash(row.prev_hash, {
        seq: 6, time: row.time, actor: { kind: row.actor_kind as 'key', id: row.actor_id, name: row.actor_name },
        action: row.action, target: row.target, source: row.source, before: JSON.parse(row.before!), after: { version: 3 }, details: null,
      });
      await db.updateTable('audit_entries').set({ after: forged.after, hash }).where('seq', '=', 6).execute();
      const r = failed(await audit.verify());
      assert.deepEqual(pick(r), ['edited', 6]);
      assert.match(r.message, /entry 6 was edited and its hash recomputed/);
    });

    test('tamper: damaged JSON is an edit', async () => {
      await chain(5);
      await db.updateTable('audit_entries').set({ details: '{not json' }).where('seq', '=', 2).execute();
      assert.deepEqual(pick(failed(await audit.verify())), ['edited', 2]);
    });

    test('tamper: a deleted middle entry is named as missing', async () => {
      await chain(10);
      await db.deleteFrom('audit_entries').where('seq', '=', 5).execute();
      const r = failed(await audit.verify());
      assert.deepEqual(pick(r), ['deleted', 5]);
      assert.equal(r.entries, 9);
      assert.match(r.message, /entry 5 is missing \(deleted\): entry 4 is followed by entry 6/);
    });

    test('tamper: a deleted first entry, and several deleted entries', async () => {
      await chain(10);
      await db.deleteFrom('audit_entries').where('seq', '=', 1).execute();
      assert.deepEqual(pick(failed(await audit.verify())), ['deleted', 1]);
      await db.deleteFrom('audit_entries').where('seq', 'in', [4, 5, 6]).execute();
      assert.deepEqual(pick(failed(await audit.verify())), ['deleted', 1]);
    });

    test('tamper: a deleted entry hidden by renumbering the later ones is named', async () => {
      await chain(10);
      await db.deleteFrom('audit_entries').where('seq', '=', 5).execute();
      for (let s = 6; s <= 10; s++) await setSeq(s, s - 1);
      const r = failed(await audit.verify());
      assert.deepEqual(pick(r), ['deleted', 5]);
      assert.match(r.message, /entry 5 was deleted and the later entries renumbered: entry 6 is stored as 5/);
    });

    test('tamper: two swapped entries are named', async () => {
      await chain(10);
      await setSeq(3, 1000);
      await setSeq(7, 3);
      await setSeq(1000, 7);
      const r = failed(await audit.verify());
      assert.deepEqual(pick(r), ['reordered', 3]);
      assert.match(r.message, /entries 3 and 7 were swapped/);
    });

    test('tamper: two swapped neighbours are named', async () => {
      await chain(10);
      await setSeq(5, 1000);
      await setSeq(6, 5);
      await setSeq(1000, 6);
      const r = failed(await audit.verify());
      assert.deepEqual(pick(r), ['reordered', 5]);
      assert.match(r.message, /entries 5 and 6 were swapped/);
    });

    test('tamper: the last entry deleted (truncation) is named', async () => {
      await chain(10);
      await db.deleteFrom('audit_entries').where('seq', '=', 10).execute();
      const r = failed(await audit.verify());
      assert.deepEqual(pick(r), ['deleted', 10]);
      assert.match(r.message, /entry 10 is missing \(deleted from the end\)/);
      await db.deleteFrom('audit_entries').where('seq', '>=', 8).execute();
      assert.match(failed(await audit.verify()).message, /entries 8-10 are missing/);
    });

    test('tamper: an inserted entry is named', async () => {
      await chain(10);
      for (let s = 10; s >= 4; s--) await setSeq(s, s + 1);
      const prev = await db.selectFrom('audit_entries').select('hash').where('seq', '=', 3).executeTakeFirstOrThrow();
      const content = { seq: 4, time: '2026-01-01T00:00:03.500Z', actor: { kind: 'key' as const, id: 'k_1', name: 'alice' }, action: 'key.created', target: 'backdoor', source: 'cli', before: null, after: null, details: null };
      await db.insertInto('audit_entries').values({
        seq: 4, time: content.time, actor_kind: 'key', actor_id: 'k_1', actor_name: 'alice', action: 'key.created', target: 'backdoor', source: 'cli',
        before: null, after: null, details: null, prev_hash: prev.hash, hash: entryHash(prev.hash, content),
      }).execute();
      const r = failed(await audit.verify());
      assert.deepEqual(pick(r), ['inserted', 4]);
      assert.match(r.message, /entry 4 was inserted/);
    });

    test('tamper: an entry appended behind the log\'s back, and a deleted head, are found', async () => {
      await chain(3);
      const last = await db.selectFrom('audit_entries').selectAll().where('seq', '=', 3).executeTakeFirstOrThrow();
      const content = { seq: 4, time: last.time, actor: { kind: 'key' as const, id: 'x', name: 'x' }, action: 'key.created', target: 'x', source: 'cli', before: null, after: null, details: null };
      await db.insertInto('audit_entries').values({
        seq: 4, time: last.time, actor_kind: 'key', actor_id: 'x', actor_name: 'x', action: 'key.created', target: 'x', source: 'cli',
        before: null, after: null, details: null, prev_hash: last.hash, hash: entryHash(last.hash, content),
      }).execute();
      assert.deepEqual(pick(failed(await audit.verify())), ['inserted', 4]);
      await db.deleteFrom('audit_head').execute();
      assert.equal(failed(await audit.verify()).problem, 'deleted');
      await assert.rejects(audit.append({ actor: alice, action: 'key.created', target: 'y', source: 'cli' }), (e) => isAloftError(e) && e.code === 'ALOFT_STORE');
    });
  });
}

function pick(r: Extract<AuditVerification, { ok: false }>): [string, number] {
  return [r.problem, r.seq];
}
