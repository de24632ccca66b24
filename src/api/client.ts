/**
 * A client of a running Aloft: the admin API and inference, typed by the shared contract
 * (api/routes.ts for paths, api/types.ts for bodies). The CLI is a thin shell over it; a
 * dashboard or a script uses the same.
 *
 * @example
 * const aloft = new AdminClient({ url: 'http://127.0.0.1:8080', key: process.env.ALOFT_KEY });
 * const { models } = await aloft.models();
 * await aloft.setAlias('credit-risk', 'production', 3);
 */
import { request } from 'undici';
import { AloftError, codeForStatus, fail, isErrorCode } from '../errors.js';
import { pathOf, routeOf, type RouteId } from './routes.js';
import type { SilenceCreated, SilenceView } from '../monitor/alerts/routes.js';
import type { SilenceRequest } from '../monitor/alerts/silences.js';
import type {
  AliasDeleted, AliasResult, ApplyAnswer, ApplyRequest, ArtifactStored, AuditCheck, AuditList, ControlStatus, DeploymentList, KeyCreated, KeyList, KeyRequest, KeyRevoked,
  GcResult, ModelDetail, ModelList, RolloutChanged, RolloutList, PlanResult, PushResult, RevisionDetail, RevisionList, RollbackRequest, SpecSubmission, VersionDeleted,
} from './types.js';

export interface AdminClientOptions {
  /** Base URL, e.g. http://127.0.0.1:8080 (the admin API's own port with server.adminPort). */
  url: string;
  /** API key or JWT; without one the server answers 401. */
  key?: string | undefined;
  /** Turn an error answer into what to throw (the CLI adds where its key came from). */
  onError?: (err: AloftError) => unknown;
}

/** A raw answer: status, headers and body bytes. */
export interface RawAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/** The error code a client shows for an HTTP status without a `code` in its body. */
export { codeForStatus };

const JSON_TYPE = { 'content-type': 'application/json' };

export class AdminClient {
  readonly base: string;
  readonly #key: string | undefined;
  readonly #onError: (err: AloftError) => unknown;

  constructor(opts: AdminClientOptions) {
    this.base = opts.url.replace(/\/+$/, '');
    this.#key = opts.key;
    this.#onError = opts.onError ?? ((e) => e);
  }

  models(): Promise<ModelList> { return this.#json('admin.models.list'); }
  model(name: string): Promise<ModelDetail> { return this.#json('admin.models.show', { name }); }
  /** Register `bytes` (an ONNX file) as the next version of `name`. */
  push(name: string, bytes: Buffer, opts: { source?: string; description?: string } = {}): Promise<PushResult> {
    const q = new URLSearchParams({ ...(opts.source ? { source: opts.source } : {}), ...(opts.description ? { description: opts.description } : {}) });
    return this.#json('admin.models.push', { name }, bytes, { 'content-type': 'application/octet-stream' }, q);
  }
  setAlias(name: string, alias: string, version: number): Promise<AliasResult> {
    return this.#json('admin.models.alias.set', { name, alias }, JSON.stringify({ version }), { 'content-type': 'application/json' });
  }
  deleteAlias(name: string, alias: string): Promise<AliasDeleted> { return this.#json('admin.models.alias.delete', { name, alias }); }
  deployments(): Promise<DeploymentList> { return this.#json('admin.deployments'); }
  createKey(req: KeyRequest): Promise<KeyCreated> {
    return this.#json('admin.keys.create', {}, JSON.stringify(req), { 'content-type': 'application/json' });
  }
  keys(opts: { all?: boolean } = {}): Promise<KeyList> {
    return this.#json('admin.keys.list', {}, undefined, {}, opts.all ? new URLSearchParams({ all: 'true' }) : undefined);
  }
  revokeKey(name: string): Promise<KeyRevoked> { return this.#json('admin.keys.revoke', { name }); }
  audit(filter: URLSearchParams = new URLSearchParams()): Promise<AuditList> { return this.#json('admin.audit.list', {}, undefined, {}, filter); }
  verifyAudit(): Promise<AuditCheck> { return this.#json('admin.audit.verify'); }

  /** What applying a spec would do (changes nothing). */
  plan(sub: SpecSubmission): Promise<PlanResult> { return this.#json('admin.plan', {}, JSON.stringify(sub), JSON_TYPE); }
  /** Apply a spec as a new revision; resolves once it is recorded (poll `revision(n)` for the outcome). */
  apply(req: ApplyRequest): Promise<ApplyAnswer> { return this.#json('admin.apply', {}, JSON.stringify(req), JSON_TYPE); }
  rollback(req: RollbackRequest = {}): Promise<ApplyAnswer> { return this.#json('admin.rollback', {}, JSON.stringify(req), JSON_TYPE); }
  revisions(limit?: number): Promise<RevisionList> {
    return this.#json('admin.revisions.list', {}, undefined, {}, limit !== undefined ? new URLSearchParams({ limit: String(limit) }) : undefined);
  }
  revision(n: number): Promise<RevisionDetail> { return this.#json('admin.revisions.show', { number: n }); }
  status(): Promise<ControlStatus> { return this.#json('admin.status'); }
  /** Upload a model file by its sha256 (the server checks it). */
  putArtifact(sha256: string, bytes: Buffer): Promise<ArtifactStored> {
    return this.#json('admin.artifacts.put', { digest: sha256 }, bytes, { 'content-type': 'application/octet-stream' });
  }

  rollouts(): Promise<RolloutList> { return this.#json('admin.rollouts'); }
  rolloutCommand(name: string, action: 'promote' | 'abort' | 'pause' | 'resume'): Promise<RolloutChanged> {
    return this.#json(`admin.rollout.${action}`, { name }, '{}', JSON_TYPE);
  }
  deleteVersion(name: string, version: number): Promise<VersionDeleted> { return this.#json('admin.models.version.delete', { name, version }); }
  gc(opts: { dryRun?: boolean } = {}): Promise<GcResult> { return this.#json('admin.gc', {}, JSON.stringify(opts), JSON_TYPE); }
  silences(): Promise<{ silences: SilenceView[] }> { return this.#json('admin.silences.list'); }
  silence(request: SilenceRequest): Promise<SilenceCreated> { return this.#json('admin.silences.create', {}, JSON.stringify(request), JSON_TYPE); }
  expireSilence(id: string): Promise<{ silence: SilenceView; changed: boolean }> { return this.#json('admin.silences.expire', { id }); }

  /** POST an inference request (JSON) to a deployment, or one version of it; the raw answer. */
  infer(deployment: string, body: string | Buffer, version?: string): Promise<RawAnswer> {
    const path = version === undefined ? pathOf('model.infer', { name: deployment }) : pathOf('model.version.infer', { name: deployment, version });
    return this.send('POST', path, body, { 'content-type': 'application/json' });
  }

  /** GET a deployment's metadata (the protocol's model metadata), parsed. */
  metadata<T>(deployment: string, version?: string): Promise<T> {
    return version === undefined ? this.#json('model.metadata', { name: deployment }) : this.#json('model.version.metadata', { name: deployment, version });
  }

  /** The error for a non-2xx answer, carrying the server's `{"error", "code"}` (the code from the status when the body has none). */
  errorFor(status: number, message: string, code?: unknown, details?: Record<string, unknown>): unknown {
    return this.#onError(new AloftError(isErrorCode(code) ? code : codeForStatus(status), message, details ? { details } : undefined));
  }

  /** The error for a non-2xx raw answer, read from its `{"error", "code"}` body when it has one. */
  failure(r: RawAnswer): unknown {
    let body: unknown;
    try { body = JSON.parse(r.body.toString('utf8')); } catch { /* not JSON: a proxy's page */ }
    return this.#errorOfBody(r.status, body);
  }

  /** `{"error", "code", ...details}` (issues, restart, …) as the error to throw. */
  #errorOfBody(status: number, body: unknown): unknown {
    const { error, code, ...details } = (typeof body === 'object' && body !== null && !Array.isArray(body) ? body : {}) as Record<string, unknown>;
    return this.errorFor(status, typeof error === 'string' ? error : `HTTP ${status}`, code, Object.keys(details).length > 0 ? details : undefined);
  }

  /** The error for a request that got no answer: a certificate this client does not trust is not a server that is down. */
  #unreachable(err: unknown): Error {
    const code = (err as { code?: string }).code ?? (err as Error).message;
    if (/CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS/.test(code)) {
      return fail('ALOFT_CONNECT', `Aloft at ${this.base} answered with a certificate this client does not trust (${code}); for a self-signed or private CA certificate, point NODE_EXTRA_CA_CERTS at its PEM file (e.g. NODE_EXTRA_CA_CERTS=./tls.crt aloft status)`, { cause: err });
    }
    return fail('ALOFT_CONNECT', `cannot reach Aloft at ${this.base} (${code}); start it with 'aloft up -f aloft.yaml' or pass --url`, { cause: err });
  }

  /** Send a request whose answer is NDJSON, handing each line to `onLine` as it arrives; resolves with the status. */
  async lines(method: string, path: string, body: string, onLine: (line: unknown) => void): Promise<number> {
    const auth: Record<string, string> = this.#key !== undefined ? { authorization: `Bearer ${this.#key}` } : {};
    let res;
    try {
      res = await request(`${this.base}${path}`, { method: method as 'POST', headers: { ...auth, 'content-type': 'application/json' }, body, headersTimeout: 600_000, bodyTimeout: 600_000 });
    } catch (err) {
      throw this.#unreachable(err);
    }
    let buf = '';
    for await (const chunk of res.body) {
      buf += (chunk as Buffer).toString('utf8');
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl).trim();
        buf = buf.slice(nl + 1);
        if (line) onLine(JSON.parse(line));
      }
    }
    if (buf.trim()) onLine(JSON.parse(buf));
    return res.statusCode;
  }

  /** Send a request; network failures become ALOFT_CONNECT. */
  async send(method: string, path: string, body?: string | Buffer, headers: Record<string, string> = {}): Promise<RawAnswer> {
    const auth: Record<string, string> = this.#key !== undefined ? { authorization: `Bearer ${this.#key}` } : {};
    let res;
    try {
      res = await request(`${this.base}${path}`, { method: method as 'GET', headers: { ...auth, ...headers }, ...(body !== undefined ? { body } : {}) });
    } catch (err) {
      throw this.#unreachable(err);
    }
    return { status: res.statusCode, headers: res.headers, body: Buffer.from(await res.body.arrayBuffer()) };
  }

  async #json<T>(id: RouteId, params: Record<string, string | number> = {}, body?: string | Buffer, headers: Record<string, string> = {}, query?: URLSearchParams): Promise<T> {
    const path = pathOf(id, params) + (query && query.size > 0 ? `?${query}` : '');
    const r = await this.send(routeOf(id).method, path, body, headers);
    let parsed: unknown;
    try {
      parsed = JSON.parse(r.body.toString('utf8'));
    } catch {
      throw fail('ALOFT_CONNECT', `${this.base}${path} answered ${r.status} with a body that is not JSON; is --url pointing at Aloft?`);
    }
    if (r.status >= 400) throw this.#errorOfBody(r.status, parsed);
    return parsed as T;
  }
}
