/**
 * The one observation point of the data path: after every answer of a known deployment,
 * the pipeline (pipeline.ts) hands one `Observation` to the version's protocol statistics
 * and to every observer (Prometheus metrics now; prediction capture and cost meters plug
 * in here next). Observers run after the answer is written and must not throw or block:
 * anything slow (a sink, a database) is buffered by the observer itself.
 */
import type { Tensor } from '../runtime/tensor.js';
import type { Principal } from '../security/principal.js';

export interface Observation {
  deployment: string;
  /** The model version that served it (or would have). */
  version: number;
  model: string;
  /** The HTTP status answered. */
  status: number;
  /** ms from the request head's arrival to the answer. */
  totalMs: number;
  /** ms decoding and validating the request, when it got that far. */
  inputMs?: number;
  /** ms encoding the answer, when it got that far. */
  outputMs?: number;
  /** Rows in the request, when decoded. */
  rows?: number;
  /** An output held NaN or an infinity (answered 200, but the model failed). */
  nonFinite?: boolean;
  principal?: Principal;
  /** The decoded inputs and the outputs of a request that reached the model (shared references: read, never change). */
  inputs?: readonly Tensor[];
  outputs?: readonly Tensor[];
  /** The request's id: the client's `id`, its X-Request-Id header, or one Aloft assigned (answered in both). */
  requestId?: string;
  /** Wall-clock ms of the answer. */
  at: number;
}

export type Observer = (o: Observation) => void;
