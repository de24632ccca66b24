/**
 * The API key repository on every store dialect (the same cases for SQLite and PostgreSQL).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isAloftError } from '../errors.js';
import type { Store } from './db.js';
import { up } from './migrations/0004_key_scopes_explicit.js';
import { KeyRepository, type NewKey } from './keys.js';
import { freshDatabaseEach, testDialects } from './testing/databases.js';

const HASH_A = 'a'.repeat(64);
const HASH_B = 'b'.repeat(64);

function key(id: string, name: string, extra: Partial<NewKey> = {}): NewKey {
  return { id: id.padStart(12, '0'), name, role: 'predictor', secretHash: HASH_A, ...extra };
}

for (const target of await testDialects()) {
  describe(`api key repository: ${target.name}`, { skip: target.skip ?? false }, () => {
    let store: Store;
    let repo: KeyRepository;
    let clock = 0;

    freshDatabaseEach(target, (_d, s) => {
      clock = Date.UTC(2026, 0, 1);
      store = s;
      repo = new KeyRepository(store, { now: () => new Date(clock) });
    });

    test('creates keys with every field and lists active ones by name', async () => {
      const created = await repo.create(key('1', 'ci', { scopes: ['credit-*', 'fraud'], createdBy: 'admin', expiresAt: '2026-02-01T00:00:00.000Z' }));
      await repo.create(key('2', 'b-viewer', { role: 'viewer', secretHash: HASH_B }));
      assert.deepEqual(created, {
        id: '000000000001', name: 'ci', role: 'predictor', scopes: ['credit-*', 'fraud'], secretHash: HASH_A,
        createdAt: '2026-01-01T00:00:00.000Z', createdBy: 'admin', expiresAt: '2026-02-01T00:00:00.000Z', revokedAt: null, limits: null, priority: 'normal',
      });
      assert.deepEqual(await repo.getById('000000000001'), created);
      assert.deepEqual((await repo.listActive()).map((k) => [k.name, k.role, k.scopes]), [['b-viewer', 'viewer', ['*']], ['ci', 'predictor', ['credit-*', 'fraud']]]);
      assert.equal((await repo.getActiveByName('ci'))?.id, '000000000001');
      assert.equal(await repo.getActiveByName('nope'), undefined);
      assert.equal(await repo.getById('ffffffffffff'), undefined);
    });

    test('an active name is unique; a revoked name can be reused', async () => {
      await repo.create(key('1', 'ci'));
      await assert.rejects(repo.create(key('2', 'ci')), (e) => isAloftError(e) && e.code === 'ALOFT_KEY_EXISTS' && /revoke it first/.test(e.message));
      clock += 1000;
      const revoked = await repo.revoke('ci');
      assert.equal(revoked?.revokedAt, '2026-01-01T00:00:01.000Z');
      assert.equal(await repo.revoke('ci'), undefined, 'revoking twice finds nothing');
      await repo.create(key('2', 'ci'));
      assert.deepEqual((await repo.listActive()).map((k) => k.id), ['000000000002']);
      assert.deepEqual((await repo.listAll()).map((k) => [k.id, k.revokedAt !== null]), [['000000000001', true], ['000000000002', false]]);
    });

    test('concurrent creates of one name: exactly one wins', async () => {
      const results = await Promise.allSettled(Array.from({ length: 6 }, (_, i) => repo.create(key(String(i + 1), 'race'))));
      assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
      for (const r of results) if (r.status === 'rejected') assert.equal((r.reason as { code?: string }).code, 'ALOFT_KEY_EXISTS');
    });

    test('put makes a key the active one of its name, idempotently, reactivating a revoked id', async () => {
      await repo.create(key('1', 'admin', { role: 'admin' }));
      const first = await repo.put(key('2', 'admin', { role: 'admin', secretHash: HASH_B, createdBy: 'ALOFT_ADMIN_KEY' }));
      assert.equal(first.changed, true);
      assert.deepEqual((await repo.listActive()).map((k) => k.id), ['000000000002']);
      assert.equal((await repo.getById('000000000001'))?.revokedAt, '2026-01-01T00:00:00.000Z');

      const again = await repo.put(key('2', 'admin', { role: 'admin', secretHash: HASH_B, createdBy: 'ALOFT_ADMIN_KEY' }));
      assert.equal(again.changed, false);

      await repo.revoke('admin');
      const back = await repo.put(key('2', 'admin', { role: 'admin', secretHash: HASH_B }));
      assert.equal(back.changed, true);
      const active = await repo.listActive();
      assert.deepEqual(active.map((k) => [k.id, k.revokedAt]), [['000000000002', null]]);
    });

    test('issue 17.5: a damaged stored scope value fails closed: no scopes, and the key is marked damaged', async () => {
      for (const [i, text] of ['not json', '{}', '"credit-*"', '[1]', '[""]', 'null'].entries()) {
        await repo.create(key(String(i + 1), `k${i}`));
        await store.db.withTables<{ api_keys: { id: string; scopes: string } }>().updateTable('api_keys').set({ scopes: text }).where('id', '=', `00000000000${i + 1}`).execute();
      }
      for (const k of await repo.listActive()) {
        assert.deepEqual(k.scopes, [], `${k.name}: no scopes`);
        assert.match(k.damaged ?? '', /stored scopes are not/, `${k.name}: marked damaged`);
      }
    });

    test('a key\'s own rate limit and priority are kept; a damaged stored limit fails closed like damaged scopes', async () => {
      const k = await repo.create(key('1', 'batch', { limits: { rate: 2.5, burst: 5, daily: 1000 }, priority: 'low' }));
      assert.deepEqual([k.limits, k.priority], [{ rate: 2.5, burst: 5, daily: 1000 }, 'low']);
      assert.deepEqual(await repo.getById('000000000001'), k);
      for (const [i, text] of ['not json', '{"rate": 0, "burst": 1}', '{"rate": 1}', '[1]'].entries()) {
        await repo.create(key(String(i + 2), `d${i}`));
        await store.db.withTables<{ api_keys: { id: string; limits: string | null } }>().updateTable('api_keys').set({ limits: text }).where('id', '=', `00000000000${i + 2}`).execute();
      }
      for (const d of (await repo.listActive()).filter((x) => x.name.startsWith('d'))) {
        assert.match(d.damaged ?? '', /stored rate limit is not/, `${d.name}: marked damaged`);
        assert.deepEqual(d.scopes, [], `${d.name}: no scopes`);
      }
    });

    test('issue 17.5: migration 0004 keeps a key stored with [] (every name, before) at every name, as ["*"]', async () => {
      await repo.create(key('1', 'old'));
      await store.db.withTables<{ api_keys: { id: string; scopes: string } }>().updateTable('api_keys').set({ scopes: '[]' }).execute();
      await up(store.db as unknown as Parameters<typeof up>[0]);
      assert.deepEqual((await repo.listActive()).map((k) => k.scopes), [['*']]);
    });

    test('the role is checked by the database', async () => {
      await assert.rejects(repo.create(key('1', 'x', { role: 'root' as never })));
    });
  });
}
