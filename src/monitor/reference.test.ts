/** Drift references from files (CSV and JSONL) and what validate warns of in their cells. */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { isAloftError } from '../errors.js';
import { loadReference, referenceCellWarnings } from './reference.js';

const dir = await mkdtemp(join(tmpdir(), 'aloft-reference-'));
after(() => rm(dir, { recursive: true, force: true }));

const features = [{ name: 'income', kind: 'numeric' as const }, { name: 'region', kind: 'categorical' as const, values: ['north', 'south'] }];

test('a CSV reference loads by header, numbers as numbers; its cells the drift test leaves out are each warned of once per feature', async () => {
  const path = join(dir, 'ref.csv');
  await writeFile(path, 'region,income\nnorth,10\nsouth,abc\n,12\neast,\nnorth,14\n');
  const cols = await loadReference(path, ['income', 'region']);
  assert.deepEqual(cols, { income: [10, 'abc', 12, null, 14], region: ['north', 'south', null, 'east', 'north'] });
  assert.deepEqual(referenceCellWarnings(cols, features), [
    'feature \'income\': 2 of 5 reference cells (1 not a number and 1 empty; the first in data row 2: "abc") are left out of the drift test',
    'feature \'region\': 2 of 5 reference cells (1 not among its values and 1 empty; the first in data row 3) are left out of the drift test',
  ]);
  assert.deepEqual(referenceCellWarnings({ income: [1, 2], region: ['south', 'north'] }, features), [], 'every cell counts: no warning');
  assert.match(referenceCellWarnings(cols, features, { headerLines: 1 })[0]!, /the first in data row 2, line 3 of the file: "abc"/);
});

test('a JSONL reference and a reference with the wrong columns', async () => {
  const path = join(dir, 'ref.jsonl');
  await writeFile(path, '{"income": 1, "region": "north"}\n{"income": "x", "region": "south"}\n');
  const cols = await loadReference(path, ['income', 'region']);
  assert.deepEqual(referenceCellWarnings(cols, features), ['feature \'income\': 1 of 2 reference cells (1 not a number; the first in data row 2: "x") are left out of the drift test']);
  const wrong = join(dir, 'wrong.csv');
  await writeFile(wrong, 'income,age\n1,2\n');
  await assert.rejects(loadReference(wrong, ['income', 'region']), (e: unknown) => isAloftError(e) && /wrong columns; missing: region; not features of the deployment: age/.test(e.message));
});
