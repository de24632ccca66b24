import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ManualClock } from '../clock.js';
import { AloftError, fail } from '../errors.js';
import type { Tensor } from '../runtime/tensor.js';
import { PowerOfTwoChoices } from './balancers/index.js';
import { seeded } from './balancers/balancer.case.js';
import { Batcher, type BatcherOptions } from './batcher.js';
import { ReplicaSet, type ReplicaTransport } from './replica-set.js';
import { ModelStats } from './stats.js';
import { movableBuffers } from '../runtime/thread-entry.js';

/**
 * A replica whose batches finish only when the test says so; it doubles each element. Like
 * the thread transport, it takes the memory of a batch it is given as owned.
 */
class HeldReplica implements ReplicaTransport {
  readonly batches: Tensor[][] = [];
  readonly owned: boolean[] = [];
  readonly #held: { release: () => void; fail: (e: Error) => void }[] = [];
  /** When set, every batch released fails with this error. */
  failing: AloftError | undefined;

  infer(sent: Tensor[], owned = false): Promise<Tensor[]> {
    this.owned.push(owned);
    const inputs = structuredClone(sent, owned ? { transfer: movableBuffers(sent) } : undefined);
    this.batches.push(inputs);
    return new Promise((resolve, reject) => {
      this.#held.push({
        release: () => {
          if (this.failing) return reject(this.failing);
          const x = inputs[0]!;
          const y = new Float32Array(x.data as Float32Array).map((v) => v * 2);
          resolve([{ name: 'y', datatype: 'FP32', shape: [...x.shape], data: y }]);
        },
        fail: reject,
      });
    });
  }

  /** Finish the oldest held batch. */
  release(): void {
    this.#held.shift()?.release();
  }

  /** As the real transports do: every held batch fails as retryable. */
  abandon(): void {
    for (const h of this.#held.splice(0)) h.fail(fail('ALOFT_NOT_READY', 'abandoned'));
  }

  get held(): number {
    return this.#held.length;
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

function rows(values: number[][]): Tensor[] {
  const width = values[0]!.length;
  return [{ name: 'x', datatype: 'FP32', shape: [values.length, width], data: Float32Array.from(values.flat()) }];
}

const flush = () => new Promise<void>((r) => setImmediate(r));

function setup(replicas: number, opts: Partial<BatcherOptions> = {}, cap = 1, defer?: (fn: () => void) => void) {
  const clock = new ManualClock();
  const transports = Array.from({ length: replicas }, () => new HeldReplica());
  let i = 0;
  const set = new ReplicaSet({
    balancer: new PowerOfTwoChoices(seeded(1)),
    maxInFlightPerReplica: cap,
    connect: () => transports[i++]!,
    clock,
  });
  set.setEndpoints(transports.map((_, k) => ({ id: `r${k}`, url: `http://replica-${k}` })));
  const stats = new ModelStats();
  const batcher = new Batcher(set, { maxBatchSize: 8, maxQueueDelayMs: 0, maxQueueSize: 100, batchable: true, ...opts }, clock, stats, defer);
  return { clock, transports, set, batcher, stats };
}

test('an idle model runs a request at once, alone', async () => {
  const { transports, batcher } = setup(1);
  const p = batcher.infer(rows([[1, 2]]), 1000);
  assert.equal(transports[0]!.batches.length, 1, 'dispatched without waiting');
  transports[0]!.release();
  const [y] = await p;
  assert.deepEqual([...(y!.data as Float32Array)], [2, 4]);
  assert.deepEqual(y!.shape, [1, 2]);
});

test('coalesce: requests queued in one event-loop turn leave as one batch even while replicas have room; one that finds the batcher idle leaves at once', async () => {
  const turnEnd: (() => void)[] = [];
  const { transports, batcher } = setup(2, { coalesce: true }, 2, (fn) => turnEnd.push(fn));
  const all = [1, 2, 3].map((k) => batcher.infer(rows([[k, k]]), 1000));
  const early = [...transports[0]!.batches, ...transports[1]!.batches];
  assert.deepEqual(early.map((b) => b[0]!.shape), [[1, 2]], 'the first found nothing queued or running: nobody could join it, so it left at once');
  assert.equal(turnEnd.length, 1, 'one deferred dispatch per turn, not one per request');
  turnEnd.shift()!();
  const sent = [...transports[0]!.batches, ...transports[1]!.batches];
  assert.equal(sent.length, 2);
  assert.deepEqual(sent.map((b) => b[0]!.shape).sort(), [[1, 2], [2, 2]], 'the two after it left together at the end of the turn');
  for (const t of transports) t.release();
  await flush();
  for (const t of transports) t.release();
  const outs = await Promise.all(all);
  assert.deepEqual(outs.map(([y]) => [...(y!.data as Float32Array)]), [[2, 2], [4, 4], [6, 6]]);

  // Without coalesce the same three requests go out at once: the first alone, on a free replica.
  const greedy = setup(2, {}, 2);
  const again = [1, 2, 3].map((k) => greedy.batcher.infer(rows([[k, k]]), 1000));
  assert.deepEqual([...greedy.transports[0]!.batches, ...greedy.transports[1]!.batches].map((b) => b[0]!.shape[0]), [1, 1, 1]);
  for (const t of greedy.transports) t.release();
  await flush();
  for (const t of greedy.transports) t.release();
  await Promise.all(again);
});

test('requests that queue while the replica is busy form one batch, and each gets its own rows back', async () => {
  const { transports, batcher, stats } = setup(1);
  const first = batcher.infer(rows([[0, 0]]), 1000);
  const rest = [1, 2, 3, 4].map((k) => batcher.infer(rows([[k, k + 0.5]]), 1000));
  const two = batcher.infer(rows([[5, 5], [6, 6]]), 1000);
  assert.equal(transports[0]!.batches.length, 1);
  assert.equal(batcher.queued, 5);
  transports[0]!.release();
  await first;
  await flush();
  assert.equal(transports[0]!.batches.length, 2, 'the queue went out as one batch');
  assert.deepEqual(transports[0]!.batches[1]![0]!.shape, [6, 2]);
  transports[0]!.release();
  const outs = await Promise.all(rest);
  outs.forEach(([y], idx) => {
    const k = idx + 1;
    assert.deepEqual(y!.shape, [1, 2]);
    assert.deepEqual([...(y!.data as Float32Array)], [2 * k, 2 * (k + 0.5)]);
  });
  const [y2] = await two;
  assert.deepEqual(y2!.shape, [2, 2]);
  assert.deepEqual([...(y2!.data as Float32Array)], [10, 10, 12, 12]);
  const s = stats.toJSON('m', '1') as { execution_count: number; batch_stats: { batch_size: number }[] };
  assert.equal(s.execution_count, 2);
  assert.deepEqual(s.batch_stats.map((b) => b.batch_size), [1, 5]);
});

test('a batch never exceeds maxBatchSize rows', async () => {
  const { transports, batcher } = setup(1, { maxBatchSize: 3 });
  const all = [batcher.infer(rows([[0]]), 1000)];
  for (let k = 1; k <= 7; k++) all.push(batcher.infer(rows([[k]]), 1000));
  for (let round = 0; round < 4; round++) {
    transports[0]!.release();
    await flush();
  }
  await Promise.all(all);
  assert.deepEqual(transports[0]!.batches.map((b) => b[0]!.shape[0]), [1, 3, 3, 1]);
});

test('requests with different non-batch dimensions are not mixed', async () => {
  const { transports, batcher } = setup(1);
  const a = batcher.infer(rows([[1, 1]]), 1000);
  const b = batcher.infer(rows([[2, 2]]), 1000);
  const c = batcher.infer(rows([[3, 3, 3]]), 1000);
  const d = batcher.infer(rows([[4, 4]]), 1000);
  transports[0]!.release();
  await flush();
  transports[0]!.release();
  await flush();
  transports[0]!.release();
  await flush();
  transports[0]!.release();
  await Promise.all([a, b, c, d]);
  assert.deepEqual(transports[0]!.batches.map((x) => x[0]!.shape), [[1, 2], [1, 2], [1, 3], [1, 2]]);
});

test('maxQueueDelay holds a partial batch until the oldest request has waited that long', async () => {
  const { clock, transports, batcher } = setup(1, { maxQueueDelayMs: 5 });
  const a = batcher.infer(rows([[1]]), 1000);
  clock.advance(2);
  const b = batcher.infer(rows([[2]]), 1000);
  assert.equal(transports[0]!.batches.length, 0, 'held back');
  clock.advance(2.9);
  assert.equal(transports[0]!.batches.length, 0, 'still within the delay');
  clock.advance(0.2);
  assert.equal(transports[0]!.batches.length, 1);
  assert.deepEqual(transports[0]!.batches[0]![0]!.shape, [2, 1]);
  transports[0]!.release();
  await Promise.all([a, b]);
});

test('maxQueueDelay does not hold a full batch', () => {
  const { transports, batcher } = setup(1, { maxQueueDelayMs: 50, maxBatchSize: 2 });
  void batcher.infer(rows([[1]]), 1000);
  assert.equal(transports[0]!.batches.length, 0);
  void batcher.infer(rows([[2]]), 1000);
  assert.equal(transports[0]!.batches.length, 1, 'a full batch goes out at once');
});

test('a model without a batch dimension runs one request at a time', async () => {
  const { transports, batcher } = setup(1, { batchable: false });
  const all = [1, 2, 3].map((k) => batcher.infer(rows([[k]]), 1000));
  for (let i = 0; i < 3; i++) {
    transports[0]!.release();
    await flush();
  }
  await Promise.all(all);
  assert.deepEqual(transports[0]!.batches.map((b) => b[0]!.shape[0]), [1, 1, 1]);
});

test('a full queue refuses with ALOFT_OVERLOADED (503) and keeps serving the rest', async () => {
  const { transports, batcher } = setup(1, { maxQueueSize: 2 });
  const first = batcher.infer(rows([[0]]), 1000);
  const q1 = batcher.infer(rows([[1]]), 1000);
  const q2 = batcher.infer(rows([[2]]), 1000);
  await assert.rejects(batcher.infer(rows([[3]]), 1000), (e: AloftError) => e.code === 'ALOFT_OVERLOADED' && e.status === 503);
  transports[0]!.release();
  await flush();
  transports[0]!.release();
  await Promise.all([first, q1, q2]);
});

test('a request past its deadline is answered 504 while replicas are busy, 503 when none exists', async () => {
  const { clock, batcher, transports, set } = setup(1);
  const busy = batcher.infer(rows([[0]]), 1000);
  const late = batcher.infer(rows([[1]]), 100);
  clock.advance(101);
  await assert.rejects(late, (e: AloftError) => e.code === 'ALOFT_TIMEOUT' && e.status === 504);
  transports[0]!.release();
  await busy;
  set.setEndpoints([]);
  const orphan = batcher.infer(rows([[2]]), 50);
  clock.advance(51);
  await assert.rejects(orphan, (e: AloftError) => e.code === 'ALOFT_NOT_READY' && e.status === 503);
});

test('a batch whose replica goes away is retried on another replica, and the replica is ejected', async () => {
  const { transports, batcher, set } = setup(2);
  const p = batcher.infer(rows([[7]]), 1000);
  const first = transports.find((t) => t.held === 1)!;
  const other = transports.find((t) => t !== first)!;
  first.failing = fail('ALOFT_NOT_READY', 'replica unreachable');
  first.release();
  await flush();
  assert.equal(other.held, 1, 'the batch was re-sent to the other replica');
  assert.deepEqual(set.endpoints().filter((e) => e.ejected).length, 1, 'the failing replica is ejected');
  other.release();
  const [y] = await p;
  assert.deepEqual([...(y!.data as Float32Array)], [14]);
  // New work avoids the ejected replica.
  const q = batcher.infer(rows([[3]]), 1000);
  assert.equal(other.held, 1);
  other.release();
  assert.deepEqual([...((await q)[0]!.data as Float32Array)], [6]);
});

test('a batch of one lends the request\'s tensors; a joined batch is given away, and its retry is joined again from the requests', async () => {
  const turnEnd: (() => void)[] = [];
  const { transports, batcher } = setup(2, { coalesce: true }, 1, (fn) => turnEnd.push(fn));
  const alone = batcher.infer(rows([[9]]), 1000);
  assert.equal(turnEnd.length, 0, 'an idle batcher sends a lone request at once');
  const lone = transports.find((t) => t.held === 1)!;
  assert.deepEqual(lone.owned, [false]);

  // While it runs, three more queue in one turn and leave as one joined batch.
  const three = [1, 2, 3].map((k) => batcher.infer(rows([[k, 10 * k]]), 1000));
  turnEnd.shift()!();
  const first = transports.find((t) => t !== lone && t.held === 1)!;
  assert.deepEqual(first.batches.at(-1)![0]!.shape, [3, 2]);
  assert.equal(first.owned.at(-1), true);
  first.failing = fail('ALOFT_NOT_READY', 'replica unreachable');
  first.release();
  await flush();
  lone.release();
  assert.deepEqual([...((await alone)[0]!.data as Float32Array)], [18]);
  await flush();
  const other = lone;
  assert.equal(other.held, 1, 'the batch was re-sent to the other replica');
  assert.deepEqual(other.batches.at(-1)![0]!.shape, [3, 2]);
  assert.equal(other.owned.at(-1), true);
  other.release();
  const outs = await Promise.all(three);
  assert.deepEqual(outs.map(([y]) => [...(y!.data as Float32Array)]), [[2, 20], [4, 40], [6, 60]]);
});

test('a non-retryable replica failure fails the batch without retry', async () => {
  const { transports, batcher } = setup(2);
  const p = batcher.infer(rows([[1]]), 1000);
  const first = transports.find((t) => t.held === 1)!;
  first.failing = fail('ALOFT_REPLICA_FAILED', 'model crashed');
  first.release();
  await assert.rejects(p, (e: AloftError) => e.code === 'ALOFT_REPLICA_FAILED' && e.status === 500);
  assert.equal(transports.reduce((n, t) => n + t.batches.length, 0), 1);
});

test('close fails queued requests with 503', async () => {
  const { batcher } = setup(1);
  void batcher.infer(rows([[0]]), 1000).catch(() => undefined);
  const queued = batcher.infer(rows([[1]]), 1000);
  batcher.close();
  await assert.rejects(queued, (e: AloftError) => e.status === 503);
  await assert.rejects(batcher.infer(rows([[2]]), 1000), (e: AloftError) => e.status === 503);
});

test('issue 17: a replica that has not answered by the deadline: 504, out of rotation (readiness too) for the ejection period, back after it', async () => {
  const { clock, transports, set, batcher } = setup(2, {}, 1);
  // Both replicas hang on their batch.
  const a = batcher.infer(rows([[1, 1]]), 1000);
  const b = batcher.infer(rows([[2, 2]]), 1000);
  assert.equal(transports[0]!.held + transports[1]!.held, 2);
  assert.equal(set.readyCount(), 2);
  clock.advance(999);
  await flush();
  assert.equal(set.readyCount(), 2, 'nothing happens before the deadline');
  clock.advance(1);
  for (const p of [a, b]) await assert.rejects(p, (e: unknown) => e instanceof AloftError && e.code === 'ALOFT_TIMEOUT' && /did not answer by the request's deadline; it is out of rotation for 10 s/.test(e.message));
  assert.equal(set.readyCount(), 0, 'hung replicas do not count as ready');
  assert.deepEqual(set.endpoints().map((e) => [e.ejected, e.outstanding]), [[true, 0], [true, 0]]);
  // While both are out, requests wait in the queue (and time out there, as with no replica).
  assert.equal(transports[0]!.held + transports[1]!.held, 0, 'the hung calls were abandoned');
  const sent = () => transports[0]!.batches.length + transports[1]!.batches.length;
  const c = batcher.infer(rows([[3, 3]]), 20_000);
  assert.equal(sent(), 2, 'no new batch went to an ejected replica');
  clock.advance(10_000);
  batcher.sweep(); // capacity is back: the next pump sends the queued request
  const d = batcher.infer(rows([[4, 4]]), 1000);
  assert.equal(set.readyCount(), 2, 'back in rotation after the ejection period');
  assert.equal(sent(), 3, 'the queued and the new request went out, joined in one batch');
  // An answer clears the record.
  for (const t of transports) while (t.held > 0) t.release();
  assert.deepEqual((await Promise.all([c, d])).map(([y]) => [...(y!.data as Float32Array)]), [[6, 6], [8, 8]]);
});

test('issue 17: when a replica misses a deadline, its other calls in flight are abandoned and run on another replica', async () => {
  const clock = new ManualClock();
  const hung = new HeldReplica();
  const spare = new HeldReplica();
  const set = new ReplicaSet({ balancer: new PowerOfTwoChoices(seeded(1)), maxInFlightPerReplica: 2, connect: (info) => (info.id === 'hung' ? hung : spare), clock });
  set.setEndpoints([{ id: 'hung', url: 'http://hung' }]);
  const batcher = new Batcher(set, { maxBatchSize: 1, maxQueueDelayMs: 0, maxQueueSize: 100, batchable: true }, clock);
  // Both batches go to the only replica: the first with an early deadline, the second a later one.
  const early = batcher.infer(rows([[1, 1]]), 1000);
  const later = batcher.infer(rows([[2, 2]]), 5000);
  assert.equal(hung.held, 2);
  set.setEndpoints([{ id: 'hung', url: 'http://hung' }, { id: 'spare', url: 'http://spare' }]);
  clock.advance(1000);
  await assert.rejects(early, (e: unknown) => e instanceof AloftError && e.code === 'ALOFT_TIMEOUT');
  await flush();
  assert.equal(hung.held, 0, 'every call on the hung replica was abandoned');
  assert.equal(spare.held, 1, 'the later batch was retried on the other replica');
  spare.release();
  assert.deepEqual([...((await later)[0]!.data as Float32Array)], [4, 4]);
});

test('a replica that answers other batches but misses one deadline is slow, not hung: that batch alone fails with 504, its slot stays taken until it answers, and it stays in rotation', async () => {
  const clock = new ManualClock();
  const busy = new HeldReplica();
  const set = new ReplicaSet({ balancer: new PowerOfTwoChoices(seeded(1)), maxInFlightPerReplica: 2, connect: () => busy, clock });
  set.setEndpoints([{ id: 'busy', url: 'http://busy' }]);
  const batcher = new Batcher(set, { maxBatchSize: 1, maxQueueDelayMs: 0, maxQueueSize: 100, batchable: true }, clock);
  // Two batches wait on the one replica; it answers the first at 600 ms (its usual time is now 600 ms), then is still on the second at the deadline.
  const first = batcher.infer(rows([[1, 1]]), 5000);
  const late = batcher.infer(rows([[2, 2]]), 1000);
  assert.equal(busy.held, 2);
  clock.advance(600);
  busy.release();
  assert.deepEqual([...((await first)[0]!.data as Float32Array)], [2, 2]);
  const third = batcher.infer(rows([[3, 3]]), 5000);
  await flush();
  assert.equal(busy.held, 2, 'the second batch and the third are on the replica');
  clock.advance(400);
  await assert.rejects(late, (e: unknown) => e instanceof AloftError && e.code === 'ALOFT_TIMEOUT' && /it is working \(it answered 400 ms ago\), so the model is saturated/.test(e.message));
  assert.equal(set.readyCount(), 1, 'a slow replica is not ejected');
  assert.equal(busy.held, 2, 'nothing was abandoned: the third batch is still on the replica');
  // Its slot stays taken while the replica still works on the late batch: a fourth request waits in the queue.
  const fourth = batcher.infer(rows([[4, 4]]), 5000);
  assert.equal(busy.batches.length, 3, 'no batch beyond the replica\'s two in flight');
  // The late answer comes (and is dropped): the fourth goes out; then the third is answered.
  busy.release();
  await flush();
  assert.equal(busy.batches.length, 4);
  busy.release();
  assert.deepEqual([...((await third)[0]!.data as Float32Array)], [6, 6]);
  busy.release();
  assert.deepEqual([...((await fourth)[0]!.data as Float32Array)], [8, 8]);
});

test('a replica given up on as slow that then goes silent for 4 of its usual answer times is hung: ejected, its calls abandoned', async () => {
  const clock = new ManualClock();
  const r = new HeldReplica();
  const set = new ReplicaSet({ balancer: new PowerOfTwoChoices(seeded(1)), maxInFlightPerReplica: 1, connect: () => r, clock });
  set.setEndpoints([{ id: 'r', url: 'http://r' }]);
  const batcher = new Batcher(set, { maxBatchSize: 1, maxQueueDelayMs: 0, maxQueueSize: 100, batchable: true }, clock);
  const warm = batcher.infer(rows([[1]]), 5000);
  clock.advance(200);
  r.release();
  await warm; // usual answer time: 200 ms, so it may stay silent up to 800 ms
  const stuck = batcher.infer(rows([[2]]), 300);
  clock.advance(300);
  await assert.rejects(stuck, (e: unknown) => e instanceof AloftError && /it is working/.test(e.message));
  assert.equal(set.readyCount(), 1, 'silent for 300 ms: slow, not yet hung');
  assert.equal(r.held, 1);
  clock.advance(499);
  await flush();
  assert.equal(set.readyCount(), 1);
  clock.advance(1);
  await flush();
  assert.equal(set.readyCount(), 0, 'silent for 800 ms: hung, out of rotation');
  assert.equal(r.held, 0, 'its call was abandoned');
});

/** A clock whose time moves on without its timers running: an event loop too busy to run them on time. */
class LaggingClock extends ManualClock {
  lag = 0;
  override now(): number {
    return super.now() + this.lag;
  }
}

test('a request whose deadline passed while it was queued is answered with 504 at dispatch, not run', async () => {
  const clock = new LaggingClock();
  const replica = new HeldReplica();
  const set = new ReplicaSet({ balancer: new PowerOfTwoChoices(seeded(1)), maxInFlightPerReplica: 1, connect: () => replica, clock });
  set.setEndpoints([{ id: 'r', url: 'http://r' }]);
  const batcher = new Batcher(set, { maxBatchSize: 8, maxQueueDelayMs: 0, maxQueueSize: 100, batchable: true }, clock);
  const transports = [replica];
  const running = batcher.infer(rows([[1]]), 10_000);
  // Queued behind it: one with a short deadline, one with a long one.
  const short = batcher.infer(rows([[2]]), 100);
  const long = batcher.infer(rows([[3]]), 10_000);
  short.catch(() => undefined);
  // The sweep's timer has not run (a saturated event loop runs it late) when the replica frees up.
  clock.lag = 150;
  transports[0]!.release();
  await running;
  await flush();
  await assert.rejects(short, (e: unknown) => e instanceof AloftError && e.code === 'ALOFT_TIMEOUT');
  assert.deepEqual(transports[0]!.batches.at(-1)![0]!.shape, [1, 1], 'the next batch holds only the live request');
  transports[0]!.release();
  assert.deepEqual([...((await long)[0]!.data as Float32Array)], [6]);
});
