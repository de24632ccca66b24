// Opens COUNT idle TCP connections to HOST:PORT (never sends a byte), prints
// {"open":N,"failed":M} once all attempts settle, then {"closed":K} each time stdin
// receives a line. Exits when stdin ends or after 120 s. Bounded, 127.0.0.1 only.
import { connect, type Socket } from 'node:net';
import { createInterface } from 'node:readline';

const [host = '127.0.0.1', portText = '0', countText = '10000'] = process.argv.slice(2);
if (host !== '127.0.0.1' && host !== 'localhost') throw new Error('only loopback targets are allowed');
const port = Number(portText);
const count = Math.min(20_000, Number(countText));
const sockets: Socket[] = [];
let open = 0;
let failed = 0;
let closed = 0;

function openOne(): Promise<void> {
  return new Promise((resolve) => {
    const s = connect({ host, port });
    s.once('connect', () => { open++; sockets.push(s); resolve(); });
    s.once('error', () => { failed++; resolve(); });
    s.once('close', () => { closed++; });
  });
}

for (let i = 0; i < count; i += 500) {
  await Promise.all(Array.from({ length: Math.min(500, count - i) }, openOne));
}
process.stdout.write(`${JSON.stringify({ open, failed })}\n`);
createInterface({ input: process.stdin }).on('line', () => process.stdout.write(`${JSON.stringify({ closed })}\n`));
process.stdin.on('end', () => { for (const s of sockets) s.destroy(); process.exit(0); });
setTimeout(() => process.exit(0), 120_000).unref();
await new Promise(() => undefined);
