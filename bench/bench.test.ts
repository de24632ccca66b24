/** The benchmark's own logic (no timings): statistics, answer checks, report rows. */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { encodeInferResponse } from '../src/runtime/codec/index.js';
import { percentile, summarize } from './load.js';
import { findings, modelTable, occupancy, violatesLittle, type Row } from './report.js';
import { checkResponse, loadWorkload } from './workload.js';

const tmp = mkdtempSync(join(tmpdir(), 'aloft-bench-test-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

describe('statistics', () => {
  it('takes nearest-rank percentiles', () => {
    const sorted = Array.from({ length: 100 }, (_, i) => i + 1);
    assert.equal(percentile(sorted, 0.5), 50);
    assert.equal(percentile(sorted, 0.99), 99);
    assert.equal(percentile([7], 0.99), 7);
    assert.ok(Number.isNaN(percentile([], 0.5)));
  });

  it('summarizes unsorted latencies', () => {
    const s = summarize([3, 1, 2, 4]);
    assert.deepEqual({ count: s.count, mean: s.mean, p50: s.p50, max: s.max }, { count: 4, mean: 2.5, p50: 2, max: 4 });
  });
});

describe('answer checks', () => {
  it('accepts ONNX Runtime\'s answer (JSON and binary) and refuses a wrong one', async () => {
    const w = await loadWorkload('credit-risk', tmp);
    const answer = (data: Float32Array, binary: boolean) => encodeInferResponse(
      { modelName: w.name, outputs: [{ name: w.outputName, datatype: 'FP32', shape: [1, 1], data }] },
      { binaryOutput: binary },
    );
    const json = answer(w.expected[3]!, false);
    assert.equal(checkResponse(w, 3, 200, json.body, null), undefined);
    const bin = answer(w.expected[3]!, true);
    assert.equal(checkResponse(w, 3, 200, bin.body, String(bin.headerLength)), undefined);
    const wrong = answer(Float32Array.of(w.expected[3]![0]! + 1e-3), false);
    assert.match(checkResponse(w, 3, 200, wrong.body, null) ?? '', /ONNX Runtime gives/);
    assert.match(checkResponse(w, 3, 503, Buffer.from('{"error":"busy"}'), null) ?? '', /HTTP 503/);
    assert.match(checkResponse(w, 4, 200, json.body, null) ?? '', /row 4/);
  });
});

describe('report', () => {
  const row = (system: string, connections: number, rps: number, mean: number, extra: Partial<Row> = {}): Row => ({
    model: 'credit-risk', system, label: system, body: 'json', connections, count: rps, rps, p50: mean, p99: mean * 2, mean, max: mean * 3,
    errors: 0, non2xx: 0, serverRssKiB: 100 * 1024, replicasRssKiB: undefined, serverCpuUs: 50, replicasCpuUs: undefined, ...extra,
  });

  it('checks Little\'s law', () => {
    assert.equal(occupancy(row('plain', 16, 1000, 16)), 1);
    assert.equal(violatesLittle(row('plain', 16, 1000, 16)), false);
    assert.equal(violatesLittle(row('plain', 16, 2000, 16)), true);
  });

  it('computes ratios to the plain server and shows failures', () => {
    const rows = [
      row('plain', 64, 1000, 64),
      row('aloft', 64, 4000, 16),
      { ...row('aloft-nobatch', 64, 0, 0), failed: 'wrong answer: row 0' },
    ];
    const table = modelTable(rows, 'credit-risk');
    assert.match(table, /\| aloft \| 64 \| 4,000 \|.*\| 4\.00× \| 0\.25× \|/);
    assert.match(table, /FAILED: wrong answer: row 0/);
    assert.match(findings(rows, 'credit-risk', [64]).join(' '), /4\.00× the plain server's 1,000/);
  });
});
