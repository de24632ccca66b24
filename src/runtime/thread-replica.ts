/**
 * A replica as a worker thread (runtime.isolation: thread): the same model session as the
 * replica process, inside the Aloft process. Batches arrive as messages and leave as
 * messages — no HTTP, no second process to wake — while inference still runs off the
 * gateway's event loop. The price: a native crash in ONNX Runtime ends the whole process.
 *
 * Messages in: {type:'infer', id, inputs: Tensor[]} | {type:'stop'}.
 * Messages out: {type:'ready'} | {type:'error', code, message} (then exit 1)
 *             | {type:'result', id, outputs} | {type:'failed', id, code, message}.
 */
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import { isAloftError } from '../errors.js';
import { sessionOptionsOf } from './replica-spec.js';
import { ModelSession , type StartupTimings } from './session.js';
import type { Tensor } from './tensor.js';
import { movableBuffers, restoreBytes, type ThreadReplicaData } from './thread-entry.js';


type Incoming = { type: 'infer'; id: number; inputs: Tensor[] } | { type: 'stop' };

async function main(port: NonNullable<typeof parentPort>, data: ThreadReplicaData): Promise<void> {
  let session: ModelSession;
  // The thread's own clock starts with it: performance.now() here is its boot (imports).
  const startup: StartupTimings = { bootMs: performance.now() };
  try {
    session = await ModelSession.open(data.modelPath, sessionOptionsOf(data), startup);
    const t = performance.now();
    await session.warmUp();
    startup.warmUpMs = performance.now() - t;
  } catch (err) {
    port.postMessage({ type: 'error', code: isAloftError(err) ? err.code : 'ALOFT_REPLICA_START', message: (err as Error).message });
    process.exit(1);
  }
  // One batch at a time, in arrival order, as in the replica process.
  let chain = Promise.resolve();
  let stopping = false;
  port.on('message', (msg: Incoming) => {
    if (msg.type === 'stop') {
      stopping = true;
      void chain.then(async () => { await session.close(); process.exit(0); });
      return;
    }
    if (stopping) return;
    chain = chain.then(async () => {
      try {
        const outputs = await session.run(msg.inputs.map(restoreBytes));
        const reply = { type: 'result', id: msg.id, outputs };
        // ONNX Runtime's outputs are fresh buffers: move them. Should one ever not be
        // movable, postMessage throws before sending anything and the reply is copied.
        try {
          port.postMessage(reply, movableBuffers(outputs));
        } catch {
          port.postMessage(reply);
        }
      } catch (err) {
        port.postMessage({ type: 'failed', id: msg.id, code: isAloftError(err) ? err.code : 'ALOFT_REPLICA_FAILED', message: (err as Error).message });
      }
    });
  });
  port.postMessage({ type: 'ready', startup });
}

if (!isMainThread && parentPort) void main(parentPort, workerData as ThreadReplicaData);
