/** The floor: bench/peers/raw-ort.ts runs batch-1 `session.run` in a loop in its own process. */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Child } from '../child.js';
import { compareRow, type Workload } from '../workload.js';

export const RAW_ORT_LABEL = 'raw ONNX Runtime in-process (batch-1 session.run loop, no HTTP)';

export interface RawOrtResult {
  calls: number;
  seconds: number;
  rps: number;
  mean: number;
  p50: number;
  p99: number;
  max: number;
  cpuUsPerCall: number;
  peakRssKiB: number | undefined;
}

/** Measure; throws when the answers differ from the reference. */
export async function measureRawOrt(w: Workload, tmpDir: string, warmupMs: number, durationMs: number): Promise<RawOrtResult> {
  const rowsFile = join(tmpDir, `${w.id}-rows.f32`);
  const flat = new Float32Array(w.rows.length * w.width);
  w.rows.forEach((r, i) => flat.set(r, i * w.width));
  writeFileSync(rowsFile, Buffer.from(flat.buffer, flat.byteOffset, flat.byteLength));
  const child = new Child('raw ORT', './peers/raw-ort.ts', [
    '--model', w.modelPath, '--input', w.inputName, '--output', w.outputName, '--rows', rowsFile,
    '--width', String(w.width), '--warmup', String(warmupMs), '--duration', String(durationMs),
  ]);
  try {
    const msg = await child.waitEvent('result', warmupMs + durationMs + 60_000);
    const outputs = msg.outputs as number[][];
    for (let i = 0; i < w.rows.length; i++) {
      const problem = compareRow(w, i, outputs[i] ?? []);
      if (problem) throw new Error(`raw ORT answers differ from the reference: ${problem}`);
    }
    return {
      calls: Number(msg.calls), seconds: Number(msg.seconds), rps: Number(msg.rps), mean: Number(msg.mean),
      p50: Number(msg.p50), p99: Number(msg.p99), max: Number(msg.max), cpuUsPerCall: Number(msg.cpuUsPerCall),
      peakRssKiB: typeof msg.peakRssKiB === 'number' ? msg.peakRssKiB : undefined,
    };
  } finally {
    await child.stop();
  }
}
