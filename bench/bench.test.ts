/** The benchmark's own logic (no timings): statistics, answer checks, report rows. */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { encodeInferResponse } from '../src/runtime/codec/index.js';
import { startPeer } from './child.js';
import { parseDeployment, parseObject } from './systems/aloft.js';
import { percentile, summarize } from './load.js';
import { findings, modelTable, occupancy, ownedSections, profileSection, targetsSection, violatesLittle, type Row } from './report.js';
import { stageOf, stageTimes, type ProfileResult } from './profile.js';
import { checkResponse, loadWorkload, type ModelId } from './workload.js';

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

describe('ALOFT_BENCH_DEPLOYMENT', () => {
  it('takes a JSON object and refuses what the bench cannot measure, naming the variable', () => {
    assert.deepEqual(parseDeployment(undefined), {});
    assert.deepEqual(parseDeployment('{"replicas":1,"runtime":{"allowSpinning":true}}'), { replicas: 1, runtime: { allowSpinning: true } });
    assert.throws(() => parseDeployment('{bad'), /ALOFT_BENCH_DEPLOYMENT must be a JSON object/);
    assert.throws(() => parseDeployment('[1]'), /ALOFT_BENCH_DEPLOYMENT must be a JSON object/);
    assert.throws(() => parseDeployment('{"replicas":"two"}'), /replicas must be a whole number from 1 to 16/);
    assert.throws(() => parseDeployment('{"replicas":{"min":1,"max":2}}'), /no ranges/);
  });

  it('ALOFT_BENCH_SERVER is read the same way and named in its errors', () => {
    assert.deepEqual(parseObject('ALOFT_BENCH_SERVER', '{"fastInferPath":false}', '{}'), { fastInferPath: false });
    assert.throws(() => parseObject('ALOFT_BENCH_SERVER', 'false', '{"fastInferPath":false}'), /ALOFT_BENCH_SERVER must be a JSON object such as '\{"fastInferPath":false\}', got false/);
  });
});

describe('socket-fixed peer', () => {
  it('answers keep-alive requests whose bytes arrive split and pipelined, each once', async () => {
    const file = join(tmp, 'fixed.json');
    writeFileSync(file, '{"ok":true}');
    const peer = await startPeer('socket-fixed', './peers/socket-fixed-server.mjs', ['--response', file]);
    try {
      const socket = connect(Number(new URL(peer.url).port), '127.0.0.1');
      await once(socket, 'connect');
      socket.setNoDelay(true); // each write leaves as its own segment
      let got = '';
      socket.on('data', (c: Buffer) => { got += c.toString('latin1'); });
      const req = (body: string) => `POST /v2/models/m/infer HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
      const three = req('{"a":1}') + req('{}') + req('{"b":[1,2,3]}');
      socket.write(three.slice(0, 20));
      await new Promise((r) => setImmediate(r));
      socket.write(three.slice(20, 75));
      await new Promise((r) => setImmediate(r));
      socket.write(three.slice(75));
      while ((got.match(/\{"ok":true\}/g) ?? []).length < 3) await once(socket, 'data');
      assert.equal((got.match(/HTTP\/1\.1 200 OK/g) ?? []).length, 3);
      assert.match(got, /content-length: 11\r\n/);
      socket.destroy();
    } finally {
      await peer.stop();
    }
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

  it('reports how busy the event loop and the machine were', () => {
    const rows = [row('plain', 64, 1000, 64), row('aloft', 64, 4000, 16, { mainThreadBusy: 0.93, machineBusy: 0.76 }), row('aloft-threads', 64, 3000, 16, { mainThreadBusy: 0.99, machineBusy: 0.8 })];
    assert.match(modelTable(rows, 'credit-risk'), /\| 93% \| 76% \|/);
    // The fastest Aloft cell is the one described.
    assert.match(findings(rows, 'credit-risk', [64]).join(' '), /fastest cell at 64 connections \(aloft, JSON\), the gateway's main thread was busy 93% of the time and the machine 76%/);
  });
});

describe('targets', () => {
  const cell = (model: ModelId, system: string, connections: number, rps: number, p50: number, p99: number, extra: Partial<Row> = {}): Row => ({
    model, system, label: system, body: 'json', connections, count: rps * 5, rps, p50, p99, mean: p50, max: p99,
    errors: 0, non2xx: 0, serverRssKiB: 140 * 1024, replicasRssKiB: undefined, serverCpuUs: 50, replicasCpuUs: undefined, ...extra,
  });
  const rows = [
    cell('mnist', 'plain', 64, 5698, 10.6, 22.4), cell('mnist', 'fixed', 64, 20166, 2.84, 11.9),
    cell('mnist', 'aloft', 64, 8225, 7.06, 17.4), cell('mnist', 'aloft-threads', 64, 14500, 4.64, 12.8),
    cell('mnist', 'aloft-nobatch', 64, 3066, 21.5, 32.2, { errors: 3 }),
    cell('mnist', 'aloft-threads', 64, 9476, 6.04, 19.1, { body: 'binary' }),
    cell('mnist', 'plain', 1, 3216, 0.283, 0.669), cell('mnist', 'fixed', 1, 11328, 0.076, 0.149),
    cell('mnist', 'aloft', 1, 963, 0.867, 4.92), cell('mnist', 'aloft-threads', 1, 2121, 0.412, 1.59),
    cell('credit-risk', 'plain', 64, 6739, 9.48, 20.7), cell('credit-risk', 'fixed', 64, 20053, 2.68, 12.9),
    cell('credit-risk', 'aloft-threads', 64, 16215, 3.34, 12.4), cell('credit-risk', 'aloft', 64, 13823, 4.12, 12.8, { serverRssKiB: 160 * 1024 }),
  ];
  const section = targetsSection(rows, [1, 64]);
  const line = (start: string) => section.split('\n').find((l) => l.startsWith(`| ${start}`)) ?? '';

  it('judges each target on the default configuration, with the best other one beside it, not judged', () => {
    assert.match(line('MNIST, JSON, 64 connections: req/s'), /\| aloft: 8,225 req\/s.*\| 1\.44× \| not met \| aloft-threads: 2\.54× \| bare server 3\.54× plain/);
    assert.match(line('MNIST, JSON, 1 connection'), /\| aloft: 963 req\/s.*\| 3\.06× \| not met \| aloft-threads: 1\.46× \| bare server p50 0\.076 ms; Aloft 0\.584 ms over plain/);
    assert.equal(line('MNIST, binary'), '', 'no default cell with binary bodies: no line');
    assert.match(line('credit-risk'), /\| aloft: 13,823 req\/s.*\| 2\.05× \| \*\*met\*\* \| aloft-threads: 2\.41× \|/);
  });

  it('shows when a target lies below what a server doing no work reaches in the same run', () => {
    assert.match(line('MNIST, JSON, 64 connections: p99'), /\| 0\.78× \| not met \| aloft-threads: 0\.57× \| bare server p99 11\.9 ms = 0\.53× plain: the target is below what a server doing no work reaches here; Aloft 1\.46× the bare server/);
  });

  it('counts the gateway\'s memory with process replicas and every Aloft error', () => {
    assert.match(line('gateway peak RSS'), /160 MiB, highest over 3 cells.*\| not met \|/);
    assert.match(line('no errors'), /3 errors and non-2xx over 8 cells.*\| not met \|/);
  });
});

describe('profile breakdown', () => {
  const result = (label: string, rps: number, decode: number): ProfileResult => ({
    label, model: 'mnist', body: 'json', connections: 64, requests: rps * 5, rps, mainUs: { 'request decode': decode, idle: 10 }, workerUs: {},
  });

  it('says whether the before column was profiled in this run or recorded earlier', () => {
    const after = [result('after: process replicas', 6000, 20)];
    const now = profileSection({ baseline: { commit: 'abc1234', recorded: 'this run', result: result('before', 5000, 38) }, results: after });
    assert.match(now, /commit abc1234 .*built from a git worktree and profiled in this run/);
    assert.match(now, /request decode 38\.0 → 20\.0 \(process replicas\)/);
    const old = profileSection({ baseline: { commit: 'abc1234', recorded: '2026-01-02', result: result('before', 5000, 38) }, results: after });
    assert.match(old, /on 2026-01-02 \(`bench\/profile-baseline\.json` says how; this run could not build it\)/);
  });

  it('sorts frames into request stages', () => {
    assert.equal(stageOf('(idle)', ''), 'idle');
    assert.equal(stageOf('(garbage collector)', ''), 'garbage collection');
    assert.equal(stageOf('parseDataRange', 'file:///x/dist/runtime/codec/json-fast.js'), 'request decode');
    assert.equal(stageOf('parse', ''), 'request decode');
    assert.equal(stageOf('floatsText', 'file:///x/dist/runtime/codec/json-data.js'), 'response encode');
    assert.equal(stageOf('identify', 'file:///x/dist/security/authenticator.js'), 'authentication');
    assert.equal(stageOf('hash', 'node:internal/crypto/hash'), 'authentication');
    assert.equal(stageOf('writev', ''), 'HTTP write (syscall)');
    assert.equal(stageOf('postMessage', ''), 'hop to replicas');
    assert.equal(stageOf('find', 'file:///x/node_modules/find-my-way/index.js'), 'routing, hooks, reply (Fastify or lean path)');
    assert.equal(stageOf('serve', 'file:///x/dist/gateway/lean-infer.js'), 'routing, hooks, reply (Fastify or lean path)');
    assert.equal(stageOf('serve', 'file:///x/dist/gateway/pipeline.js'), 'routing, hooks, reply (Fastify or lean path)');
    assert.equal(stageOf('pump', 'file:///x/dist/gateway/fronts/wire.js'), 'HTTP read and parse');
    assert.equal(stageOf('somethingElse', 'file:///x/dist/other.js'), 'other JavaScript');
  });

  it('counts only samples inside the window, by their self time', () => {
    const profile = {
      nodes: [
        { id: 1, callFrame: { functionName: '(idle)', url: '' } },
        { id: 2, callFrame: { functionName: 'writev', url: '' } },
        { id: 3, callFrame: { functionName: 'parseDataRange', url: 'file:///x/dist/runtime/codec/json-fast.js' } },
      ],
      startTime: 1000,
      // sample times: 1010, 1030, 1060, 1100, 1150
      samples: [3, 2, 3, 1, 3],
      timeDeltas: [10, 20, 30, 40, 50],
    };
    const t = stageTimes(profile, 1025, 1100);
    assert.deepEqual(Object.fromEntries(t), { 'HTTP write (syscall)': 20, 'request decode': 30, idle: 40 });
  });
});

describe('BENCHMARKS.md', () => {
  it('keeps the sections other benches own, with their prose, from the first of them to the end', () => {
    const doc = '# Benchmarks\n\n## Targets\n\nx\n\n## What this shows\n\ny\n\n## Shadow\n\n<!-- shadow:start -->\nt\n<!-- shadow:end -->\n\nprose\n\n## Autoscaling\n\n<!-- autoscale:start -->\nu\n<!-- autoscale:end -->\n';
    assert.equal(ownedSections(doc), '## Shadow\n\n<!-- shadow:start -->\nt\n<!-- shadow:end -->\n\nprose\n\n## Autoscaling\n\n<!-- autoscale:start -->\nu\n<!-- autoscale:end -->');
    assert.equal(ownedSections('# B\n\n## Targets\n\nx\n'), '');
  });
});
