import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { AloftError, isAloftError } from '../errors.js';
import { explainAuthError, resolveCredentials } from './credentials.js';

const KEY = `aloft_0123456789ab_${'A'.repeat(43)}`;
const FILE_KEY = `aloft_ba9876543210_${'B'.repeat(43)}`;

describe('CLI credentials', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'aloft-creds-'));
    await writeFile(join(dir, 'aloft.yaml'), 'version: 1\nstate:\n  dir: ./state\n');
    await mkdir(join(dir, 'state'));
    await writeFile(join(dir, 'state', 'admin.key'), `${FILE_KEY}\n`, { mode: 0o600 });
  });
  after(() => rm(dir, { recursive: true, force: true }));

  test('--key, then ALOFT_KEY, then the admin key file from the spec state dir', async () => {
    const file = join(dir, 'aloft.yaml');
    assert.deepEqual(await resolveCredentials({ key: KEY, file }, { ALOFT_KEY: 'other' }), { key: KEY, source: '--key' });
    assert.deepEqual(await resolveCredentials({ file }, { ALOFT_KEY: KEY }), { key: KEY, source: 'ALOFT_KEY' });
    assert.deepEqual(await resolveCredentials({ file }, {}), { key: FILE_KEY, source: join(dir, 'state', 'admin.key') });
  });

  test('without a readable spec, .aloft beside the spec path is tried; nothing found means no header', async () => {
    const missing = join(dir, 'nested', 'aloft.yaml');
    assert.deepEqual(await resolveCredentials({ file: missing }, {}), {});
    await mkdir(join(dir, 'nested', '.aloft'), { recursive: true });
    await writeFile(join(dir, 'nested', '.aloft', 'admin.key'), FILE_KEY);
    assert.equal((await resolveCredentials({ file: missing }, {})).key, FILE_KEY);
  });

  test('a JWT is accepted as a key; whitespace inside is refused without echoing it', async () => {
    assert.equal((await resolveCredentials({ key: 'eyJ.a.b' }, {})).key, 'eyJ.a.b');
    await assert.rejects(resolveCredentials({ key: 'a b' }, {}), (e) => isAloftError(e) && e.code === 'ALOFT_USAGE' && !e.message.includes('a b'));
  });

  test('401/403 messages say where the key came from', () => {
    const e = explainAuthError(new AloftError('ALOFT_BAD_REQUEST', 'invalid credentials: the key or token is not valid'), { key: KEY, source: 'ALOFT_KEY' });
    assert.match((e as Error).message, /\(the key came from ALOFT_KEY\)$/);
    assert.equal((e as AloftError).code, 'ALOFT_UNAUTHENTICATED');
    const f = explainAuthError(new AloftError('ALOFT_BAD_REQUEST', "the role 'viewer' may not manage API keys; that needs admin"), { key: KEY, source: '--key' });
    assert.equal((f as AloftError).code, 'ALOFT_FORBIDDEN');
    const none = explainAuthError(new AloftError('ALOFT_BAD_REQUEST', 'authentication required: send …'), {});
    assert.match((none as Error).message, /no key was sent: pass --key, set ALOFT_KEY/);
    const other = new AloftError('ALOFT_BAD_REQUEST', 'something else');
    assert.equal(explainAuthError(other, {}), other);
  });
});
