import { spawn } from 'node:child_process';
import { replicaEntry } from '../../runtime/entry.js';
import { replicaArgs, replicaOptionsOf } from '../../runtime/replica-spec.js';
import { HttpTransport } from './http.js';
import { runTransportSuite } from './transport.case.js';

runTransportSuite('http (replica process)', {
  async start(spec) {
    const entry = replicaEntry();
    const child = spawn(entry.command, [...entry.args, ...replicaArgs(replicaOptionsOf(spec, { host: '127.0.0.1', port: 0 }))], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    const port = await new Promise<number>((resolve, reject) => {
      child.on('message', (m: { type?: string; port?: number; message?: string }) => {
        if (m.type === 'ready') resolve(m.port!);
        if (m.type === 'error') reject(new Error(m.message));
      });
      child.once('exit', (code) => reject(new Error(`the replica exited (${code}) before it was ready`)));
    });
    const transport = new HttpTransport({ url: `http://127.0.0.1:${port}`, model: spec.servedAs, connections: 2 });
    const kill = async () => { child.kill('SIGKILL'); await exited; };
    return { transport, kill, close: async () => { await transport.close(); if (child.exitCode === null && child.signalCode === null) await kill(); } };
  },
}, 'process');
