/**
 * A benchmarked system: something that serves `POST /v2/models/<name>/infer` on
 * 127.0.0.1, started as child processes and stopped when its cells are done.
 */
import type { BodyKind, Workload } from '../workload.js';

export interface RunningServer {
  /** Base URL, e.g. http://127.0.0.1:40123 */
  url: string;
  /** The process that accepts the connections (Aloft's gateway). */
  pid: number;
  /** Processes behind it (Aloft's replicas); empty for single-process servers. */
  replicaPids: number[];
  /** Headers every request must carry (credentials). */
  headers?: Record<string, string>;
  stop(): Promise<void>;
}

export interface ServerSystem {
  id: string;
  /** Row label in the report. */
  label: string;
  /** Body encodings measured on this system for this workload (JSON always first). */
  bodyKinds(w: Workload): BodyKind[];
  /**
   * True when the system answers without running the model (the bare HTTP ceiling): only
   * row 0's answer (the one it was given) is compared with ONNX Runtime.
   */
  fixedAnswer?: boolean;
  start(w: Workload, tmpDir: string): Promise<RunningServer>;
}
