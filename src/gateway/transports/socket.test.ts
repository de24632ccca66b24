import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { replicaEntry } from '../../runtime/entry.js';
import { replicaArgs, replicaOptionsOf } from '../../runtime/replica-spec.js';
import { SocketTransport } from './socket.js';
import { runTransportSuite } from './transport.case.js';

runTransportSuite('socket (replica process, wire protocol)', {
  async start(spec) {
    const entry = replicaEntry();
    const dir = mkdtempSync(join(tmpdir(), 'aloft-t-'));
    const path = join(dir, 'r.sock');
    const child = spawn(entry.command, [...entry.args, ...replicaArgs(replicaOptionsOf(spec, { host: '127.0.0.1', port: 0, socket: path }))], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    const socket = await new Promise<string>((resolve, reject) => {
      child.on('message', (m: { type?: string; socket?: string; message?: string }) => {
        if (m.type === 'ready') resolve(m.socket!);
        if (m.type === 'error') reject(new Error(m.message));
      });
      child.once('exit', (code) => reject(new Error(`the replica exited (${code}) before it was ready`)));
    });
    const transport = new SocketTransport(socket);
    const kill = async () => { child.kill('SIGKILL'); await exited; };
    return {
      transport, kill,
      close: async () => {
        await transport.close();
        if (child.exitCode === null && child.signalCode === null) await kill();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  },
}, 'process');
