import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { isAloftError } from '../errors.js';
import { openStore } from './db.js';
import { POSTGRES_TEST_URL } from './testing/databases.js';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'aloft-db-'));
});
after(() => rm(dir, { recursive: true, force: true }));

function storeError(pattern: RegExp, secret?: string) {
  return (e: unknown) => {
    assert.ok(isAloftError(e) && e.code === 'ALOFT_STORE', String(e));
    assert.match(e.message, pattern);
    if (secret) assert.ok(!e.message.includes(secret), `message leaks the password: ${e.message}`);
    return true;
  };
}

test('creates the state folder and the SQLite file on first open', async () => {
  const store = await openStore({ stateDir: join(dir, 'fresh', '.aloft') });
  assert.equal(store.dialect, 'sqlite');
  assert.equal(store.url, `sqlite:${join(dir, 'fresh', '.aloft', 'aloft.db')}`);
  await store.close();
});

test('an unreachable PostgreSQL fails with ALOFT_STORE, the redacted URL and what to do', async () => {
  // Port 1 on loopback: nothing listens there, so the connection is refused at once.
  await assert.rejects(
    openStore({ url: 'postgres://aloft:hunter2@127.0.0.1:1/aloft', stateDir: dir }),
    storeError(/cannot connect to the postgres store at postgres:\/\/aloft:\*\*\*@127\.0\.0\.1:1\/aloft: .*ECONNREFUSED.*Check that PostgreSQL is running/, 'hunter2'),
  );
});

test('a file that is not a SQLite database fails with ALOFT_STORE', async () => {
  const file = join(dir, 'not-a-db');
  await writeFile(file, 'hello, this is text and not a database file at all'.repeat(100));
  await assert.rejects(openStore({ url: `sqlite:${file}`, stateDir: dir }), storeError(/store at sqlite:.*not-a-db/));
});

test('a PostgreSQL search_path naming no existing schema fails with ALOFT_STORE', { skip: process.env.ALOFT_TEST_SKIP_POSTGRES === '1' && 'ALOFT_TEST_SKIP_POSTGRES=1' }, async () => {
  const sep = POSTGRES_TEST_URL.includes('?') ? '&' : '?';
  const url = `${POSTGRES_TEST_URL}${sep}options=${encodeURIComponent('-c search_path=aloft_no_such_schema')}`;
  await assert.rejects(openStore({ url, stateDir: dir }), storeError(/no schema to work in.*create schema/));
});
