/**
 * Leases on SQLite and PostgreSQL, on a stepped clock: one holder at a time, renewals,
 * takeover once a lease runs out, release, and two processes asking at the same instant.
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { ManualClock } from '../clock.js';
import type { Store } from './db.js';
import { hostname } from 'node:os';
import { Lease, Membership } from './leases.js';
import { testDialects, type TestDatabase } from './testing/databases.js';

for (const target of await testDialects()) {
  describe(`leases: ${target.name}`, { skip: target.skip ?? false }, () => {
    let database: TestDatabase;
    let store: Store;
    let other: Store;
    beforeEach(async () => {
      database = await target.create();
      store = await database.open();
      other = await database.open(); // a second process's own connection
    });
    afterEach(async () => {
      await other?.close();
      await store?.close();
      await database?.cleanup();
    });

    test('one holder at a time; it renews; another takes over once it runs out; a release frees it at once', async () => {
      const clock = new ManualClock(Date.UTC(2026, 0, 1));
      const a = new Lease(store, { name: 'alerts', holder: 'a', clock });
      const b = new Lease(other, { name: 'alerts', holder: 'b', clock });
      assert.equal(await a.hold(30_000), true, 'free: taken');
      assert.equal(await b.hold(30_000), false, 'held by a');
      assert.equal(b.held, false);
      const first = await b.current();
      assert.equal(first?.holder, 'a');
      clock.advance(20_000);
      assert.equal(await a.hold(30_000), true, 'renewed');
      clock.advance(20_000);
      assert.equal(await b.hold(30_000), false, 'the renewal moved the end: still a\'s at 40 s');
      const renewed = await b.current();
      assert.equal(renewed?.acquiredAt, first?.acquiredAt, 'a renewal keeps when it was taken');
      assert.equal(renewed?.expiresAt, new Date(Date.UTC(2026, 0, 1) + 50_000).toISOString());
      clock.advance(10_000); // a has not renewed for 30 s: run out
      assert.equal(await b.current(), undefined, 'an expired lease is nobody\'s');
      assert.equal(await b.hold(30_000), true, 'taken over');
      assert.equal(await a.hold(30_000), false, 'the old holder cannot take it back while b holds it');
      assert.equal(a.held, false);
      await b.release();
      assert.equal(await a.hold(30_000), true, 'released: free at once');
      await b.release(); // not b's: changes nothing
      assert.equal((await b.current())?.holder, 'a');
    });

    test('two processes asking at the same instant: exactly one holds it', async () => {
      const clock = new ManualClock(Date.UTC(2026, 0, 1));
      for (let round = 0; round < 10; round++) {
        const name = `race-${round}`;
        const a = new Lease(store, { name, holder: 'a', clock });
        const b = new Lease(other, { name, holder: 'b', clock });
        const got = await Promise.all([a.hold(30_000), b.hold(30_000)]);
        assert.equal(got.filter(Boolean).length, 1, `round ${round}: ${got}`);
      }
    });

    test('membership: each process counts the others that renew; a clean stop leaves at once; a dead process of this host is nobody', async () => {
      const clock = new ManualClock(Date.UTC(2026, 0, 1));
      const { spawnSync } = await import('node:child_process');
      const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout;
      const me = new Membership(store, { holder: `${hostname()}/${process.pid}/aaa`, clock });
      const peer = new Membership(other, { holder: `${hostname()}/${process.ppid}/bbb`, clock });
      const elsewhere = new Membership(other, { holder: 'other-host/1/ccc', clock });
      const crashed = new Membership(other, { holder: `${hostname()}/${dead}/ddd`, clock });
      for (const m of [me, peer, elsewhere, crashed]) await m.renew(15_000);
      assert.equal(await me.peers(), 2, 'the live peer and the one on another host; not the crashed one of this host');
      await peer.release();
      assert.equal(await me.peers(), 1);
      clock.advance(15_001);
      assert.equal(await me.peers(), 0, 'run out: gone');
    });
  });
}
