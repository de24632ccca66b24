/**
 * Real keys for gateway tests: a fresh SQLite store with the admin key made as `aloft up`
 * makes it (ensureAdminKey), and an authenticator loaded from it.
 */
import { readFile } from 'node:fs/promises';
import type { Clock } from '../../src/clock.js';
import { Authenticator } from '../../src/security/authenticator.js';
import { ensureAdminKey } from '../../src/security/bootstrap.js';
import type { Store } from '../../src/store/db.js';
import { KeyRepository } from '../../src/store/keys.js';
import { testDialects } from '../../src/store/testing/databases.js';

export interface KeyStore {
  store: Store;
  keys: KeyRepository;
  /** The admin key's token. */
  admin: string;
  /** A new authenticator over these keys, loaded. */
  authenticator(): Promise<Authenticator>;
  close(): Promise<void>;
}

export async function keyStore(clock: Clock): Promise<KeyStore> {
  const [sqlite] = await testDialects();
  const database = await sqlite!.create();
  const store = await database.open();
  const keys = new KeyRepository(store, { now: () => clock.date() });
  const boot = await ensureAdminKey({ keys, stateDir: database.stateDir, env: {} });
  const admin = (await readFile(boot.file!, 'utf8')).trim();
  return {
    store, keys, admin,
    async authenticator() {
      const a = new Authenticator({ keys, clock });
      await a.load();
      return a;
    },
    async close() {
      await store.close();
      await database.cleanup();
    },
  };
}
