import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DURATION_PATTERN, SIZE_PATTERN, formatDuration, formatSize, parseDuration, parseSize } from './units.js';

test('durations normalize to milliseconds', () => {
  assert.equal(parseDuration('500us'), 0.5);
  assert.equal(parseDuration('300us'), 0.3);
  assert.equal(parseDuration('500µs'), 0.5);
  assert.equal(parseDuration('2ms'), 2);
  assert.equal(parseDuration('1.5ms'), 1.5);
  assert.equal(parseDuration('30s'), 30_000);
  assert.equal(parseDuration('2m'), 120_000);
  assert.equal(parseDuration('1h'), 3_600_000);
  assert.equal(parseDuration('30d'), 30 * 86_400_000);
  assert.equal(parseDuration('2w'), 14 * 86_400_000);
  assert.equal(parseDuration('1w2d'), 9 * 86_400_000);
  assert.equal(parseDuration('1d12h'), 36 * 3_600_000);
  assert.equal(parseDuration('1m30s'), 90_000);
  assert.equal(parseDuration('0'), 0);
  assert.equal(parseDuration('0ms'), 0);
  assert.equal(parseDuration(250), 250);
  assert.equal(parseDuration(0.25), 0.25);
});

test('invalid durations are rejected', () => {
  for (const bad of ['', '30', '30 s', '30sec', '-1s', '1.s', '.5s', 's', '1y', '30S', ' 30s', '1m 30s', -1, Number.NaN, Infinity, true, null, {}]) {
    assert.equal(parseDuration(bad), undefined, String(bad));
  }
});

test('sizes normalize to bytes, units case-insensitive', () => {
  assert.equal(parseSize('32MiB'), 32 * 1024 * 1024);
  assert.equal(parseSize('8mb'), 8_000_000);
  assert.equal(parseSize('8MB'), 8_000_000);
  assert.equal(parseSize('1KiB'), 1024);
  assert.equal(parseSize('1kib'), 1024);
  assert.equal(parseSize('2KB'), 2000);
  assert.equal(parseSize('1GiB'), 1024 ** 3);
  assert.equal(parseSize('1gb'), 1e9);
  assert.equal(parseSize('1.5KiB'), 1536);
  assert.equal(parseSize('100B'), 100);
  assert.equal(parseSize('100'), 100);
  assert.equal(parseSize('32 MiB'), 32 * 1024 * 1024);
  assert.equal(parseSize(4096), 4096);
});

test('invalid sizes are rejected', () => {
  for (const bad of ['', 'MiB', '32M', '32 mebibytes', '-1KB', '1TB', '1.5.5KB', ' 1KB', 1.5, -1, Number.NaN, false, null]) {
    assert.equal(parseSize(bad), undefined, String(bad));
  }
});

test('the JSON Schema patterns accept exactly what the parsers accept', () => {
  const durations = ['500us', '500µs', '2ms', '1.5ms', '30s', '1m30s', '0', '0ms', '', '30', '30 s', '1d', '-1s', '1.s'];
  const duration = new RegExp(DURATION_PATTERN);
  for (const d of durations) assert.equal(duration.test(d), parseDuration(d) !== undefined, d);
  const sizes = ['32MiB', '8mb', '1kib', '100B', '100', '32 MiB', '1.5KiB', '', 'MiB', '32M', '1TB', ' 1KB', '1kB', '2Gb'];
  const size = new RegExp(SIZE_PATTERN);
  for (const s of sizes) assert.equal(size.test(s), parseSize(s) !== undefined, s);
});

test('format durations and sizes the way they are written', () => {
  assert.equal(formatDuration(30_000), '30s');
  assert.equal(formatDuration(90_000), '90s');
  assert.equal(formatDuration(120_000), '2m');
  assert.equal(formatDuration(86_400_000 * 30), '30d');
  assert.equal(formatDuration(0.5), '500us');
  assert.equal(formatDuration(2), '2ms');
  assert.equal(formatDuration(0), '0ms');
  assert.equal(formatDuration(1008 * 60_000), '16h48m', 'an SLO\'s burn window (30d × 14.4 / 720)');
  assert.equal(formatDuration(84 * 60_000), '84m');
  assert.equal(formatDuration(125_000), '2m5s');
  for (const ms of [1008 * 60_000, 125_000, 4 * 86_400_000 + 3_600_000, 90_000, 1500]) assert.equal(parseDuration(formatDuration(ms)), ms, 'reads back');
  assert.equal(formatSize(32 * 1024 * 1024), '32MiB');
  assert.equal(formatSize(8_000_000), '8000000B');
  assert.equal(formatSize(1536), '1536B');
  assert.equal(formatSize(2048), '2KiB');
});
