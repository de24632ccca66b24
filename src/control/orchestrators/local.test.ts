import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { dirname } from 'node:path';
import { test } from 'node:test';
import { SocketTransport } from '../../gateway/transports/socket.js';
import { replicaEntry } from '../../runtime/entry.js';
import { LocalOrchestrator } from './local.js';
import { exampleModelTemplates, httpProbe, runOrchestratorSuite } from './orchestrator.case.js';

runOrchestratorSuite('local', {
  ...exampleModelTemplates(),
  make: () => new LocalOrchestrator({ entry: replicaEntry(), backoff: { baseMs: 20, maxMs: 200, resetAfterMs: 60_000 }, stopGraceMs: 5000 }),
  kill(_o, status) {
    process.kill(status.pid!, 'SIGKILL');
  },
  probe: (_o, status) => httpProbe(status),
  handle: (_o, status) => status.pid,
  isGone(pid) {
    try {
      process.kill(pid as number, 0);
      return false;
    } catch {
      return true;
    }
  },
});

test('a ready process replica reports a fresh socket of its own (0600, in a 0700 folder) that answers frames; stop removes the folder', async () => {
  const t = exampleModelTemplates();
  const o = new LocalOrchestrator({ entry: replicaEntry(), stopGraceMs: 5000 });
  try {
    const spec = await t.template();
    await o.apply([{ key: 'm@1', deployment: 'm', replicas: 2, spec }]);
    const ready = await until(() => { const s = o.status(); return s.length === 2 && s.every((r) => r.state === 'ready') ? s : undefined; });
    const sockets = ready.map((r) => r.socket!);
    assert.equal(new Set(sockets).size, 2, 'one socket per replica');
    for (const path of sockets) {
      assert.equal(statSync(path).mode & 0o777, 0o600);
      assert.equal(statSync(dirname(path)).mode & 0o777, 0o700);
      const transport = new SocketTransport(path);
      const [y] = await transport.infer([{ name: 'features', datatype: 'FP32', shape: [1, 22], data: new Float32Array(22).fill(0.5) }]);
      assert.deepEqual(y!.shape, [1, 1]);
      await transport.close();
    }
    // SIGHUP (a terminal hanging up on the group, or `timeout`) is the gateway's: a replica keeps serving.
    process.kill(ready[1]!.pid!, 'SIGHUP');
    const hup = new SocketTransport(sockets[1]!);
    const [z] = await hup.infer([{ name: 'features', datatype: 'FP32', shape: [1, 22], data: new Float32Array(22).fill(0.5) }]);
    assert.deepEqual(z!.shape, [1, 1], 'answers after SIGHUP');
    await hup.close();
    assert.equal(o.status().find((r) => r.id === ready[1]!.id)!.pid, ready[1]!.pid, 'the same process');
    // A replica that restarts gets a new path, never its predecessor's.
    process.kill(ready[0]!.pid!, 'SIGKILL');
    const again = await until(() => o.status().find((r) => r.id === ready[0]!.id && r.state === 'ready' && r.pid !== ready[0]!.pid));
    assert.ok(again.socket && !sockets.includes(again.socket), `a fresh socket after a restart (${again.socket})`);
    await o.stop();
    assert.throws(() => statSync(dirname(sockets[0]!)), /ENOENT/, 'the socket folder is removed on stop');
  } finally {
    await o.stop();
    await t.cleanup!();
  }
});

async function until<T>(f: () => T | undefined, ms = 30_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = f();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 20));
  }
}
