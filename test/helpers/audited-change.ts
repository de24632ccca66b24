/**
 * Child process for the crash test of issue 17.2: makes one audited change and, when told,
 * kills itself with SIGKILL at an exact point inside the change's transaction: after the
 * change is written and before its audit entry (`before-audit`), or after both and before
 * the commit (`after-audit`). `none` lets it commit. Prints nothing; the parent reads the
 * store afterwards.
 *
 * Usage: node --import tsx audited-change.ts <store url> <state dir> <register|key|alias> <before-audit|after-audit|none> [model file]
 */
import { join } from 'node:path';
import { ArtifactStore } from '../../src/registry/artifacts.js';
import { Registry } from '../../src/registry/registry.js';
import { AuditLog, SYSTEM_ACTOR } from '../../src/security/audit.js';
import { generateKey, hashSecret } from '../../src/security/keys.js';
import { openStore, type Store } from '../../src/store/db.js';
import { KeyRepository } from '../../src/store/keys.js';

const [url, stateDir, change, kill, modelFile] = process.argv.slice(2);
if (!url || !stateDir || !change || !kill) throw new Error('usage: audited-change.ts <url> <stateDir> <register|key|alias> <before-audit|after-audit|none> [model file]');

const store = await openStore({ url, stateDir });
const audit = new AuditLog(store);
const record = async (tx: Store, target: string) => {
  if (kill === 'before-audit') process.kill(process.pid, 'SIGKILL');
  await audit.append({ actor: SYSTEM_ACTOR, action: `test.${change}`, target, source: 'test' }, tx);
  if (kill === 'after-audit') process.kill(process.pid, 'SIGKILL');
};

const registry = new Registry(store, new ArtifactStore(join(stateDir, 'artifacts')));
if (change === 'register') {
  await registry.register('m', modelFile!, { record: (tx, v) => record(tx, `m@${v.version}`) });
} else if (change === 'alias') {
  await registry.setAlias('m', 'production', 1, (tx, c) => record(tx, `m@${c.alias}`));
} else if (change === 'key') {
  const k = generateKey();
  await new KeyRepository(store).create({ id: k.id, name: 'ops', role: 'admin', secretHash: hashSecret(k.secret) }, (tx, key) => record(tx, key.name));
}
await store.close();
