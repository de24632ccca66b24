/**
 * The replica program: `node replica-main.js --model <path> --name <model> --version <n>
 * [--sha256 <hex>] [--host 127.0.0.1] [--port 0] [--socket <path>] [--intra-op-threads N]
 * [--inter-op-threads N] [--graph-optimization all|extended|basic|disabled]
 * [--execution-mode sequential|parallel] [--allow-spinning on|off]`.
 *
 * When the model is verified, loaded, warmed up and the port listens, it reports ready:
 * an IPC message `{ type: 'ready', port, socket, pid, startup }` when started with an IPC
 * channel, and always one stdout line `{"event":"ready","port":N,"pid":N,…}` (`socket`
 * when it serves the wire protocol, runtime/wire.ts, on a Unix socket). On a startup failure it
 * reports `{"event":"error","code","message"}` (IPC `{ type: 'error', code, message }`)
 * and exits 1. SIGTERM/SIGINT (or the parent closing the IPC channel) drain and exit 0;
 * SIGHUP is ignored (the gateway's signal, sent to the group by a terminal or `timeout`).
 */
import { isAloftError } from '../errors.js';
import { startReplica, type RunningReplica } from './replica.js';
import { parseReplicaArgs } from './replica-spec.js';

function report(ipc: Record<string, unknown>, line: Record<string, unknown>, then?: () => void): void {
  process.stdout.write(`${JSON.stringify(line)}\n`);
  if (process.send && process.connected) process.send(ipc, () => then?.());
  else then?.();
}

async function main(): Promise<void> {
  // Since the process started: node's boot and this program's imports (ONNX Runtime's included).
  const bootMs = performance.now();
  let replica: RunningReplica | undefined;
  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    void (replica?.close() ?? Promise.resolve()).then(
      () => process.exit(0),
      (e: unknown) => { console.error(JSON.stringify({ event: 'shutdown-error', message: String(e) })); process.exit(1); },
    );
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  // SIGHUP is the gateway's (it reloads TLS): one sent to the whole process group must not stop every replica.
  process.on('SIGHUP', () => undefined);
  // An orphaned child replica (its parent gone) shuts down instead of holding the model.
  if (process.send) process.once('disconnect', stop);
  try {
    replica = await startReplica(parseReplicaArgs(process.argv.slice(2)));
  } catch (e) {
    const code = isAloftError(e) ? e.code : 'ALOFT_REPLICA_START';
    const message = e instanceof Error ? e.message : String(e);
    if (!isAloftError(e)) console.error(e);
    report({ type: 'error', code, message }, { event: 'error', code, message }, () => process.exit(1));
    return;
  }
  const startup = { bootMs, ...replica.startup };
  const socket = replica.socket !== undefined ? { socket: replica.socket } : {};
  report({ type: 'ready', port: replica.port, ...socket, pid: process.pid, startup }, { event: 'ready', port: replica.port, ...socket, pid: process.pid, startup });
}

void main();
