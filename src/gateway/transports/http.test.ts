import { HttpTransport } from './http.js';
import { runTransportSuite, spawnReplica } from './transport.case.js';

runTransportSuite('http (replica process)', {
  async start(spec) {
    const replica = await spawnReplica(spec);
    const transport = new HttpTransport({ url: `http://127.0.0.1:${replica.port}`, model: spec.servedAs, connections: 2 });
    return { transport, kill: replica.kill, close: async () => { await transport.close(); if (replica.alive()) await replica.kill(); } };
  },
}, 'process');
