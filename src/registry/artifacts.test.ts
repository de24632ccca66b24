import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { chmod, mkdtemp, readdir, readFile, rm, stat, truncate, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, test } from 'node:test';
import { isAloftError, type ErrorCode } from '../errors.js';
import { ArtifactStore } from './artifacts.js';

let dir: string;
let artifacts: ArtifactStore;
const content = Buffer.from('not really onnx, but artifacts do not care');
const sha = createHash('sha256').update(content).digest('hex');

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'aloft-artifacts-'));
  artifacts = new ArtifactStore(join(dir, 'artifacts'));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

function rejectsWith(code: ErrorCode, pattern: RegExp) {
  return (e: unknown) => isAloftError(e) && e.code === code && pattern.test(e.message);
}

async function flipByte(path: string, at: number): Promise<void> {
  await chmod(path, 0o644);
  const bytes = await readFile(path);
  bytes[at] = bytes[at]! ^ 0xff;
  await writeFile(path, bytes);
}

test('stores bytes at sha256/<first2>/<hash>, read-only, and returns hash and size', async () => {
  const stored = await artifacts.put(content);
  assert.deepEqual(stored, { sha256: sha, size: content.length, path: join(dir, 'artifacts', 'sha256', sha.slice(0, 2), sha) });
  assert.equal(artifacts.path(sha), stored.path);
  assert.equal((await stat(stored.path)).mode & 0o777, 0o444);
  assert.deepEqual(await readFile(stored.path), content);
  assert.deepEqual(await readdir(join(dir, 'artifacts', 'tmp')), [], 'no temp files left behind');
});

test('stores a file by streaming it; storing again is idempotent', async () => {
  const src = join(dir, 'model.onnx');
  await writeFile(src, content);
  const a = await artifacts.put(src);
  const b = await artifacts.put(src);
  const c = await artifacts.put(content);
  assert.deepEqual(a, b);
  assert.deepEqual(a, c);
  assert.equal(a.sha256, sha);
});

test('concurrent puts of the same content agree', async () => {
  const results = await Promise.all(Array.from({ length: 5 }, () => artifacts.put(content)));
  assert.equal(new Set(results.map((r) => r.path)).size, 1);
  assert.equal(await artifacts.verify(sha, content.length), results[0]!.path);
});

test('a missing source file is refused', async () => {
  await assert.rejects(artifacts.put(join(dir, 'nope.onnx')), rejectsWith('ALOFT_MODEL_INVALID', /cannot read model file .*nope\.onnx/));
});

test('verify and read return an intact artifact', async () => {
  const { path } = await artifacts.put(content);
  assert.equal(await artifacts.verify(sha, content.length), path);
  assert.deepEqual(await artifacts.read(sha, content.length), content);
});

test('a flipped byte is refused, naming the file, both hashes and the fix', async () => {
  const { path } = await artifacts.put(content);
  await flipByte(path, 3);
  const check = rejectsWith('ALOFT_ARTIFACT_CORRUPT', new RegExp(`${path}.* for m@1 .*corrupt: expected sha256 ${sha}.*found sha256 [0-9a-f]{64}.*[Rr]e-push`));
  await assert.rejects(artifacts.verify(sha, content.length, 'm@1'), check);
  await assert.rejects(artifacts.read(sha, content.length, 'm@1'), check);
});

test('a truncated artifact is refused', async () => {
  const { path } = await artifacts.put(content);
  await chmod(path, 0o644);
  await truncate(path, 10);
  const check = rejectsWith('ALOFT_ARTIFACT_CORRUPT', /truncated: .*\(42 bytes\).*\(10 bytes\)/);
  await assert.rejects(artifacts.verify(sha, content.length), check);
  await assert.rejects(artifacts.read(sha, content.length), check);
});

test('a size that differs from the record is refused even if the hash matches', async () => {
  await artifacts.put(content);
  await assert.rejects(artifacts.verify(sha, content.length + 1), rejectsWith('ALOFT_ARTIFACT_CORRUPT', /expected sha256/));
});

test('a missing artifact is reported as missing', async () => {
  const { path } = await artifacts.put(content);
  await unlink(path);
  const check = rejectsWith('ALOFT_ARTIFACT_MISSING', new RegExp(`for m@1 is missing: expected ${path}`));
  await assert.rejects(artifacts.verify(sha, content.length, 'm@1'), check);
  await assert.rejects(artifacts.read(sha, content.length, 'm@1'), check);
});

test('putting the same content again repairs a damaged artifact', async () => {
  const { path } = await artifacts.put(content);
  await flipByte(path, 0);
  await artifacts.put(content);
  assert.equal(await artifacts.verify(sha, content.length), path);
  assert.equal((await stat(path)).mode & 0o777, 0o444);
});

test('a name that is not a sha256 digest is refused (no path traversal)', () => {
  assert.throws(() => artifacts.path('../../etc/passwd'), rejectsWith('ALOFT_ARTIFACT_MISSING', /not a sha256 digest/));
  assert.throws(() => artifacts.path(sha.toUpperCase()), /not a sha256 digest/);
});

test('an artifact folder that cannot be written fails with ALOFT_STORE', async () => {
  const blocker = join(dir, 'blocker');
  await writeFile(blocker, 'a file where the folder should be');
  const blocked = new ArtifactStore(join(blocker, 'artifacts'));
  await assert.rejects(blocked.put(content), rejectsWith('ALOFT_STORE', /cannot store the model file in .*blocker.*writable/));
});

test('issue 17: sweep removes the temporary files of pushes whose process died, and keeps those of live processes', async () => {
  const { spawnSync } = await import('node:child_process');
  const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout;
  const tmp = join(dir, 'artifacts', 'tmp');
  const { mkdir } = await import('node:fs/promises');
  await mkdir(tmp, { recursive: true });
  const names = {
    dead: `${sha}.${dead}.abcd1234`,
    live: `${sha}.${process.ppid}.abcd1234`,
    stray: 'not-a-temp-name',
    // Another host's writes in a shared folder: its pid says nothing here; only a day-old one goes.
    otherHost: `${sha}.${dead}.abcd1234@00000000`,
    otherHostStale: `${sha}.${dead}.abcd1235@00000000`,
  };
  for (const n of Object.values(names)) await writeFile(join(tmp, n), 'partial');
  const { utimes } = await import('node:fs/promises');
  const dayAgo = new Date(Date.now() - 25 * 3_600_000);
  await utimes(join(tmp, names.otherHostStale), dayAgo, dayAgo);
  const removed = await artifacts.sweep();
  assert.deepEqual(removed.sort(), [names.dead, names.stray, names.otherHostStale].sort());
  assert.deepEqual((await readdir(tmp)).sort(), [names.live, names.otherHost].sort());
  assert.deepEqual(await new ArtifactStore(join(dir, 'nothing-here')).sweep(), []);
});

test('issue 17: sweepPushLeftovers removes staging folders of older versions left for an hour, not fresh ones', async () => {
  const { sweepPushLeftovers } = await import('./artifacts.js');
  const { mkdir, utimes } = await import('node:fs/promises');
  const old = join(dir, 'aloft-push-old');
  const fresh = join(dir, 'aloft-push-fresh');
  const other = join(dir, 'someone-else');
  for (const d of [old, fresh, other]) {
    await mkdir(d);
    await writeFile(join(d, 'model.onnx'), 'x');
  }
  const twoHoursAgo = new Date(Date.now() - 7_200_000);
  await utimes(old, twoHoursAgo, twoHoursAgo);
  await utimes(other, twoHoursAgo, twoHoursAgo);
  assert.deepEqual(await sweepPushLeftovers(dir), [old]);
  assert.deepEqual((await readdir(dir)).sort(), ['aloft-push-fresh', 'someone-else']);
});
