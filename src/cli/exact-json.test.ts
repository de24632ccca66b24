import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseExact, stringifyExact } from './exact-json.js';

test('integers beyond 2^53 stay exact through a parse and a stringify', () => {
  const text = '{"outputs":[{"name":"ids","datatype":"INT64","shape":[3],"data":[18014398509481986,-9223372036854775808,7]}],"note":"9007199254740993 in a string","f":[1.5,1e+300,-2]}';
  const v = parseExact(text) as { outputs: { data: unknown[] }[]; note: string; f: number[] };
  assert.deepEqual(v.outputs[0]!.data, [18014398509481986n, -9223372036854775808n, 7]);
  assert.equal(v.note, '9007199254740993 in a string', 'digits inside strings are left alone');
  assert.deepEqual(v.f, [1.5, 1e300, -2], 'floats and safe integers are plain numbers');
  assert.equal(stringifyExact(v), text);
  assert.match(stringifyExact(v, 2), /\n {8}18014398509481986,\n/);
});

test('without large integers it is JSON.parse and JSON.stringify, errors included', () => {
  assert.deepEqual(parseExact('[[1,2],[3,4]]'), [[1, 2], [3, 4]]);
  assert.equal(stringifyExact({ a: [1, 'x'] }, 2), JSON.stringify({ a: [1, 'x'] }, null, 2));
  assert.throws(() => parseExact('[1,'), SyntaxError);
  assert.throws(() => parseExact('[99999999999999999999,'), SyntaxError);
});
