import assert from 'node:assert/strict';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { isAloftError } from '../errors.js';
import { createLogger } from '../log.js';
import type { Store } from '../store/db.js';
import { KeyRepository } from '../store/keys.js';
import { testDialects, type TestDatabase } from '../store/testing/databases.js';
import { Authenticator } from './authenticator.js';
import { ensureAdminKey } from './bootstrap.js';
import { generateKey, hashSecret } from './keys.js';

const [sqlite] = await testDialects();

describe('ensureAdminKey', () => {
  let database: TestDatabase;
  let store: Store;
  let keys: KeyRepository;
  let logged: string;
  const log = () => {
    const sink = { write: (s: string) => { logged += s; return true; } };
    return createLogger({ level: 'debug', destination: sink as unknown as NodeJS.WritableStream });
  };

  beforeEach(async () => {
    logged = '';
    database = await sqlite!.create();
    store = await database.open();
    keys = new KeyRepository(store);
  });
  afterEach(async () => {
    await store?.close();
    await database?.cleanup();
  });

  async function works(token: string): Promise<string | undefined> {
    const auth = new Authenticator({ keys });
    await auth.load();
    return (await auth.authenticate(`Bearer ${token}`))?.role;
  }

  test('without ALOFT_ADMIN_KEY: generates a key into <state>/admin.key with mode 0600, then reuses it', async () => {
    const first = await ensureAdminKey({ keys, stateDir: database.stateDir, env: {}, log: log() });
    const file = join(database.stateDir, 'admin.key');
    assert.deepEqual(first, { created: true, file, source: 'generated' });
    const token = (await readFile(file, 'utf8')).trim();
    assert.match(token, /^aloft_[0-9a-f]{12}_[A-Za-z0-9_-]{43}$/);
    assert.equal((await stat(file)).mode & 0o777, 0o600);
    assert.equal(await works(token), 'admin');
    assert.deepEqual((await keys.listActive()).map((k) => [k.name, k.role, k.createdBy]), [['admin', 'admin', 'aloft up']]);

    const again = await ensureAdminKey({ keys, stateDir: database.stateDir, env: {}, log: log() });
    assert.deepEqual(again, { created: false, file, source: 'file' });
    assert.equal((await readFile(file, 'utf8')).trim(), token, 'the file is not rewritten');
    assert.ok(!logged.includes(token.slice(19)), 'the secret is never logged');
  });

  test('a key file whose row is missing (fresh database) is registered again', async () => {
    const k = generateKey();
    await writeFile(join(database.stateDir, 'admin.key'), `${k.token}\n`, { mode: 0o600 });
    const r = await ensureAdminKey({ keys, stateDir: database.stateDir, env: {} });
    assert.equal(r.source, 'file');
    assert.equal(r.created, true);
    assert.equal(await works(k.token), 'admin');
  });

  test('a revoked key in the file is not resurrected: a new key replaces the file', async () => {
    await ensureAdminKey({ keys, stateDir: database.stateDir, env: {} });
    const file = join(database.stateDir, 'admin.key');
    const old = (await readFile(file, 'utf8')).trim();
    await keys.revoke('admin');
    const r = await ensureAdminKey({ keys, stateDir: database.stateDir, env: {}, log: log() });
    assert.deepEqual(r, { created: true, file, source: 'generated' });
    const fresh = (await readFile(file, 'utf8')).trim();
    assert.notEqual(fresh, old);
    assert.equal(await works(old), undefined);
    assert.equal(await works(fresh), 'admin');
    assert.equal((await stat(file)).mode & 0o777, 0o600);
  });

  test('another active admin key means nothing is generated', async () => {
    const k = generateKey();
    await keys.create({ id: k.id, name: 'ops', role: 'admin', secretHash: hashSecret(k.secret) });
    assert.deepEqual(await ensureAdminKey({ keys, stateDir: database.stateDir, env: {} }), { created: false, source: 'existing' });
    await assert.rejects(stat(join(database.stateDir, 'admin.key')));
  });

  test('ALOFT_ADMIN_KEY becomes the admin key (create, keep, replace) and no file is written', async () => {
    const k = generateKey();
    const r = await ensureAdminKey({ keys, stateDir: database.stateDir, env: { ALOFT_ADMIN_KEY: k.token }, log: log() });
    assert.deepEqual(r, { created: true, source: 'env' });
    assert.equal(await works(k.token), 'admin');
    await assert.rejects(stat(join(database.stateDir, 'admin.key')));

    assert.deepEqual(await ensureAdminKey({ keys, stateDir: database.stateDir, env: { ALOFT_ADMIN_KEY: k.token } }), { created: false, source: 'env' });

    const next = generateKey();
    await ensureAdminKey({ keys, stateDir: database.stateDir, env: { ALOFT_ADMIN_KEY: next.token }, log: log() });
    assert.equal(await works(k.token), undefined, 'the previous env key was replaced');
    assert.equal(await works(next.token), 'admin');
    assert.ok(!logged.includes(k.secret) && !logged.includes(next.secret), 'the secret is never logged');
  });

  test('a malformed ALOFT_ADMIN_KEY is refused without echoing it', async () => {
    const bad = 'aloft_not-a-real-key-but-secretish';
    await assert.rejects(
      ensureAdminKey({ keys, stateDir: database.stateDir, env: { ALOFT_ADMIN_KEY: bad } }),
      (e) => isAloftError(e) && e.code === 'ALOFT_KEY_INVALID' && !e.message.includes(bad),
    );
  });
});
