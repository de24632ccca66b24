import assert from 'node:assert/strict';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import { isAloftError } from '../errors.js';
import { parseStoreUrl, redactUrl } from './url.js';

test('no URL means SQLite at <stateDir>/aloft.db', () => {
  for (const url of [undefined, '', '  ']) {
    const t = parseStoreUrl(url, 'state');
    assert.deepEqual(t, { dialect: 'sqlite', file: resolve('state', 'aloft.db'), display: `sqlite:${resolve('state', 'aloft.db')}` });
  }
});

test('postgres:// and postgresql:// select PostgreSQL with the password redacted for display', () => {
  const t = parseStoreUrl('postgresql://aloft:s3cret@db.internal:5432/aloft?sslmode=require', 'state');
  assert.equal(t.dialect, 'postgres');
  assert.equal(t.dialect === 'postgres' && t.connectionString, 'postgresql://aloft:s3cret@db.internal:5432/aloft?sslmode=require');
  assert.equal(t.display, 'postgresql://aloft:***@db.internal:5432/aloft?sslmode=require');
  assert.equal(parseStoreUrl('postgres://u@h/db', 's').dialect, 'postgres');
});

test('sqlite:, file: and bare paths select SQLite files', () => {
  const abs = resolve('/', 'var', 'aloft', 'a.db');
  assert.equal(fileOf(`sqlite://${abs}`), abs);
  assert.equal(fileOf(`sqlite:${abs}`), abs);
  assert.equal(fileOf('sqlite:rel/a.db'), resolve('rel/a.db'));
  assert.equal(fileOf('file:rel/a.db'), resolve('rel/a.db'));
  assert.equal(fileOf(`file://${abs}`), abs);
  assert.equal(fileOf(join('x', 'a.db')), resolve('x', 'a.db'));
  assert.equal(fileOf('sqlite::memory:'), ':memory:');
});

test('unsupported or malformed URLs fail with ALOFT_STORE, the accepted forms and no password', () => {
  for (const url of ['mysql://root:hunter2@db/aloft', 'postgres://root:hunter2@/', 'sqlite:']) {
    assert.throws(
      () => parseStoreUrl(url, 'state'),
      (e: unknown) => isAloftError(e) && e.code === 'ALOFT_STORE' && e.message.includes('postgres://user@host:5432/db') && !e.message.includes('hunter2'),
      url,
    );
  }
});

test('redactUrl hides passwords in userinfo and parameters', () => {
  assert.equal(redactUrl('postgres://u:p@h/db'), 'postgres://u:***@h/db');
  assert.equal(redactUrl('postgres://h/db?user=u&password=p'), 'postgres://h/db?user=u&password=***');
  assert.equal(redactUrl('postgres://u@h/db'), 'postgres://u@h/db');
  assert.equal(redactUrl('not a url://u:p@x'), 'not a url://u:***@x');
});

function fileOf(url: string): string {
  const t = parseStoreUrl(url, 'state');
  assert.equal(t.dialect, 'sqlite');
  return t.dialect === 'sqlite' ? t.file : '';
}
