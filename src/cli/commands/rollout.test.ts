/**
 * What `aloft rollout status` prints and `aloft apply` shows while it follows a rollout, from
 * statuses the rollouts reconciler produced on a stepped clock.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ManualClock } from '../../clock.js';
import { Rollouts } from '../../control/rollouts.js';
import { VariantWindows } from '../../monitor/variants.js';
import { rolloutSchema } from '../../spec/schema.js';
import type { RolloutSpec } from '../../spec/types.js';
import { describe, rolloutLine } from './rollout.js';

function canary(o: Record<string, unknown> = {}) {
  const clock = new ManualClock(0);
  const windows = new VariantWindows();
  const rollouts = new Rollouts({ clock, windows });
  const spec = rolloutSchema.parse({ strategy: 'canary', steps: [10, 50, 100], interval: '30s', analysis: { maxDuration: '5m' }, ...o }) as RolloutSpec;
  const g = {};
  const decide = () => rollouts.decide('d', spec, { version: 1, group: 'd@1' }, { version: 2, group: 'd@2' }, true, g);
  decide();
  /** One request a second to each version. */
  const second = (n: number) => {
    for (let i = 0; i < n; i++) {
      windows.record('d', 1, 200, 5, false);
      windows.record('d', 2, 200, 5, false);
      clock.advance(1000);
      decide();
    }
  };
  return { rollouts, second, status: () => rollouts.status()[0]! };
}

test('a step numbered 1-based with its count; the time left while the interval runs', () => {
  const w = canary();
  w.second(12);
  const text = describe(w.status());
  assert.match(text, /step 1 of 3 at 10%/);
  assert.match(text, /time left: step may move in 18s; undecided, it ends by analysis\.maxDuration in 4m 48s/);
  assert.equal(w.status().step, 0, 'the JSON keeps the index into steps');
});

test('after the interval, waiting for data is said as such, never "in 0s"; the check shown is the newest', () => {
  const w = canary();
  w.second(40);
  const text = describe(w.status());
  assert.doesNotMatch(text, /in 0s/);
  assert.match(text, /the step's interval has passed; it moves once the analysis passes; undecided, it ends by analysis\.maxDuration in 4m 20s/);
  assert.match(text, /last check \(step 1, 10%, \d{4}-\d\d-\d\dT00:00:40\.000Z\): hold/);
  assert.match(text, /too little data \(40 of 100 observations needed per variant\)/);
  assert.match(text, /outputs: {3}inconclusive \(recorded, not a gate\): too little data/, 'a check outside analysis.gates says it does not decide');
  assert.match(text, /failures: {2}inconclusive: too little data/, 'a gate says nothing more');
  assert.equal(w.status().check!.failures.candidate, 0, 'the JSON share is the observed one, 0 of 40');
  assert.match(rolloutLine(w.status()), /^canary v1 → v2, step 1 of 3 at 10%, gathering data \(v2 40, v1 40 answers in this step; undecided, it ends by analysis\.maxDuration in 4m 20s\)$/, "apply's progress line says when an idle step ends");
});

test('paused: it says what holds it and how to go on', () => {
  const w = canary();
  w.second(5);
  w.rollouts.pause('d');
  w.second(40);
  const text = describe(w.status());
  assert.match(text, /paused: no step moves and nothing is decided until 'aloft rollout resume d'/);
  assert.doesNotMatch(text, /time left/);
  assert.match(rolloutLine(w.status()), /, paused$/);
});
