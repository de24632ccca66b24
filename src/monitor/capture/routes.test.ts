import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { CaptureRecord } from './record.js';
import { csvHeader, csvRows } from './routes.js';

test('the CSV export has a column for every input, not only the one whose columns are named', () => {
  // A two-input model: x [2, 3] named a, b, c, and ids INT64 [2, 1]; score [2, 1], pair [2, 2].
  const r: CaptureRecord = {
    id: 'r-1', at: '2026-12-04T00:00:00.000Z', deployment: 'scorer', version: 2, model: 'scorer', key: 'ci', latencyMs: 1.5,
    rows: [{ a: 1, b: 2, c: 3 }, { a: 4, b: 5, c: 6 }],
    inputs: { ids: { shape: [2, 1], data: [10, 20] } },
    outputs: { score: { shape: [2, 1], data: [0.1, 0.9] }, pair: { shape: [2, 2], data: [1, 2, 3, 4] } },
  };
  assert.equal(csvHeader(['a', 'b', 'c'], ['ids'], ['score', 'pair']), 'id,at,deployment,version,model,key,latencyMs,row,a,b,c,input.ids,output.score,output.pair,label\n');
  assert.equal(csvRows({ ...r, label: [1, 0] }, ['a', 'b', 'c'], ['ids'], ['score', 'pair']), [
    'r-1,2026-12-04T00:00:00.000Z,scorer,2,scorer,ci,1.5,0,1,2,3,10,0.1,"[1,2]",1',
    'r-1,2026-12-04T00:00:00.000Z,scorer,2,scorer,ci,1.5,1,4,5,6,20,0.9,"[3,4]",0',
    '',
  ].join('\n'));
  // A record without the other input (an earlier version's): an empty cell, not a shifted row.
  const { inputs: _i, ...older } = r;
  assert.match(csvRows(older, ['a', 'b', 'c'], ['ids'], ['score', 'pair']).split('\n')[0]!, /,1,2,3,,0\.1,"\[1,2\]",$/, 'and no label: an empty last cell');
});
