import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ADDRESS_FILE, readAddress, removeAddress, writeAddress } from './address-file.js';

async function folder(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'aloft-address-'));
}

test('the address written is read back while its process lives, and removed by it', async (t) => {
  const dir = await folder();
  t.after(() => rm(dir, { recursive: true, force: true }));
  assert.equal(readAddress(dir), undefined);
  await writeAddress(dir, { url: 'http://127.0.0.1:18081', adminUrl: 'http://127.0.0.1:18082', startedAt: '2026-12-06T00:00:00.000Z' });
  const a = readAddress(dir);
  assert.equal(a?.pid, process.pid);
  assert.equal(a?.url, 'http://127.0.0.1:18081');
  assert.equal(a?.adminUrl, 'http://127.0.0.1:18082');
  assert.equal(readAddress(dir, { alive: () => false }), undefined, 'a dead process\'s address is ignored');
  await removeAddress(dir);
  assert.equal(readAddress(dir), undefined);
});

test('another process\'s file is neither removed nor trusted from another host; a broken file is ignored', async (t) => {
  const dir = await folder();
  t.after(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, ADDRESS_FILE);
  const other = { pid: process.pid + 1_000_000, host: hostname(), url: 'http://127.0.0.1:1', adminUrl: 'http://127.0.0.1:1', startedAt: '' };
  await writeFile(file, JSON.stringify(other));
  await removeAddress(dir);
  assert.deepEqual(JSON.parse(await readFile(file, 'utf8')), other, 'a newer server\'s file stays');
  assert.equal(readAddress(dir, { alive: () => true })?.url, 'http://127.0.0.1:1');
  await writeFile(file, JSON.stringify({ ...other, host: `${hostname()}-elsewhere` }));
  assert.equal(readAddress(dir, { alive: () => true }), undefined);
  await writeFile(file, '{"pid": ');
  assert.equal(readAddress(dir), undefined);
  await writeFile(file, JSON.stringify({ pid: 'x', host: hostname(), url: 1 }));
  assert.equal(readAddress(dir), undefined);
});
