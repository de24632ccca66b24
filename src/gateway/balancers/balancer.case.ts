/**
 * Conformance suite every balancer runs: it never picks an unavailable replica, returns
 * undefined when none is available, spreads equal load over every replica, and keeps
 * work off a replica that is far busier than the others.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Balancer, Candidate, Random } from './types.js';

/** A seeded generator (mulberry32) so the suite is deterministic. */
export function seeded(seed: number): Random {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Slot extends Candidate { outstanding: number; available: boolean }

function slots(n: number): Slot[] {
  return Array.from({ length: n }, (_, i) => ({ id: `r${i}`, outstanding: 0, available: true }));
}

export function runBalancerSuite(name: string, make: (random: Random) => Balancer, opts: { loadAware: boolean }): void {
  test(`${name}: returns undefined when nothing is available`, () => {
    const b = make(seeded(1));
    assert.equal(b.pick([]), undefined);
    const s = slots(3);
    for (const c of s) c.available = false;
    assert.equal(b.pick(s), undefined);
  });

  test(`${name}: never picks an unavailable replica`, () => {
    const b = make(seeded(2));
    const s = slots(5);
    s[0]!.available = false;
    s[3]!.available = false;
    for (let i = 0; i < 1000; i++) {
      const c = b.pick(s);
      assert.ok(c && c.available, `picked ${c?.id}`);
    }
  });

  test(`${name}: the only available replica is always picked`, () => {
    const b = make(seeded(3));
    const s = slots(4);
    for (const c of s) c.available = c.id === 'r2';
    for (let i = 0; i < 100; i++) assert.equal(b.pick(s)?.id, 'r2');
  });

  test(`${name}: spreads equal load over every replica`, () => {
    const b = make(seeded(4));
    const s = slots(4);
    const counts = new Map<string, number>();
    for (let i = 0; i < 4000; i++) {
      const c = b.pick(s)!;
      counts.set(c.id, (counts.get(c.id) ?? 0) + 1);
    }
    for (const c of s) {
      const n = counts.get(c.id) ?? 0;
      assert.ok(n > 700 && n < 1300, `${c.id} got ${n} of 4000`);
    }
  });

  if (opts.loadAware) {
    test(`${name}: keeps work off a replica that is much busier`, () => {
      const b = make(seeded(5));
      const s = slots(3);
      s[1]!.outstanding = 50;
      let busy = 0;
      for (let i = 0; i < 3000; i++) if (b.pick(s)?.id === 'r1') busy++;
      assert.equal(busy, 0, 'with two idle replicas, the busy one should never win a pair');
    });

    test(`${name}: simulated queueing keeps the spread of outstanding work small`, () => {
      const random = seeded(6);
      const b = make(random);
      const s = slots(8);
      let maxSpread = 0;
      for (let step = 0; step < 20000; step++) {
        b.pick(s)!.outstanding++;
        // complete a random piece of outstanding work
        const busy = s.filter((c) => c.outstanding > 0);
        const done = busy[Math.floor(random() * busy.length)];
        if (done && step % 2 === 0) done.outstanding--;
        if (step > 1000) {
          const os = s.map((c) => c.outstanding);
          maxSpread = Math.max(maxSpread, Math.max(...os) - Math.min(...os));
        }
      }
      assert.ok(maxSpread < 40, `spread of outstanding work reached ${maxSpread}`);
    });
  }
}
