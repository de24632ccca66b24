import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SocketTransport } from './socket.js';
import { runTransportSuite, spawnReplica } from './transport.case.js';

runTransportSuite('socket (replica process, wire protocol)', {
  async start(spec) {
    const dir = mkdtempSync(join(tmpdir(), 'aloft-t-'));
    const replica = await spawnReplica(spec, { socket: join(dir, 'r.sock') });
    const transport = new SocketTransport(replica.socket!);
    return {
      transport, kill: replica.kill,
      close: async () => {
        await transport.close();
        if (replica.alive()) await replica.kill();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  },
}, 'process');
