/**
 * The one registry of Aloft's errors. Every error a user can see has a stable code, an
 * HTTP status and a message that states the rule, the bad value and the fix. Errors are
 * translated to `{"error": message}` only at the edge (gateway, admin API, CLI); `cause`
 * and `details` stay in logs. `docs/errors.md` is checked against this table by a test.
 */

/**
 * What a retry can do about an error, the one place retries are decided (the batcher, the
 * orchestrators and the controller all ask `retryOf`):
 * - `transient`: the work did not run or may succeed later; retry (on another replica, after
 *   a backoff).
 * - `terminal`: retrying the same thing cannot succeed (a corrupt artifact, a model that does
 *   not load, a request that is wrong); never retried.
 * - `caller`: the answer is the caller's to act on (over a limit, past a deadline); the
 *   system does not retry it itself.
 */
export type RetryKind = 'transient' | 'terminal' | 'caller';

export interface ErrorDef {
  /** HTTP status used when the error reaches a client. */
  status: number;
  /** One line: what this error means, for docs/errors.md. */
  summary: string;
  retry: RetryKind;
}

export const ERRORS = {
  // request / protocol (data plane)
  ALOFT_BAD_REQUEST: { status: 400, summary: 'The request is malformed: invalid JSON, framing or fields.', retry: 'terminal' },
  ALOFT_INVALID_INPUT: { status: 400, summary: 'An input tensor does not match the model signature (name, datatype, shape, element count, values).', retry: 'terminal' },
  ALOFT_UNSUPPORTED_DATATYPE: { status: 400, summary: 'A datatype is unknown or cannot be carried in this encoding (e.g. FP16 in JSON).', retry: 'terminal' },
  ALOFT_NOT_FOUND: { status: 404, summary: 'No such route.', retry: 'terminal' },
  ALOFT_MODEL_NOT_FOUND: { status: 404, summary: 'No deployment or model with that name.', retry: 'terminal' },
  ALOFT_VERSION_NOT_FOUND: { status: 404, summary: 'The model exists but not at that version.', retry: 'terminal' },
  ALOFT_METHOD_NOT_ALLOWED: { status: 405, summary: 'The route exists but not for this HTTP method.', retry: 'terminal' },
  ALOFT_BODY_TIMEOUT: { status: 408, summary: 'The request body did not arrive within server.bodyTimeout; the connection is closed.', retry: 'caller' },
  ALOFT_PAYLOAD_TOO_LARGE: { status: 413, summary: 'The request body (after decompression) is over the body limit.', retry: 'terminal' },
  ALOFT_URI_TOO_LONG: { status: 414, summary: 'A path segment is longer than 256 characters (model names are at most 63).', retry: 'terminal' },
  ALOFT_UNSUPPORTED_ENCODING: { status: 415, summary: 'The Content-Encoding is not one of gzip, deflate or identity.', retry: 'terminal' },
  ALOFT_RATE_LIMITED: { status: 429, summary: "A per-key or per-deployment rate limit or daily quota is used up; retry after the Retry-After header's seconds.", retry: 'caller' },
  ALOFT_OVERLOADED: { status: 503, summary: 'The queue for the model is full, or the gateway holds as much request-body memory as server.bodyMemory allows; retry after the Retry-After header.', retry: 'caller' },
  ALOFT_NOT_READY: { status: 503, summary: 'The model or server is not ready to serve (starting, no healthy replica).', retry: 'transient' },
  ALOFT_TIMEOUT: { status: 504, summary: 'The request was not answered within its deadline.', retry: 'caller' },
  ALOFT_REPLICA_FAILED: { status: 500, summary: 'The replica failed while running the model.', retry: 'terminal' },
  ALOFT_INTERNAL: { status: 500, summary: 'An unexpected error; details are in the server log.', retry: 'transient' },

  // spec
  ALOFT_SPEC_INVALID: { status: 400, summary: 'The spec file does not validate; every violation is listed with file:line:col.', retry: 'terminal' },
  ALOFT_SPEC_NOT_FOUND: { status: 400, summary: 'The spec file does not exist or cannot be read.', retry: 'terminal' },
  ALOFT_SPEC_YAML: { status: 400, summary: 'The spec file is not valid YAML.', retry: 'terminal' },

  // registry / store
  ALOFT_ARTIFACT_CORRUPT: { status: 500, summary: 'A stored artifact does not match its recorded sha256; it is refused, never served.', retry: 'terminal' },
  ALOFT_ARTIFACT_MISSING: { status: 500, summary: 'A recorded artifact is missing from the state folder.', retry: 'terminal' },
  ALOFT_MODEL_INVALID: { status: 400, summary: 'The file is not a readable ONNX model.', retry: 'terminal' },
  ALOFT_MODEL_REF_INVALID: { status: 400, summary: 'A model reference is not of the form name, name@version or name@alias.', retry: 'terminal' },
  ALOFT_ALIAS_NOT_FOUND: { status: 404, summary: 'No alias with that name for the model.', retry: 'terminal' },
  ALOFT_STORE: { status: 500, summary: 'The state database failed or its URL is invalid.', retry: 'transient' },

  // control plane: plan, apply, revisions
  ALOFT_REVISION_CONFLICT: { status: 409, summary: 'Another apply landed (or is still converging) since this one was planned; run plan again and apply that.', retry: 'caller' },
  ALOFT_REVISION_NOT_FOUND: { status: 404, summary: 'No revision with that number.', retry: 'terminal' },
  ALOFT_NEEDS_RESTART: { status: 409, summary: 'The change touches a setting a running system cannot change (listening address, TLS files, state folder, …); restart aloft up with the new file.', retry: 'terminal' },
  ALOFT_APPLY_FAILED: { status: 422, summary: 'An apply did not converge (a model failed to load, replicas never became ready); the system stays on the previous revision, serving.', retry: 'terminal' },
  ALOFT_ARTIFACT_NOT_UPLOADED: { status: 409, summary: 'The spec names a model file whose content this Aloft does not have; upload it (PUT /api/v1/artifacts/{sha256}) and apply again. The CLI does this itself.', retry: 'caller' },
  ALOFT_NO_ROLLOUT: { status: 409, summary: 'The rollout command needs a running rollout of that deployment (promote, abort, pause, resume), or it is still warming up.', retry: 'terminal' },
  ALOFT_VERSION_IN_USE: { status: 409, summary: 'The model version is used by the current revision (or one being applied); apply a spec that no longer uses it first.', retry: 'terminal' },

  // monitoring: capture and feedback
  ALOFT_CAPTURE_KEY: { status: 500, summary: 'A captured record cannot be decrypted: its key is not capture.key or one of capture.previousKeys, or the record was changed.', retry: 'terminal' },
  ALOFT_NOT_CAPTURED: { status: 409, summary: 'The deployment does not capture predictions (no capture section), so there is nothing to export or join feedback to.', retry: 'terminal' },
  ALOFT_FEEDBACK_INVALID: { status: 400, summary: 'The feedback body is not {"feedback": [{"id": "...", "label": number or array of numbers}, ...]} (at most 10000 entries).', retry: 'terminal' },

  // runtime / orchestration
  ALOFT_REPLICA_START: { status: 503, summary: 'A replica process could not start or become ready.', retry: 'transient' },

  // identity and access
  ALOFT_UNAUTHENTICATED: { status: 401, summary: 'No credentials, or the key or token is unknown, wrong, revoked or expired (the message never says which).', retry: 'terminal' },
  ALOFT_FORBIDDEN: { status: 403, summary: 'The credentials are valid but their role or scope does not allow this endpoint or deployment.', retry: 'terminal' },
  ALOFT_KEY_NOT_FOUND: { status: 404, summary: 'No active API key with that name (admin API).', retry: 'terminal' },
  ALOFT_SILENCE_NOT_FOUND: { status: 404, summary: 'No alert silence with that id (admin API; aloft silence list shows them).', retry: 'terminal' },
  ALOFT_KEY_EXISTS: { status: 409, summary: 'An active API key with that name exists; revoke it first or pick another name.', retry: 'terminal' },
  ALOFT_KEY_INVALID: { status: 400, summary: 'A key given to Aloft (ALOFT_ADMIN_KEY, the admin key file) is not of the form aloft_<12 hex>_<43 base64url>.', retry: 'terminal' },
  ALOFT_AUTH_CONFIG: { status: 500, summary: 'The JWT settings cannot be used: the JWKS file or URL is missing or not a valid JWK set.', retry: 'terminal' },

  // cli / admin
  ALOFT_USAGE: { status: 400, summary: 'A command-line argument is missing or invalid.', retry: 'terminal' },
  ALOFT_CONNECT: { status: 503, summary: 'The CLI could not reach a running Aloft (check --url / ALOFT_URL).', retry: 'transient' },
} as const satisfies Record<string, ErrorDef>;

export type ErrorCode = keyof typeof ERRORS;

export class AloftError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  /** Structured details for logs and --json output; never secrets. */
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown; details?: Record<string, unknown> }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'AloftError';
    this.code = code;
    this.status = ERRORS[code].status;
    this.details = options?.details;
  }
}

export function isAloftError(e: unknown): e is AloftError {
  return e instanceof AloftError;
}

/** What a retry can do about `err`: its code's kind; an error that is not Aloft's is `transient` (unknown, may pass). */
export function retryOf(err: unknown): RetryKind {
  return err instanceof AloftError ? ERRORS[err.code].retry : 'transient';
}

/** The same for a code reported by another process (a replica's startup error); unknown codes are `transient`. */
export function retryOfCode(code: string | undefined): RetryKind {
  return isErrorCode(code) ? ERRORS[code].retry : 'transient';
}

/** True for a string that is one of the codes above. */
export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === 'string' && Object.hasOwn(ERRORS, code);
}

/** The code of an HTTP error status when nothing more specific is known (a proxy's answer, Fastify's own errors). */
export function codeForStatus(status: number): ErrorCode {
  return status === 401 ? 'ALOFT_UNAUTHENTICATED' : status === 403 ? 'ALOFT_FORBIDDEN' : status === 404 ? 'ALOFT_NOT_FOUND'
    : status === 405 ? 'ALOFT_METHOD_NOT_ALLOWED' : status === 408 ? 'ALOFT_BODY_TIMEOUT' : status === 413 ? 'ALOFT_PAYLOAD_TOO_LARGE' : status === 414 ? 'ALOFT_URI_TOO_LONG'
      : status === 415 ? 'ALOFT_UNSUPPORTED_ENCODING' : status === 429 ? 'ALOFT_RATE_LIMITED' : status === 503 ? 'ALOFT_NOT_READY'
        : status === 504 ? 'ALOFT_TIMEOUT' : status >= 500 ? 'ALOFT_INTERNAL' : 'ALOFT_BAD_REQUEST';
}

/** Shorthand constructor: `fail('ALOFT_INVALID_INPUT', "input 'x': ...")`. */
export function fail(code: ErrorCode, message: string, options?: { cause?: unknown; details?: Record<string, unknown> }): AloftError {
  return new AloftError(code, message, options);
}
