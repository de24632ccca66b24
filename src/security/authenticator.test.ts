import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { ManualClock } from '../clock.js';
import type { Store } from '../store/db.js';
import { KeyRepository } from '../store/keys.js';
import { testDialects, type TestDatabase } from '../store/testing/databases.js';
import { Authenticator, type ConnectionMemo } from './authenticator.js';
import { generateKey, hashSecret, type KeyMaterial } from './keys.js';

const [sqlite] = await testDialects();

describe('Authenticator (API keys)', () => {
  let database: TestDatabase;
  let store: Store;
  let repo: KeyRepository;
  let clock: ManualClock;

  beforeEach(async () => {
    clock = new ManualClock(0, Date.UTC(2026, 0, 1));
    database = await sqlite!.create();
    store = await database.open();
    repo = new KeyRepository(store, { now: () => clock.date() });
  });
  afterEach(async () => {
    await store?.close();
    await database?.cleanup();
  });

  async function add(name: string, extra: { role?: 'admin' | 'viewer' | 'predictor' | 'operator'; scopes?: string[]; expiresAt?: string } = {}): Promise<KeyMaterial> {
    const k = generateKey();
    await repo.create({ id: k.id, name, role: extra.role ?? 'predictor', scopes: extra.scopes ?? ['*'], secretHash: hashSecret(k.secret), ...(extra.expiresAt ? { expiresAt: extra.expiresAt } : {}) });
    return k;
  }

  test('a valid key gives its principal; nothing else hits the database', async () => {
    const k = await add('ci', { scopes: ['credit-*'] });
    const auth = new Authenticator({ keys: repo, clock });
    await auth.load();
    assert.equal(auth.size, 1);
    await store.close(); // the hot path must not need the store
    assert.deepEqual(await auth.authenticate(`Bearer ${k.token}`), { kind: 'key', id: k.id, name: 'ci', role: 'predictor', scopes: ['credit-*'] });
    assert.deepEqual(await auth.identify(`bearer   ${k.token}`), { kind: 'ok', principal: await auth.authenticate(`Bearer ${k.token}`) });
  });

  test('issue 17.5: a key whose stored scopes are damaged fails closed: it is refused, and the other keys keep working', async () => {
    const damaged = await add('damaged', { scopes: ['credit-*'] });
    const fine = await add('fine');
    await store.db.withTables<{ api_keys: { id: string; scopes: string } }>().updateTable('api_keys').set({ scopes: '{"oops"' }).where('id', '=', damaged.id).execute();
    const auth = new Authenticator({ keys: repo, clock });
    await auth.load();
    assert.deepEqual(await auth.identify(`Bearer ${damaged.token}`), { kind: 'rejected', reason: 'invalid key' });
    assert.equal((await auth.authenticate(`Bearer ${fine.token}`))?.name, 'fine');
  });

  test('unknown id and wrong secret give the same answer (the key id is never confirmed)', async () => {
    const k = await add('ci');
    const auth = new Authenticator({ keys: repo, clock });
    await auth.load();
    const other = generateKey();
    const wrongSecret = `aloft_${k.id}_${other.secret}`;
    const unknownId = `aloft_${other.id}_${k.secret}`;
    assert.deepEqual(await auth.identify(`Bearer ${wrongSecret}`), { kind: 'rejected', reason: 'invalid key' });
    assert.deepEqual(await auth.identify(`Bearer ${unknownId}`), { kind: 'rejected', reason: 'invalid key' });
    assert.equal(await auth.authenticate(`Bearer ${wrongSecret}`), undefined);
  });

  test('headers: none, empty, other schemes, several, garbage', async () => {
    const auth = new Authenticator({ keys: repo, clock });
    await auth.load();
    assert.deepEqual(await auth.identify(undefined), { kind: 'none' });
    assert.deepEqual(await auth.identify(''), { kind: 'none' });
    assert.equal((await auth.identify('Basic dXNlcjpwYXNz')).kind, 'rejected');
    assert.equal((await auth.identify('Bearer')).kind, 'rejected');
    assert.equal((await auth.identify('Bearer a b')).kind, 'rejected');
    assert.equal((await auth.identify(['Bearer x', 'Bearer y'])).kind, 'rejected');
    assert.deepEqual(await auth.identify('Bearer eyJhbGciOiJub25lIn0.e30.'), { kind: 'rejected', reason: 'not an Aloft key and JWTs are not configured' });
  });

  test('expiry is checked against the clock, on the hot path', async () => {
    const k = await add('short', { expiresAt: new Date(clock.date().getTime() + 60_000).toISOString() });
    const auth = new Authenticator({ keys: repo, clock });
    await auth.load();
    assert.ok(await auth.authenticate(`Bearer ${k.token}`));
    clock.advance(60_000);
    assert.deepEqual(await auth.identify(`Bearer ${k.token}`), { kind: 'rejected', reason: 'expired key' });
  });

  test('a connection memo skips re-checking a repeated header, but not revocation, expiry or a different header', async () => {
    const k = await add('ci', { expiresAt: new Date(clock.date().getTime() + 60_000).toISOString() });
    const other = await add('other');
    const auth = new Authenticator({ keys: repo, clock });
    await auth.load();
    const memo: ConnectionMemo = {};
    const header = `Bearer ${k.token}`;
    const first = await auth.identify(header, memo);
    assert.equal(first.kind, 'ok');
    assert.equal(memo.header, header, 'a verified key header is remembered');
    assert.deepEqual(await auth.identify(header, memo), first);

    // Another header on the same connection is checked from scratch, and a wrong one clears the memo.
    const wrong = `Bearer ${k.token.slice(0, -1)}${k.token.endsWith('A') ? 'B' : 'A'}`;
    assert.deepEqual(await auth.identify(wrong, memo), { kind: 'rejected', reason: 'invalid key' });
    assert.equal(memo.header, undefined);
    assert.equal((await auth.identify(`Bearer ${other.token}`, memo)).kind, 'ok');
    assert.equal(memo.header, `Bearer ${other.token}`);

    // Expiry is checked on every request, remembered or not.
    assert.equal((await auth.identify(header, memo)).kind, 'ok');
    assert.equal((await auth.identify(header, memo)).kind, 'ok');
    clock.advance(60_000);
    assert.deepEqual(await auth.identify(header, memo), { kind: 'rejected', reason: 'expired key' });

    // A reload invalidates every memo: a revoked key is refused at once after it.
    assert.equal((await auth.identify(`Bearer ${other.token}`, memo)).kind, 'ok');
    await repo.revoke('other');
    await auth.reload();
    assert.deepEqual(await auth.identify(`Bearer ${other.token}`, memo), { kind: 'rejected', reason: 'invalid key' });
  });

  test('revocation applies at reload(); two gateways converge through the periodic reload', async () => {
    const k = await add('ci');
    const a = new Authenticator({ keys: repo, clock, reloadIntervalMs: 5000 });
    const b = new Authenticator({ keys: new KeyRepository(store), clock, reloadIntervalMs: 5000 });
    await Promise.all([a.load(), b.load()]);
    const stop = new AbortController();
    const running = Promise.all([a.start(stop.signal), b.start(stop.signal)]);

    await repo.revoke('ci');
    await a.reload(); // the gateway that made the change reloads at once
    assert.equal(await a.authenticate(`Bearer ${k.token}`), undefined);
    assert.ok(await b.authenticate(`Bearer ${k.token}`), 'the other gateway has not reloaded yet');

    clock.advance(5000);
    await b.settled();
    assert.equal(await b.authenticate(`Bearer ${k.token}`), undefined);

    const fresh = await add('new');
    clock.advance(5000);
    await Promise.all([a.settled(), b.settled()]);
    assert.ok(await a.authenticate(`Bearer ${fresh.token}`));
    assert.ok(await b.authenticate(`Bearer ${fresh.token}`));

    stop.abort();
    await running;
    assert.equal(clock.pending(), 0, 'no timer left after stop');
  });

  test('a key created through another gateway works at its first request: an unknown key id reads the keys again, at most once a second', async () => {
    let reads = 0;
    const counting = new Authenticator({ keys: { listActive: async () => { reads++; return repo.listActive(); } }, clock });
    await counting.load();
    reads = 0;
    const k = await add('made-elsewhere'); // written by another gateway: this one has not reloaded
    assert.equal((await counting.identify(`Bearer ${k.token}`)).kind, 'ok', 'found by the reload its unknown id made');
    assert.equal(reads, 1);
    // Unknown ids (a revoked key, a guess) read again at most once a second, however many arrive.
    const guess = generateKey();
    for (let i = 0; i < 20; i++) assert.deepEqual(await counting.identify(`Bearer ${guess.token}`), { kind: 'rejected', reason: 'invalid key' });
    assert.equal(reads, 1, 'within the second of the last read, unknown ids are refused from memory');
    clock.advance(1000);
    await counting.identify(`Bearer ${guess.token}`);
    assert.equal(reads, 2, 'a second later, one read again');
  });

  test('a failed reload keeps the previous keys; load() reports it', async () => {
    const k = await add('ci');
    let fail = false;
    const source = { listActive: async () => { if (fail) throw new Error('db down'); return repo.listActive(); } };
    const auth = new Authenticator({ keys: source, clock });
    await auth.load();
    fail = true;
    await assert.rejects(auth.reload(), /db down/);
    assert.ok(await auth.authenticate(`Bearer ${k.token}`));
  });
});
