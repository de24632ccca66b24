import assert from 'node:assert/strict';
import { test } from 'node:test';
import { seeded } from '../../gateway/balancers/balancer.case.js';
import { decodeInferRequest } from './decode-request.js';
import { extractDataArrays, parseDataRange } from './json-fast.js';

function body(data: string, datatype = 'FP32', shape = '[1, 40]', extra = ''): Buffer {
  return Buffer.from(`{"id":"a \\"data\\": [1]","inputs":[{"name":"x","datatype":"${datatype}","shape":${shape},"data":${data}${extra}}]}`);
}

function floats(n: number, seed: number): number[] {
  const r = seeded(seed);
  return Array.from({ length: n }, (_, i) => (r() - 0.5) * 10 ** ((i % 13) - 6));
}

test('FP32 data decoded from the bytes equals Math.fround(JSON.parse) on a million random numbers', () => {
  const r = seeded(7);
  let mismatches = 0;
  let total = 0;
  for (let batch = 0; batch < 1000; batch++) {
    const values = Array.from({ length: 1000 }, (_, i) => {
      const x = (r() - 0.5) * 10 ** Math.floor(r() * 14 - 7);
      return i % 3 === 0 ? String(x) : i % 3 === 1 ? x.toPrecision(1 + (i % 17)) : String(Math.fround(x));
    });
    const text = values.join(',');
    const buf = Buffer.from(text);
    const out = parseDataRange(buf, 0, buf.length, 'FP32', values.length) as Float32Array;
    assert.ok(out, 'parsed');
    for (let i = 0; i < values.length; i++) {
      total++;
      if (out[i] !== Math.fround(Number(values[i]))) mismatches++;
    }
  }
  assert.equal(total, 1_000_000);
  assert.equal(mismatches, 0);
});

test('FP64 and integer data are exact; the request decodes as the ordinary path would', () => {
  for (const [dt, values] of [
    ['FP64', floats(50, 3)],
    ['INT32', Array.from({ length: 50 }, (_, i) => (i - 25) * 40_000_000)],
    ['UINT8', Array.from({ length: 50 }, (_, i) => i * 5)],
    ['FP32', floats(50, 4)],
  ] as const) {
    const b = body(JSON.stringify(values), dt, '[1, 50]');
    assert.ok(extractDataArrays(b, b.length), 'the fast path applies');
    const fast = decodeInferRequest(b);
    const slow = decodeInferRequest(Buffer.from(JSON.stringify(JSON.parse(b.toString())).replace(/"data":\[/, '"data":[[').replace(/\]\}\]\}$/, ']]}]}').replace('"shape":[1,50]', '"shape":[1,50]')));
    assert.deepEqual([...(fast.inputs[0]!.data as Float64Array)], [...(slow.inputs[0]!.data as Float64Array)], dt);
    assert.equal(fast.id, 'a "data": [1]', 'a "data" inside a string is not touched');
  }
});

test('anything unusual takes the ordinary path and gets its exact error', () => {
  const cases: [string, string, RegExp][] = [
    [`[${'1,'.repeat(39)}NaN]`, 'FP32', /not valid JSON/],
    [`[${'1,'.repeat(39)}1e39]`, 'FP32', /FP32|range/],
    [`[${'1,'.repeat(39)}01]`, 'FP32', /not valid JSON/],
    [`[${'1,'.repeat(38)}1]`, 'FP32', /39 elements/],
    [`[${'1,'.repeat(39)}1.5]`, 'INT32', /integer|INT32/],
    [`[${'1,'.repeat(39)}300]`, 'UINT8', /UINT8|range/],
    [`[${'1,'.repeat(39)}1,]`, 'FP32', /not valid JSON/],
  ];
  for (const [data, dt, re] of cases) {
    assert.throws(() => decodeInferRequest(body(data, dt)), (e: Error) => re.test(e.message) && !e.message.includes('aloft-fast-data'), `${dt} ${data.slice(-12)}`);
  }
});

test('a "data" array outside an input is not taken as tensor data', () => {
  const numbers = `[${'1,'.repeat(39)}1]`;
  const b = Buffer.from(`{"parameters":{"data":${numbers}},"inputs":[{"name":"x","datatype":"FP32","shape":[1,40],"data":${numbers}}]}`);
  assert.throws(() => decodeInferRequest(b), /parameter 'data' is an array; parameter values must be strings, numbers or booleans/);
});

test('nested data, BOOL and INT64 are left to the ordinary path and still decode', () => {
  const nested = decodeInferRequest(body(`[[${'1,'.repeat(39)}2]]`));
  assert.equal((nested.inputs[0]!.data as Float32Array)[39], 2);
  const bools = decodeInferRequest(body(`[${'true,'.repeat(39)}false]`, 'BOOL'));
  assert.equal((bools.inputs[0]!.data as Uint8Array)[39], 0);
  const big = decodeInferRequest(body(`[${'1,'.repeat(39)}9007199254740991]`, 'INT64'));
  assert.equal((big.inputs[0]!.data as BigInt64Array)[39], 9007199254740991n);
});

test('zeros, signs, separators and long numbers: the fast path agrees with JSON.parse or declines', () => {
  const cases = [
    '0', '0,0', ' 0 , 0 ', '0 ,0', '0, 0', '1,0,2', '0,1.5,0', '-0,0', '0.0,0', '0e1,0', '0,-0', '\n0\t,\r0',
    '-0.0,-1.25', '123456789012345,1', '0.1234567890123456,-0.12345678901234567', '1234567890.123456789', '0.12345678901234567890',
    '12345678901234567890', '1e5,2E-3', '3.4028235e38,1', '-7,-0.5',
    // invalid: the fast path must decline (undefined), never invent a value
    '00', '0,', ',0', '0,,0', '0 0', '01', '0,00', '0x1', '0.,0', '1,,', ',', '', '-', '-.5', '.5', '1.', '+1', '1,2,', '--1', '1-', '3.5e39',
  ];
  for (const text of cases) {
    const buf = Buffer.from(`[${text}]`);
    let expected: number[] | undefined;
    try {
      expected = JSON.parse(`[${text}]`) as number[];
    } catch {
      expected = undefined;
    }
    const count = expected?.length ?? text.split(',').length;
    const got = parseDataRange(buf, 1, buf.length - 1, 'FP32', count) as Float32Array | undefined;
    if (expected === undefined) {
      assert.equal(got, undefined, `'${text}' is not valid JSON and must be declined`);
    } else if (got !== undefined) {
      assert.deepEqual([...got].map((v) => Object.is(v, -0) ? '-0' : v), expected.map((v) => Object.is(v, -0) ? '-0' : Math.fround(v)), `'${text}'`);
    }
  }
  // A count that does not match the shape is declined (the ordinary path reports it).
  const three = Buffer.from('[1,2.5,-3]');
  assert.equal(parseDataRange(three, 1, three.length - 1, 'FP32', 2), undefined);
  assert.equal(parseDataRange(three, 1, three.length - 1, 'FP32', 4), undefined);
  // The common forms are taken by the fast path, not declined.
  for (const text of ['0,0', ' 0 , 0 ', '1,0,2', '0,1.5,0', '-0.0,-1.25', '0.1234567890123456,-0.12345678901234567']) {
    const buf = Buffer.from(`[${text}]`);
    assert.ok(parseDataRange(buf, 1, buf.length - 1, 'FP32', text.split(',').length), `'${text}' is fast-pathed`);
  }
});

test('FP32 values at a float32 rounding midpoint, written with 17 to 19 digits, round as JSON.parse does', () => {
  // Each string is within a few units in its last digit of the exact midpoint between two
  // adjacent float32 values: the fast parse's small error could flip the rounding there.
  const r = seeded(11);
  const f32 = new Float32Array(1);
  const u32 = new Uint32Array(f32.buffer);
  const texts: string[] = [];
  for (let k = 0; k < 20_000; k++) {
    f32[0] = (r() - 0.5) * 10 ** Math.floor(r() * 10 - 5);
    const f = f32[0]!;
    u32[0] = u32[0]! + 1;
    const mid = (f + f32[0]!) / 2; // exact in double
    const digits = 17 + (k % 3);
    const text = mid.toPrecision(digits);
    // The midpoint as written, and one unit in its last digit either side.
    const [m, e = ''] = text.split('e');
    const last = Number(m!.at(-1));
    texts.push(text);
    if (last > 0) texts.push(`${m!.slice(0, -1)}${last - 1}${e ? `e${e}` : ''}`);
    if (last < 9) texts.push(`${m!.slice(0, -1)}${last + 1}${e ? `e${e}` : ''}`);
  }
  const buf = Buffer.from(texts.join(','));
  const out = parseDataRange(buf, 0, buf.length, 'FP32', texts.length) as Float32Array;
  assert.ok(out, 'parsed');
  let mismatches = 0;
  for (let i = 0; i < texts.length; i++) if (out[i] !== Math.fround(Number(texts[i]))) mismatches++;
  assert.equal(mismatches, 0);
});
