/**
 * Child process for the cross-process concurrency test: opens the store at argv[2] and
 * adds `count` versions with distinct hashes to one model, then prints their numbers as JSON.
 * Usage: node --import tsx writer.ts <url> <stateDir> <model> <tag> <count>
 */
import { createHash } from 'node:crypto';
import { openStore } from '../db.js';
import { ModelRepository } from '../models.js';

const [url, stateDir, model, tag, count] = process.argv.slice(2);
if (!url || !stateDir || !model || !tag || !count) throw new Error('usage: writer.ts <url> <stateDir> <model> <tag> <count>');
const store = await openStore({ url, stateDir });
try {
  const repo = new ModelRepository(store);
  const versions: number[] = [];
  for (let i = 0; i < Number(count); i++) {
    const sha256 = createHash('sha256').update(`${tag}-${i}`).digest('hex');
    const { version } = await repo.addVersion({ model, sha256, sizeBytes: i, sourcePath: `${tag}-${i}.onnx`, signature: {} });
    versions.push(version.version);
  }
  process.stdout.write(JSON.stringify(versions));
} finally {
  await store.close();
}
