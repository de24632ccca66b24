/**
 * The spec's schema: one zod object per top-level section. The descriptions are the
 * documentation: docs/spec.md and schema/aloft.schema.json are generated from them
 * (`npm run gen`). Each description states the meaning, the default and an example.
 *
 * This schema checks shapes, types and ranges, and converts units. Checks that relate
 * fields to each other or to names (model references, name syntax) live in checks.ts;
 * defaults that depend on other fields and path resolution live in normalize.ts.
 *
 * To add a section (rollouts, slos, …): write its schema here or in its own file, add it
 * to `sections`, and add its normalized type to `Spec` in types.ts.
 */
import { CATALOG, suggestInstance } from '../cost/prices.js';
import { z } from 'zod';
import { EXECUTION_MODES, GRAPH_OPTIMIZATIONS, ISOLATIONS } from '../runtime/replica-spec.js';
import { MODEL_REF_PATTERN, NAME_PATTERN, checkModelRef } from './modelref.js';
import { showKind, showValue } from './show.js';
import { didYouMean } from './suggest.js';
import { DURATION_HELP, DURATION_PATTERN, SIZE_HELP, SIZE_PATTERN, parseDuration, parseSize } from './units.js';

// ── value types ────────────────────────────────────────────────────────────────────────

/** A duration (string with unit, or milliseconds), normalized to milliseconds. */
export function duration(options: { positive?: boolean } = {}) {
  return z
    .union([
      z.string().regex(new RegExp(DURATION_PATTERN), { error: (iss) => `invalid duration ${showValue(iss.input)}: use ${DURATION_HELP}` }),
      z.number().min(0, { error: (iss) => `invalid duration ${showValue(iss.input)}: must not be negative` }),
    ], { error: (iss) => `expected a duration, got ${showKind(iss.input)}: use ${DURATION_HELP}` })
    .transform((value, ctx) => {
      const ms = parseDuration(value);
      if (ms === undefined) {
        ctx.issues.push({ code: 'custom', message: `invalid duration ${showValue(value)}: use ${DURATION_HELP}`, input: value });
        return z.NEVER;
      }
      if (options.positive === true && ms === 0) {
        ctx.issues.push({ code: 'custom', message: 'must be greater than 0', input: value });
        return z.NEVER;
      }
      return ms;
    });
}

/** A size (string with unit, or bytes), normalized to bytes. */
export function size() {
  return z
    .union([
      z.string().regex(new RegExp(SIZE_PATTERN), { error: (iss) => `invalid size ${showValue(iss.input)}: use ${SIZE_HELP}` }),
      z.number().int({ error: (iss) => `invalid size ${showValue(iss.input)}: bytes must be a whole number` }).min(0, { error: 'must not be negative' }),
    ], { error: (iss) => `expected a size, got ${showKind(iss.input)}: use ${SIZE_HELP}` })
    .transform((value, ctx) => {
      const bytes = parseSize(value);
      if (bytes === undefined || bytes < 1) {
        ctx.issues.push({ code: 'custom', message: `invalid size ${showValue(value)}: must be at least 1 byte`, input: value });
        return z.NEVER;
      }
      return bytes;
    });
}

function int(min: number, max?: number) {
  const s = z.number().int().min(min);
  return max === undefined ? s : s.max(max);
}

/** Names of models and deployments. The pattern is for editors; checks.ts reports bad names at the key. */
const nameKey = z.string().meta({ pattern: NAME_PATTERN });

const LABEL_KEY_RE = /^[A-Za-z0-9]([A-Za-z0-9._/-]{0,251}[A-Za-z0-9])?$/;

const labels = z
  .record(
    z.string().regex(LABEL_KEY_RE, { error: (iss) => `invalid label key ${showValue(iss.input)}: use letters, digits, '.', '_', '/' or '-', starting and ending with a letter or digit` }),
    z.string().max(256).describe('A label value (a string; quote numbers and booleans). Example: team: risk.'),
  )
  .default({});

/** A model reference (`name`, `name@3`, `name@production`, `name@latest`), parsed. */
const modelRef = z
  .string()
  .meta({ pattern: MODEL_REF_PATTERN })
  .transform((text, ctx) => {
    const r = checkModelRef(text);
    if (!r.ok) {
      ctx.issues.push({ code: 'custom', message: r.message, input: text, ...(r.hint ? { params: { hint: r.hint } } : {}) });
      return z.NEVER;
    }
    return r.ref;
  });

// ── sections ───────────────────────────────────────────────────────────────────────────

export const serverSchema = z
  .strictObject({
    host: z.string().min(1).default('127.0.0.1').describe(
      "Interface the gateway listens on. Default '127.0.0.1' (this machine only); use '0.0.0.0' to accept connections from other hosts. Example: host: 0.0.0.0.",
    ),
    port: int(0, 65535).default(8080).describe(
      'TCP port of the gateway (Open Inference Protocol and admin API). 0 picks a free port. Default 8080. Example: port: 9000.',
    ),
    adminPort: int(0, 65535).optional().describe(
      'Serve the admin API (/api/v1: models, keys, audit, status) on this port instead of the gateway\'s, e.g. to keep it behind a firewall while inference is exposed. Same host, TLS and credentials. 0 picks a free port. No default (the admin API shares the gateway\'s port). Example: adminPort: 8081.',
    ),
    bodyLimit: size().prefault('32MiB').describe(
      "Largest accepted request body after decompression; bigger requests get 413. A size ('32MiB', '8mb') or bytes. Default '32MiB'. Example: bodyLimit: 64MiB.",
    ),
    bodyMemory: size().optional().meta({ 'x-default': "'128MiB', or bodyLimit if larger" }).describe(
      "Most memory all request bodies together may hold at once, across every connection: a request reserves its body's size once it is authenticated and before its body is read, and gives it back when answered. Past it, requests get 503 with Retry-After: 1 instead of the gateway's memory growing with the number of uploads. At least bodyLimit. Default '128MiB', or bodyLimit if that is larger. Example: bodyMemory: 512MiB.",
    ),
    bodyTimeout: duration({ positive: true }).prefault('60s').describe(
      "How long a client may take to send a request's body once its headers have arrived; past it the request gets 408 and the connection is closed. An inference request's own deadline (timeout) also covers its upload, and a body still arriving at the deadline gets 504. Default '60s'. Example: bodyTimeout: 10s.",
    ),
    requestTimeout: duration({ positive: true }).prefault('30s').describe(
      "Default per-request deadline, from arrival to response; past it the request gets 504. Deployments may set their own timeout. A duration or milliseconds. Default '30s'. Example: requestTimeout: 5s.",
    ),
    headersTimeout: duration({ positive: true }).prefault('10s').describe(
      "How long a client may take to send its request headers; slower connections are closed (slow-client protection). Default '10s'. Example: headersTimeout: 5s.",
    ),
    fastInferPath: z.boolean().default(true).describe(
      "Read plain inference requests (POST …/infer with a Content-Length, a JSON or binary body) straight off the connection instead of through Node's HTTP parser: the same answers for less CPU per request. The first unusual request on a connection (chunked, compressed, malformed, another route) hands that connection to Node's parser. Not used with TLS. Set false to have Node's parser read every request. Default true. Example: fastInferPath: false.",
    ),
    drainTimeout: duration().prefault('30s').describe(
      "On shutdown, how long to keep serving requests already accepted before closing. Default '30s'. Example: drainTimeout: 10s.",
    ),
  })
  .prefault({})
  .describe('The gateway: where it listens and its request limits. Every field is optional.');

export const stateSchema = z
  .strictObject({
    dir: z.string().min(1).default('.aloft').describe(
      "Folder for Aloft's state: the model artifact store and, by default, the SQLite database. Relative to the spec file. Default '.aloft'. Example: dir: /var/lib/aloft.",
    ),
    artifacts: z.string().min(1).optional().describe(
      "Folder of the content-addressed model artifact store. Relative to the spec file. Default: artifacts/ inside state.dir. Gateways that share one PostgreSQL database (scaled mode) must share this folder too (a ReadWriteMany volume on Kubernetes), so that each can open the models another registered: a gateway whose folder is not the one its peers use refuses to start and names the fix. Example: artifacts: /mnt/aloft-artifacts.",
    ),
    database: z
      .string()
      .regex(/^(sqlite|file|postgres|postgresql):/i, { error: (iss) => `invalid database URL ${showValue(iss.input)}: use sqlite:<path>, file:<path> or postgres://user@host:5432/db` })
      .optional()
      .describe(
        'Database URL for the control plane. Default: a SQLite file inside state.dir. Use postgres://user@host:5432/aloft for PostgreSQL (scaled mode). The environment variable ALOFT_DATABASE_URL overrides it; put credentials there, not in the spec. Example: database: postgres://aloft@db:5432/aloft.',
      ),
  })
  .prefault({})
  .describe('Where Aloft keeps its state. Every field is optional.');

export const modelSchema = z
  .strictObject({
    path: z.string().min(1).describe(
      'The ONNX model file to register, relative to the spec file (or absolute). Required. Applying the spec registers a new version when the file content changes. Example: path: ./model.onnx.',
    ),
    description: z.string().optional().describe('Free text shown in listings and the dashboard. No default. Example: description: Credit default risk, gradient-boosted.'),
    labels: labels.describe('String labels for grouping, cost allocation and search. Default none. Example: labels: { team: risk, tier: "1" }.'),
  })
  .describe('A model: a file whose versions Aloft registers. Aliases (production, staging, …) are set with the CLI, not here.');

export const modelsSchema = z
  .record(nameKey, modelSchema)
  .default({})
  .describe('Models to register, by name. Names are 1–63 lowercase letters, digits, ".", "_" or "-", starting and ending with a letter or digit. Default none. Example: models: { credit-risk: { path: ./model.onnx } }.');

export const replicasSchema = z
  .union([
    int(0).describe('A fixed count.'),
    z
      .strictObject({
        min: int(0).default(1).describe('Fewest replicas the autoscaler keeps; 0 allows scaling to zero when idle. Default 1. Example: min: 0.'),
        max: int(1).describe('Most replicas the autoscaler starts; at least 1 and not below min. Required. Example: max: 8.'),
      })
      .superRefine((r, ctx) => {
        if (r.min > r.max) ctx.addIssue({ code: 'custom', message: `min (${r.min}) is greater than max (${r.max})`, input: r });
      })
      .describe('An autoscaled range; starts with min replicas, or 1 when min is 0.'),
  ], { error: (iss) => `expected a whole number of replicas (e.g. 2) or a range { min, max }, got ${showKind(iss.input)}` })
  .transform((r) =>
    typeof r === 'number'
      ? { min: r, max: r, initial: r }
      : { min: r.min, max: r.max, initial: r.min === 0 ? 1 : r.min },
  );

export const batchingSchema = z
  .strictObject({
    enabled: z.boolean().default(true).describe(
      'Combine concurrent requests into one model run (dynamic batching, as in Triton). The model must accept a variable batch dimension; otherwise each request runs alone. Default true. Example: enabled: false.',
    ),
    maxBatchSize: int(1, 4096).default(64).describe(
      'Most rows in one model run; requests are never split across runs. 1 to 4096. Default 64. Example: maxBatchSize: 128.',
    ),
    maxQueueDelay: duration().prefault('0ms').describe(
      "How long the oldest queued request may wait for a fuller batch. '0ms' dispatches as soon as a replica is free, taking whatever has queued (Triton's semantics); a small delay (e.g. '2ms') trades latency for throughput at low load. Default '0ms'. Example: maxQueueDelay: 2ms.",
    ),
    maxQueueSize: int(1).default(1024).describe(
      'Most requests waiting for a replica; when full, new requests get 503 at once instead of waiting. Default 1024. Example: maxQueueSize: 256.',
    ),
  })
  .prefault({})
  .describe('Dynamic batching for the deployment. Every field is optional.');

export const runtimeSchema = z
  .strictObject({
    intraOpThreads: z
      .union([z.literal('auto'), int(1)], { error: (iss) => `expected 'auto' or a whole number of threads ≥ 1, got ${showKind(iss.input)}` })
      .default('auto')
      .describe("Threads ONNX Runtime uses inside one operator, per replica. 'auto' shares this machine's cores evenly among all the replicas Aloft may run, a range counted at its max (at least 1 each), so replicas do not fight over cores however far the autoscaler scales them. Running replicas keep the threads they started with: a replica count changed by apply does not restart them, and plan warns when the result would oversubscribe the cores. Default 'auto'. Example: intraOpThreads: 2."),
    interOpThreads: int(1).default(1).describe(
      "Threads used to run independent operators at once; only matters with executionMode 'parallel'. Default 1. Example: interOpThreads: 2.",
    ),
    graphOptimization: z.enum(GRAPH_OPTIMIZATIONS).default('all').describe(
      "ONNX Runtime graph optimization level applied when the model loads. Default 'all'. Example: graphOptimization: basic.",
    ),
    isolation: z.enum(ISOLATIONS).default('process').describe(
      "Where replicas run. 'process': each replica is its own process, reached over a Unix socket with a framed binary protocol — a crash takes down only that replica, and it is the same program a Kubernetes pod runs. 'thread': replicas are worker threads inside the Aloft process, reached by message passing — no second process to wake, so lower latency at low load, but a native crash in ONNX Runtime stops the whole server. At high load the two serve about the same (BENCHMARKS.md). Default 'process'. Example: isolation: thread.",
    ),
    executionMode: z.enum(EXECUTION_MODES).default('sequential').describe(
      "Run operators one at a time ('sequential') or independent branches at once ('parallel'). Default 'sequential'. Example: executionMode: parallel.",
    ),
    allowSpinning: z.boolean().default(false).describe(
      "Let ONNX Runtime's own worker threads (when intraOpThreads or interOpThreads is above 1) busy-wait for the next piece of work instead of sleeping. ONNX Runtime does this by default; Aloft does not, because spinning threads keep cores busy between batches, cores the gateway and the other replicas need. Measured on two cores with one replica of two threads: spinning took about twice the CPU per request at the same latency at 1 connection, and served 4.6–6.4k req/s at 64 connections against 7.0–11.1k without. Turn it on only for replicas with cores of their own. Default false. Example: allowSpinning: true.",
    ),
  })
  .prefault({})
  .describe('ONNX Runtime session options for each replica. Every field is optional.');

// ── limits and security ───────────────────────────────────────────────────────────────

export const ROLES = ['admin', 'operator', 'predictor', 'viewer'] as const;

export const rateLimitSchema = z
  .strictObject({
    rate: z.number({ error: (iss) => (iss.input === undefined ? 'rate is required: the sustained requests per second, e.g. rate: 50' : `rate is requests per second, a number, got ${JSON.stringify(iss.input)?.slice(0, 40)}`) }).positive({ error: 'rate must be above 0 (requests per second)' }).max(1e7).describe(
      'Sustained requests per second (a token bucket refilled at this rate). Required. Example: rate: 50.',
    ),
    burst: int(1).optional().meta({ 'x-default': 'rate rounded up' }).describe(
      'Requests allowed at once above the sustained rate (the bucket size). Default: rate rounded up (at least 1). Example: burst: 100.',
    ),
    daily: int(1).optional().describe(
      'Most requests per UTC day; past it requests get 429 until midnight UTC. No default (no quota). Example: daily: 100000.',
    ),
  })
  .describe('A token-bucket rate limit with an optional daily quota. Over the limit, requests get 429 with Retry-After.');

export const limitsSchema = z
  .strictObject({
    backend: z.enum(['memory', 'redis']).default('memory').describe(
      "Where rate-limit counters live: 'memory' (this gateway only) or 'redis' (shared by every gateway, so several gateways enforce one limit). Default 'memory'. Example: backend: redis.",
    ),
    redis: z
      .strictObject({
        url: z.string().regex(/^rediss?:\/\//, { error: 'expected a redis:// or rediss:// URL' }).default('redis://127.0.0.1:6379').describe(
          "Redis URL for backend 'redis'. Put credentials in ${env:NAME}. Default 'redis://127.0.0.1:6379'. Example: url: redis://cache:6379/0.",
        ),
        prefix: z.string().min(1).default('aloft').describe("Key prefix, so several Aloft systems can share one Redis. Default 'aloft'. Example: prefix: aloft-prod."),
        failMode: z.enum(['open', 'closed']).default('open').describe(
          "What happens to requests with a limit while Redis cannot be reached: 'open' lets them through (counted in aloft_rate_limit_unavailable_total{outcome=\"allowed\"}; availability over exact limits), 'closed' refuses them with 503 until Redis is back (exact limits over availability, e.g. for paid quotas). Default 'open'. Example: failMode: closed.",
        ),
      })
      .prefault({})
      .describe('Redis connection for shared limits. Every field is optional.'),
    perKey: rateLimitSchema.optional().describe(
      'Limit applied to every API key (a key created with its own limit, aloft keys create --rate N [--burst N] [--daily N], uses that instead). No default (keys are unlimited). Example: perKey: { rate: 100, burst: 200, daily: 1000000 }.',
    ),
  })
  .prefault({})
  .describe('Rate limits and quotas. Deployments set their own under deployments.<name>.limits. Every field is optional.');

export const jwtSchema = z
  .strictObject({
    issuer: z.string().min(1).describe("Required 'iss' of accepted tokens. Required. Example: issuer: https://login.example.com/."),
    audience: z.string().min(1).describe("Required 'aud' of accepted tokens. Required. Example: audience: aloft."),
    jwks: z.string().min(1).describe(
      'Where the signing keys are: a JWKS file (relative to the spec) or an https:// URL. Required. Example: jwks: ./jwks.json.',
    ),
    roleClaim: z.string().min(1).default('role').describe("Claim that carries the role. Default 'role'. Example: roleClaim: aloft_role."),
    roles: z.record(z.string(), z.enum(ROLES)).optional().describe(
      'Map from claim values to Aloft roles, for identity providers with their own group names. No default (the claim must hold an Aloft role). Example: roles: { ml-admins: admin, data-scientists: predictor }.',
    ),
    scopeClaim: z.string().min(1).default('aloft_scope').describe(
      "Claim with the deployment/model name globs the token may use (a list or a space-separated string). Only an absent claim means every name; an empty one (\"\", [], [\"\"]) means none. Default 'aloft_scope'. Example: scopeClaim: scope.",
    ),
    clockTolerance: duration().prefault('30s').describe("Allowed clock skew when checking exp and nbf. Default '30s'. Example: clockTolerance: 5s."),
  })
  .describe('Accept JWT bearer tokens signed by an identity provider, besides API keys.');

export const securitySchema = z
  .strictObject({
    auth: z
      .strictObject({
        enabled: z.boolean().default(true).describe(
          "Require credentials (API keys or JWTs). Turning it off needs 'aloft up --insecure' and is for local experiments only. Default true. Example: enabled: false.",
        ),
        jwt: jwtSchema.optional(),
      })
      .prefault({})
      .describe('Authentication. API keys always work; JWTs when jwt is set. Every field is optional.'),
    tls: z
      .strictObject({
        cert: z.string().min(1).describe('PEM certificate chain file, relative to the spec. Required. Example: cert: ./tls/server.crt.'),
        key: z.string().min(1).describe('PEM private key file, relative to the spec. Required. Example: key: ./tls/server.key.'),
      })
      .optional()
      .describe('Serve HTTPS. Both files are re-read on SIGHUP, without dropping connections. No default (plain HTTP on 127.0.0.1).'),
  })
  .prefault({})
  .describe('Authentication and transport security. Secure by default: every endpoint needs a credential unless a deployment is public. Every field is optional.');

export const ROLLOUT_STRATEGIES = ['replace', 'canary', 'blueGreen', 'abTest', 'shadow'] as const;
/** What a rollout's analysis can gate on. */
export const ROLLOUT_GATES = ['errors', 'latency', 'latencyP50', 'outputShift', 'slo', 'accuracy', 'drift'] as const;

export const rolloutSchema = z
  .strictObject({
    strategy: z.enum(ROLLOUT_STRATEGIES, { error: (iss) => `unknown rollout strategy ${JSON.stringify(iss.input)}; use one of: ${ROLLOUT_STRATEGIES.join(', ')}` }).default('replace').describe(
      "How a new model version reaches traffic: 'replace' (the new replica group warms beside the old one and takes all traffic at one instant once every replica is ready), 'canary' (traffic moves to it in steps, each analysed against the old version, rolled back automatically on a failed step), 'blueGreen' (the new group warms in full, serves only preview requests for `bake`, takes all traffic at one instant, and the old group stays warm for `keepOld` so that `aloft rollout abort` switches back at once), 'abTest' (callers are assigned to the old or the new version by their API key or a header, `split` percent to the new one, for as long as it takes; `aloft rollout status` compares the variants, and `aloft rollout promote` or `abort` ends it) or 'shadow' (the old version answers every request; a sampled copy of them goes to the new one, whose answers are compared with the old one's and never returned; promoted on `shadow.agreement`, or by hand). Default 'replace'. Example: strategy: canary.",
    ),
    steps: z.array(z.number().gt(0, { error: 'a canary step is a percentage above 0' }).max(100, { error: 'a canary step is a percentage of at most 100' }))
      .min(1).default([10, 50, 100])
      .refine((xs) => xs.every((x, i) => i === 0 || x > xs[i - 1]!), { error: 'canary steps must increase, e.g. [10, 50, 100]' })
      .describe("Percent of the deployment's traffic the new version gets at each canary step; 100 (or the end of the list) promotes it. Default [10, 50, 100]. Example: steps: [5, 25, 50, 100]."),
    interval: duration({ positive: true }).prefault('30s').describe(
      'How long each canary step lasts at least; it moves on only when the analysis has also decided. Default 30s. Example: interval: 1m.',
    ),
    split: z.number().gt(0).lt(100).default(50).describe(
      'abTest: percent of callers (by API key or token subject, or by stickyHeader; sticky) assigned to the new version. Default 50. Example: split: 20.',
    ),
    stickyHeader: z.string().regex(/^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,64}$/, { error: 'stickyHeader is an HTTP header name, e.g. x-user-id' }).transform((h) => h.toLowerCase()).optional().describe(
      "abTest: assign callers by this request header's value (a user or session id) instead of their API key; a request without the header falls back to its key. No default (the API key or token subject). Example: stickyHeader: x-user-id.",
    ),
    previewKeys: z.array(z.string().min(1)).default([]).describe(
      "blueGreen: names of API keys (or token subjects) whose requests go to the new version during `bake`, as well as requests that name its version; e.g. the key of a smoke-test job. Default []. Example: previewKeys: [ci-smoke].",
    ),
    shadow: z
      .strictObject({
        sample: z.number().gt(0).max(1).default(1).describe(
          'Share of requests (0 to 1] whose copy goes to the new version. Default 1. Example: sample: 0.1.',
        ),
        compare: z.enum(['auto', 'argmax', 'absdiff']).default('auto').describe(
          "How an answer of the new version is compared with the old one's for the same request: 'argmax' (the same predicted class in every row of every output), 'absdiff' (the mean absolute difference of the outputs at most `tolerance`) or 'auto' (argmax when the first output has 2 to 64 scores per row, else absdiff). Default 'auto'. Example: compare: absdiff.",
        ),
        tolerance: z.number().min(0).default(1e-3).describe(
          "absdiff: the largest mean absolute difference that still counts as agreeing. Default 0.001. Example: tolerance: 0.05.",
        ),
        agreement: z.number().gt(0).max(1).optional().describe(
          "Promote automatically once the share of agreeing answers is, with the analysis' confidence, at least this (and the new version's failures are not worse); roll back once it is surely below. Without it, promotion is by hand (aloft rollout promote). No default. Example: agreement: 0.98.",
        ),
        queue: z.number().int().min(1).max(100_000).default(64).describe(
          'Copies in flight to the new version at most; a copy over this is dropped and counted (aloft_shadow_copies_total{outcome="dropped"}), so shadowing never slows the answers. Default 64. Example: queue: 256.',
        ),
      })
      .prefault({})
      .describe('shadow: which requests are copied to the new version and how its answers are judged. Every field is optional.'),
    webhooks: z
      .array(z.strictObject({
        url: z.url({ protocol: /^https?$/, error: 'a webhook gate url is an http:// or https:// URL' }).describe('Called with POST and a JSON body (deployment, strategy, before, baseline and candidate {version, group}, step: the index in steps, 0 first, as aloft rollout status --json gives it, weight, next: the weight it moves to, state, and the analysis so far); a 2xx answer lets the rollout go on, anything else (or no answer within `timeout`) rolls it back. Required. Example: url: https://eval.internal/gate.'),
        headers: z.record(z.string().regex(/^[A-Za-z0-9-]{1,64}$/), z.string()).default({}).describe('Extra request headers, e.g. a token the gate requires. Default {}. Example: headers: { authorization: Bearer ${env:GATE_TOKEN} }.'),
        before: z.enum(['step', 'promotion']).default('step').describe("'step': before every canary step after the first and before promotion; 'promotion': only before promotion. Default 'step'. Example: before: promotion."),
        timeout: duration({ positive: true }).prefault('10s').describe('How long to wait for the answer. Default 10s. Example: timeout: 1m.'),
      }))
      .default([])
      .describe('Webhook gates: URLs that must answer 2xx before a rollout moves on (an evaluation job a team already has). Each call and its answer is recorded in the rollout\'s verdicts. Default []. Example: webhooks: [{url: http://127.0.0.1:9000/gate, before: promotion}].'),
    bake: duration().prefault('0s').describe(
      "blueGreen: how long the new version serves only preview requests (those naming its version, /v2/models/<name>/versions/<v>/infer, and previewKeys' callers) before the switch; a failure in them rolls back. With too few preview answers to judge, the bake ends on its time, unless analysis.onInconclusive is rollback. Default 0s. Example: bake: 5m.",
    ),
    keepOld: duration().prefault('10m').describe(
      'blueGreen: how long the old group stays warm after the switch, for an instant rollback: the errors gate meanwhile judges the live answers of the new version against those of the old one and switches back on a failure, as aloft rollout abort does; the apply has converged once it stops. Default 10m. Example: keepOld: 1h.',
    ),
    allowSignatureChange: z.boolean().default(false).describe(
      "Let a canary move to a version whose inputs or outputs differ (names, datatypes, shapes); callers meet both versions during it. Without it, plan names the difference and apply refuses. Default false. Example: allowSignatureChange: true.",
    ),
    analysis: z
      .strictObject({
        alpha: z.number().gt(0).max(0.5).default(0.05).describe(
          "The analysis' false-alarm rate: the chance that an equal version is rolled back, over the whole step however often it is checked (an always-valid sequential test). Default 0.05. Example: alpha: 0.01.",
        ),
        minSamples: z.number().int().min(10).default(100).describe(
          'Answers each version needs in a step before anything is decided; with fewer, the step is inconclusive. Default 100. Example: minSamples: 500.',
        ),
        maxDuration: duration({ positive: true }).prefault('10m').describe(
          'The longest a step may stay inconclusive (too little traffic to decide); then onInconclusive applies, and with wait the canary is rolled back. Default 10m. Example: maxDuration: 30m.',
        ),
        gates: z.array(z.enum(ROLLOUT_GATES, { error: (iss) => `unknown rollout gate ${JSON.stringify(iss.input)}; the analysis can gate on: ${ROLLOUT_GATES.join(', ')}` }))
          .min(1, { error: 'gates needs at least one of: ' + ROLLOUT_GATES.join(', ') }).default(['errors', 'latency'])
          .describe("What decides each step (every comparison is recorded either way): 'errors' (the share of 5xx answers and outputs with NaN or an infinity), 'latency' (the share of answers slower than the old version's p99, 5 points of slack), 'latencyP50' (the share slower than its median, 5 points of slack), 'outputShift' (the distance between the two versions' distributions of predictions, at most maxShift), 'slo' (the candidate's bad-event share for each availability and latency SLO of the deployment, against maxBurn times the SLO's budget: a guard that fails once the share is surely above, and passes once minSamples answers are in without that; proving a 99.9% objective met would need many thousands of answers), 'accuracy' (the share of the candidate's labelled predictions that were wrong, against the baseline's, as errors are compared; labels come from /feedback), 'drift' (holds, inconclusive, while the deployment's latest drift check finds the live inputs drifted from the reference, so nothing is promoted on unrepresentative traffic). A shadow reports its copies' latency but does not gate on it: copies are sent open-loop and timed from their sending, so they are not comparable with the callers' latency. Default [errors, latency]. Example: gates: [errors, latency, outputShift]."),
        maxShift: z.number().gt(0).max(1).default(0.2).describe(
          "outputShift: the largest Jensen–Shannon distance (0 same, 1 disjoint) between the versions' predictions that passes, judged once both have minSamples answers. Default 0.2. Example: maxShift: 0.1.",
        ),
        maxBurn: z.number().gt(0).max(1000).default(1).describe(
          "slo: the burn rate a candidate may run at: its bad-event share against maxBurn × (100 − objective)%. 1 means it must keep within the budget's pace; 14.4 fails only what would page. Default 1. Example: maxBurn: 2.",
        ),
        onInconclusive: z.enum(['wait', 'rollback', 'promote']).default('wait').describe(
          "What a step does when its interval has passed and the analysis has not decided: 'wait' (keep collecting until maxDuration, then roll back), 'rollback' or 'promote' at once. Default 'wait'. Example: onInconclusive: promote.",
        ),
      })
      .prefault({})
      .describe('How each canary step compares the new version with the old one: failures (5xx answers and outputs with NaN or an infinity) and the share of answers slower than the old version\'s p99. Every field is optional.'),
  })
  .prefault({})
  .describe('How a change of model version is rolled out. Every field is optional.');

const featureName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_.=:/+-]{0,127}$/, { error: (iss) => `feature name ${JSON.stringify(iss.input)}: use letters, digits and _ . = : / + - (up to 128), starting with a letter or '_'` });

export const featureSchema = z.union([
  featureName,
  z.strictObject({
    name: featureName.describe('The column\'s name. Required. Example: name: region.'),
    kind: z.enum(['numeric', 'categorical']).default('numeric').describe("'numeric' or 'categorical' (codes or labels compared as categories). Default 'numeric'. Example: kind: categorical."),
    values: z.array(z.union([z.string(), z.number()])).min(1).optional().describe('categorical: the values it may take. No default. Example: values: [0, 1, 2, 3].'),
  }),
]);

/** 32 bytes in base64 (a 256-bit key). */
const aesKey = z.string().refine((s) => /^[A-Za-z0-9+/]{43}=$/.test(s.trim()) && Buffer.from(s.trim(), 'base64').length === 32, {
  // What is wrong with it, never the value (it is a secret).
  error: (iss) => {
    const v = typeof iss.input === 'string' ? iss.input.trim() : '';
    const what = /^[A-Za-z0-9+/]*={0,2}$/.test(v) ? `this one is ${Buffer.from(v, 'base64').length} bytes` : 'this one is not base64 (only A–Z, a–z, 0–9, + and / with = padding)';
    return `an encryption key is 32 bytes (256 bits) in base64, 44 characters; ${what}. Make one with: openssl rand -base64 32`;
  },
});

export const captureSchema = z
  .strictObject({
    sampleRate: z.number().min(0, { error: 'sampleRate is a share from 0 to 1' }).max(1, { error: 'sampleRate is a share from 0 to 1' }).default(1).describe(
      'Share of answered requests that are captured, 0 to 1. Default 1. Example: sampleRate: 0.1.',
    ),
    redact: z.array(featureName).default([]).describe(
      'Features (by name, see features) never stored: absent from every record. Default []. Example: redact: [income].',
    ),
    hash: z.array(featureName).default([]).describe(
      'Features stored as an HMAC-SHA256 of their value under hashKey, so equal values still join but the value cannot be read back: hmac: followed by the first 128 bits of the HMAC in hex, of the value as text (a number as JavaScript writes it: 42, 0.5), so a join table can compute the same with the same key. Drift compares a hashed feature as categories; one whose values rarely repeat (a continuous value, an id) is listed as not tested. Default []. Example: hash: [customer_id].',
    ),
    hashKey: z.string().min(16, { error: (iss) => `hashKey needs at least 16 characters and has ${typeof iss.input === 'string' ? iss.input.length : 0} (after \${env:}/\${file:} are read): use a long random secret, e.g. the output of openssl rand -base64 24 in \${env:CAPTURE_HASH_KEY}` }).optional().describe(
      'The secret of the hash fields\' HMAC; required when hash names a feature. No default. Example: hashKey: ${env:CAPTURE_HASH_KEY}.',
    ),
    key: aesKey.describe(
      'The AES-256-GCM key records are encrypted with at rest: 32 bytes in base64, given as ${env:NAME} or ${file:path}. Each record carries the key\'s id, so a new key can replace it while the old one stays in previousKeys. Required. Example: key: ${env:CAPTURE_KEY}.',
    ),
    previousKeys: z.array(aesKey).default([]).describe(
      'Keys of earlier records: read (export, quality) but never written with. Default []. Example: previousKeys: [${env:CAPTURE_KEY_2025}].',
    ),
    retention: duration({ positive: true }).prefault('30d').describe(
      'How long records are kept; older ones are deleted (in the store, records written together in one flush go together, once the newest of them is older). Default 30d. Example: retention: 7d.',
    ),
    sinks: z.array(z.enum(['store', 'jsonl', 'nats'])).min(1).default(['store']).describe(
      "Where records go: 'store' (the state database: SQLite or PostgreSQL; what export and feedback read), 'jsonl' (rotated files under the state folder's capture/<deployment>/, one encrypted record per line, for shipping to a data lake) and 'nats' (a NATS JetStream stream, the scaled shape's capture stream; see nats). Default [store]. Example: sinks: [store, jsonl].",
    ),
    nats: z
      .strictObject({
        url: z.string().regex(/^(nats|tls):\/\/\S+$/, { error: 'nats.url is a NATS server URL such as nats://127.0.0.1:4222' }).default('nats://127.0.0.1:4222').describe('The NATS server (with JetStream). Default nats://127.0.0.1:4222. Example: url: nats://nats.internal:4222.'),
        stream: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, { error: 'nats.stream is a stream name: letters, digits, _ and -' }).default('ALOFT_CAPTURE').describe('The JetStream stream, created when missing. Default ALOFT_CAPTURE. Example: stream: PREDICTIONS.'),
        subject: z.string().regex(/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/, { error: 'nats.subject is a subject prefix such as aloft.capture' }).default('aloft.capture').describe("Records go to '<subject>.<deployment>', with the message id '<deployment>/<request id>' (JetStream drops duplicates). Default aloft.capture. Example: subject: ml.predictions."),
      })
      .prefault({})
      .describe('nats sink: where the capture stream is. Every field is optional.'),
    buffer: z.number().int().min(1).max(1_000_000).default(10_000).describe(
      'Records waiting to be written, at most; past it new samples are dropped and counted (aloft_capture_dropped_total), so a slow sink never slows or fails a prediction. Default 10000. Example: buffer: 50000.',
    ),
  })
  .superRefine((c, ctx) => {
    if (c.hash.length > 0 && c.hashKey === undefined) ctx.addIssue({ code: 'custom', path: ['hashKey'], message: 'hash names features, so hashKey is required: the secret of their HMAC, e.g. hashKey: ${env:CAPTURE_HASH_KEY}' });
    const both = c.redact.filter((f) => c.hash.includes(f));
    if (both.length > 0) ctx.addIssue({ code: 'custom', path: ['hash'], message: `${both.join(', ')} ${both.length > 1 ? 'are' : 'is'} both redacted and hashed; choose one` });
  })
  .describe('Prediction capture: a sample of requests and answers, redacted, hashed and encrypted, written off the request path. No default (nothing captured).');

export const SLO_KINDS = ['availability', 'latency', 'accuracy'] as const;

const objective = z.number({ error: 'objective is a percentage, e.g. 99.9' })
  .gt(0, { error: 'objective is a percentage above 0, e.g. 99.9' })
  .lt(100, { error: (iss) => (Number(iss.input) > 100 ? `objective ${String(iss.input)} is over 100%: no more than every event can be good; use a percentage under 100, e.g. 99.9` : 'objective 100% leaves no error budget (not one event may fail), so every failure would page; use a percentage under 100, e.g. 99.99') })
  .refine((v) => v > 1, { error: 'objective is a percentage: 99.9 means 99.9%, so a share such as 0.999 is written 99.9' });

export const sloSchema = z
  .strictObject({
    name: z.string().regex(/^[a-z][a-z0-9-]{0,62}$/, { error: 'an SLO name is lower-case letters, digits and -, starting with a letter' }).optional().meta({ 'x-default': 'the kind' }).describe("The SLO's name in alerts, metrics and aloft monitor; unique in the deployment. Default: its kind. Example: name: latency-fast."),
    kind: z.enum(SLO_KINDS, { error: (iss) => `unknown SLO kind ${JSON.stringify(iss.input)}; an SLO measures one of: ${SLO_KINDS.join(', ')}` }).describe(
      "What is measured: 'availability' (the share of answers that are not 5xx and hold no NaN or infinity), 'latency' (the share of non-5xx answers within threshold) or 'accuracy' (the share of labelled predictions that were right, from /feedback, counted when the label arrives). Required. Example: kind: latency.",
    ),
    objective: objective.describe('The share of good events promised, in percent (under 100). Required. Example: objective: 99.9.'),
    window: duration({ positive: true }).prefault('30d').describe('The period the objective holds over; the error budget is (100 − objective)% of its events. Default 30d. Example: window: 7d.'),
    threshold: duration({ positive: true }).optional().describe('latency: an answer is good when it takes at most this long, from arrival to answer. Required for latency. Example: threshold: 100ms.'),
    tolerance: z.number().min(0).optional().describe('accuracy of a regression model: a prediction is right when within this distance of its label (classifiers are right when the predicted class is the label). No default (regression predictions are not judged). Example: tolerance: 0.5.'),
  })
  .superRefine((s, ctx) => {
    if (s.kind === 'latency' && s.threshold === undefined) ctx.addIssue({ code: 'custom', path: ['threshold'], message: 'a latency SLO needs threshold: the time within which an answer is good, e.g. threshold: 100ms' });
    if (s.kind !== 'latency' && s.threshold !== undefined) ctx.addIssue({ code: 'custom', path: ['threshold'], message: `threshold applies to latency SLOs only, not ${s.kind}` });
    if (s.kind !== 'accuracy' && s.tolerance !== undefined) ctx.addIssue({ code: 'custom', path: ['tolerance'], message: `tolerance applies to accuracy SLOs only, not ${s.kind}` });
  })
  .describe('A service-level objective: a kind of event, the share of them that must be good, and the window.');

/** A memory quantity as Kubernetes writes it (1Gi, 512Mi, 2G, 1.5Gi) or as sizes elsewhere in the spec (1GiB, 512MiB), in GiB. */
const MEMORY = /^([0-9]+(?:\.[0-9]+)?)\s*(Ki|Mi|Gi|Ti|K|M|G|T|KiB|MiB|GiB|TiB|KB|MB|GB|TB|k)?$/;
const MEMORY_UNITS: Record<string, number> = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, KiB: 2 ** 10, MiB: 2 ** 20, GiB: 2 ** 30, TiB: 2 ** 40, K: 1e3, k: 1e3, M: 1e6, G: 1e9, T: 1e12, KB: 1e3, MB: 1e6, GB: 1e9, TB: 1e12 };
const memoryGiB = z.union([z.string(), z.number().min(0)], { error: 'memory is a quantity such as 1Gi, 512Mi or 2GiB' }).transform((v, ctx) => {
  if (typeof v === 'number') return v / 2 ** 30;
  const m = MEMORY.exec(v.trim());
  if (!m) {
    ctx.issues.push({ code: 'custom', message: `invalid memory '${v}': use a quantity such as 1Gi, 512Mi or 2GiB`, input: v });
    return z.NEVER;
  }
  return (Number(m[1]) * (m[2] ? MEMORY_UNITS[m[2]]! : 1)) / 2 ** 30;
});
/** vCPUs: a number (0.5) or millicores ("500m"). */
const cpus = z.union([z.number().gt(0, { error: 'cpu must be above 0, e.g. 1 or 500m' }), z.string().regex(/^[0-9]+m$/, { error: "cpu is a number of vCPUs (1, 0.5) or millicores ('500m')" })]).transform((v) => (typeof v === 'number' ? v : Number(v.slice(0, -1)) / 1000));

export const resourcesSchema = z
  .strictObject({
    cpu: cpus.optional().meta({ 'x-default': 'the replica\'s ONNX Runtime intra-op threads' }).describe("vCPUs one replica reserves: a number or millicores. With intraOpThreads 'auto' it also sets the replica's threads. Default: its intra-op threads (the 'auto' share of this machine's cores). Example: cpu: 2."),
    memory: memoryGiB.optional().meta({ 'x-default': 'twice the model file, plus 256Mi' }).describe('Memory one replica reserves (Kubernetes quantities: 1Gi, 512Mi). Default: twice the model file plus 256Mi, rounded up to 64Mi. Example: memory: 1Gi.'),
    gpu: z.number().int().min(0).default(0).describe('GPUs one replica reserves. Default 0. Example: gpu: 1.'),
  })
  .describe("What one replica reserves, for cost allocation (and, on Kubernetes, its resource requests). Every field is optional.");

const price = (what: string, per: string, example: string) => z.number({ error: `${what} is a price in dollars per ${per}, e.g. ${example}` }).min(0, { error: `${what} cannot be negative; a price is dollars per ${per}, 0 or more` });

export const costSchema = z
  .strictObject({
    prices: z.strictObject({
      cpu: price('prices.cpu', 'vCPU-hour', '0.04').optional().describe('$ per vCPU-hour. No default (unpriced, unless instance gives it). Example: cpu: 0.04.'),
      memory: price('prices.memory', 'GiB-hour', '0.005').optional().describe('$ per GiB-hour. No default. Example: memory: 0.005.'),
      gpu: price('prices.gpu', 'GPU-hour', '0.95').optional().describe('$ per GPU-hour. No default. Example: gpu: 0.95.'),
    }).prefault({}).describe('Per-resource prices; each one given overrides the instance\'s. Every field is optional.'),
    instance: z.string().min(1).optional().describe("An instance type whose hourly price is split into per-resource rates with OpenCost's ratios: one of the built-in catalog (aws:m6i.large, aws:m6i.xlarge, aws:c6i.large, aws:c6i.xlarge, aws:g5.xlarge, gcp:n2-standard-2, gcp:e2-standard-2, azure:D2s_v5; on-demand list prices as of 2024, which change) or of instances. No default. Example: instance: aws:m6i.large."),
    instances: z.array(z.strictObject({
      name: z.string().min(1).describe('The type\'s name. Required. Example: name: onprem-node.'),
      vcpu: z.number().gt(0).describe('vCPUs. Required. Example: vcpu: 16.'),
      memory: memoryGiB.describe('Memory. Required. Example: memory: 64Gi.'),
      gpu: z.number().int().min(0).default(0).describe('GPUs. Default 0. Example: gpu: 2.'),
      hourly: price('instances[].hourly', 'hour', '1.2').describe('$ per hour. Required. Example: hourly: 1.2.'),
    })).default([]).describe('Instance types of your own (or your negotiated prices), added to the catalog; a name in the catalog replaces it. Default []. Example: instances: [{name: onprem, vcpu: 32, memory: 128Gi, hourly: 0.9}].'),
    currency: z.string().regex(/^[A-Z]{3}$/, { error: 'currency is a three-letter code in capitals, such as USD or EUR' }).default('USD').describe('What the prices are in (prices, instances and budgets); reports say it. The built-in catalog is in USD, so another currency needs its instance types under instances. Default USD. Example: currency: EUR.'),
    every: duration({ positive: true }).prefault('10s').describe('How often the meters sample the replicas (allocation, CPU and memory used). Default 10s. Example: every: 30s.'),
    budgets: z.array(z.strictObject({
      name: z.string().regex(/^[a-z][a-z0-9-]{0,62}$/, { error: 'a budget name is lower-case letters, digits and -' }).describe('The budget\'s name in alerts and reports. Required. Example: name: risk-team.'),
      deployment: z.string().min(1).optional().describe('The deployment it covers. Give deployment or label; neither covers every deployment. No default. Example: deployment: credit-risk.'),
      label: z.string().regex(/^[^=]+=[^=]*$/, { error: 'label is key=value, e.g. team=risk' }).optional().describe('The deployments whose model has this label (key=value). No default. Example: label: team=risk.'),
      amount: z.number({ error: 'budgets[].amount is the most to spend in a period, in cost.currency, e.g. 500' }).gt(0, { error: 'budgets[].amount must be above 0: the most to spend in a period, in cost.currency, e.g. 500' }).describe('The most to spend in a period, in cost.currency. Required. Example: amount: 500.'),
      period: z.enum(['month'], { error: (iss) => (iss.input === undefined ? 'a budget needs its period: period: month (budgets run per calendar month, UTC)' : `unknown budget period ${JSON.stringify(iss.input)}; budgets are per month: period: month`) }).describe("The budget's period: 'month' (calendar month, UTC). Required. Example: period: month."),
      alertAt: z.array(z.number().gt(0).max(1000)).min(1).default([50, 80, 100]).describe('Percentages of the amount spent month to date that raise a BudgetSpent alert, each once per month. Default [50, 80, 100]. Example: alertAt: [90, 100].'),
      capReplicas: z.boolean().default(false).describe("Once the amount is spent, hold every autoscaled deployment it covers at replicas.min (at least 1) until the month ends. Default false. Example: capReplicas: true."),
    }).superRefine((b, ctx) => {
      if (b.deployment !== undefined && b.label !== undefined) ctx.addIssue({ code: 'custom', path: ['label'], message: 'a budget covers a deployment or a label, not both' });
    })).default([]).describe('Monthly budgets per deployment, per model label, or for everything: month-to-date spend, an end-of-month forecast, BudgetSpent alerts at alertAt and a BudgetForecast alert while the forecast is over the amount. Spend is checked against the budgets at most once a minute (as often as a quarter of idle.for when that is shorter), so an alert or a cap comes up to a minute after the threshold is crossed. Default []. Example: budgets: [{name: risk, label: team=risk, amount: 500, period: month}].'),
    idle: z.strictObject({
      below: z.number().min(0).max(1).default(0.05).describe('A deployment is idle while the CPU its replicas use stays under this share of what they reserve. Default 0.05. Example: below: 0.1.'),
      for: duration({ positive: true }).prefault('1h').describe('…for this long: the last idle.for exactly (to within one cost.every sample), from the samples this process took; just after a restart, from the metered hours the window starts in, so it reaches up to an hour further back until the process has sampled for idle.for. Default 1h. Example: for: 6h.'),
    }).prefault({}).describe('Idle detection: findings (with what the idle capacity costs per month and what to do) and an IdleDeployment alert. Every field is optional.'),
  })
  .superRefine((c, ctx) => {
    const seen = new Set<string>();
    c.budgets.forEach((b, i) => {
      if (seen.has(b.name)) ctx.addIssue({ code: 'custom', path: ['budgets', i, 'name'], message: `two budgets are named '${b.name}'; a budget's name is its identity in alerts and reports, so each needs its own` });
      seen.add(b.name);
    });
    const names = new Set(c.instances.map((i) => i.name));
    if (c.instance !== undefined && !names.has(c.instance) && !CATALOG_NAMES.includes(c.instance)) {
      const best = suggestName(c.instance, [...CATALOG_NAMES, ...names]);
      ctx.addIssue({ code: 'custom', path: ['instance'], message: `unknown instance type '${c.instance}'${best ? `; did you mean '${best}'?` : '.'} Known: ${[...CATALOG_NAMES, ...names].join(', ')}, or add it under cost.instances` });
    } else if (c.instance !== undefined && !names.has(c.instance) && c.currency !== 'USD') {
      ctx.addIssue({ code: 'custom', path: ['instance'], message: `the catalog's price for '${c.instance}' is in USD, and cost.currency is ${c.currency}: give it under cost.instances with its price in ${c.currency} ({name: ${c.instance}, vcpu, memory, hourly}), or use currency: USD` });
    }
  })
  .prefault({})
  .describe('What serving costs: prices, the meters\' sampling and idle detection. `aloft cost` reports spend, cost per 1,000 predictions and efficiency; `aloft plan` shows each change\'s monthly cost. Every field is optional.');

const CATALOG_NAMES = CATALOG.map((t) => t.name);
const suggestName = (name: string, names: readonly string[]) => suggestInstance(name, names.map((n) => ({ name: n, provider: 'custom' as const, region: '', vcpu: 1, memoryGiB: 1, gpu: 0, hourly: 0, source: '' })));

export const admissionSchema = z
  .strictObject({
    limit: z.union([z.literal('adaptive'), z.literal('off'), z.number().int().min(1)], { error: "limit is 'adaptive', 'off', or a whole number of requests queued or running, e.g. 256" }).default('off').describe(
      "How many of the deployment's requests may be queued or running at once before more are refused at once with 503 and Retry-After: 'adaptive' (an AIMD limit on the measured queueing latency: it shrinks by 10% while requests wait more than two batches for a replica, and grows while they do not, between minLimit and maxLimit), a fixed number, or 'off' (batching.maxQueueSize bounds the queue, and refuseLate refuses what would miss its deadline). Default 'off': on a machine where callers, gateway and replicas share the cores, clients that retry at once turn refusals into a storm that costs more than queueing (BENCHMARKS.md, overload). Example: limit: adaptive.",
    ),
    minLimit: z.number().int().min(1).optional().meta({ 'x-default': 'max(16, batching.maxBatchSize)' }).describe('The adaptive limit never goes below this. Default: max(16, batching.maxBatchSize). Example: minLimit: 32.'),
    maxLimit: z.number().int().min(1).optional().meta({ 'x-default': 'batching.maxQueueSize' }).describe('The adaptive limit never goes above this. Default: batching.maxQueueSize. Example: maxLimit: 4096.'),
    refuseLate: z.boolean().default(true).describe("Refuse at once (503) a request the queue would keep past its deadline, predicted from the queue's recent waits, instead of letting it wait and time out. Default true. Example: refuseLate: false."),
  })
  .superRefine((a, ctx) => {
    if (a.minLimit !== undefined && a.maxLimit !== undefined && a.minLimit > a.maxLimit) ctx.addIssue({ code: 'custom', path: ['minLimit'], message: `minLimit (${a.minLimit}) is greater than maxLimit (${a.maxLimit})` });
  })
  .prefault({})
  .describe("Admission control under overload: requests beyond the limit, or sure to miss their deadline, get 503 with Retry-After at once, so the ones admitted stay fast; requests with the header x-aloft-priority: low are shed first (admitted only under 3/4 of the limit). Every field is optional.");

export const autoscalingSchema = z
  .strictObject({
    metric: z.enum(['concurrency', 'rows']).default('concurrency').describe("What a replica's share is measured in: 'concurrency' (requests queued or being run, sampled every second) or 'rows' (rows predicted per second). Default 'concurrency'. Example: metric: rows."),
    target: z.number({ error: 'target is a number of concurrent requests (or rows per second) per replica, e.g. 8' }).gt(0, { error: 'target must be above 0: the concurrent requests (or rows per second) one replica should carry, e.g. 8' }).default(8).describe('What one replica should carry: concurrent requests (metric concurrency) or rows per second (metric rows). Default 8. Example: target: 16.'),
    scaleToZeroAfter: duration({ positive: true }).prefault('30s').describe('With replicas.min 0: stop the last replica after this long without a request. The next request waits (within its deadline) while one starts. Default 30s. Example: scaleToZeroAfter: 5m.'),
    stableWindow: duration({ positive: true }).prefault('60s').describe("The window the replica count follows (Knative's stable window). Default 60s. Example: stableWindow: 2m."),
    panicWindow: duration({ positive: true }).prefault('6s').describe('The short window that reacts to a burst: when its demand is panicThreshold times what the ready replicas carry, the count follows it and does not go down until a stable window passes calmly. Default 6s. Example: panicWindow: 10s.'),
    panicThreshold: z.number().gt(1).max(100).default(2).describe('Panic when the panic window wants this many times the ready replicas. Default 2. Example: panicThreshold: 3.'),
    maxScaleUpRate: z.number().gt(1).max(10_000).default(1000).describe('At most this many times the ready replicas in one decision. Default 1000. Example: maxScaleUpRate: 2.'),
    maxScaleDownRate: z.number().gt(1).max(10_000).default(2).describe('At least the ready replicas divided by this, rounded down, after one decision (2: down to half of them). Default 2. Example: maxScaleDownRate: 4.'),
    scaleDownDelay: duration().prefault('30s').describe('A lower count is applied only once it has been wanted for this long, so a noisy steady load does not flap. Default 30s. Example: scaleDownDelay: 5m.'),
  })
  .superRefine((a, ctx) => {
    if (a.panicWindow >= a.stableWindow) ctx.addIssue({ code: 'custom', path: ['panicWindow'], message: `panicWindow (${a.panicWindow} ms) must be shorter than stableWindow (${a.stableWindow} ms)` });
  })
  .describe('How the autoscaler sizes a deployment with a replica range { min, max } (Knative\'s pod autoscaler: stable and panic windows on concurrency). Every field is optional.');

export const deploymentSchema = z
  .strictObject({
    model: modelRef.optional().meta({ 'x-default': 'the deployment name' }).describe(
      "The model to serve: 'name' (latest registered version), 'name@3' (version 3), 'name@production' (an alias) or 'name@latest'. A bare name must be declared under models; a pinned one (with '@') may refer to a model registered earlier. For a model declared under models, 'name' and 'name@latest' mean the version of its file (registered when the file changes), not a version pushed since with aloft models push: pin 'name@N' or an alias to serve one of those. Default: the deployment's own name. Example: model: credit-risk@production.",
    ),
    replicas: replicasSchema.prefault(1).describe(
      'How many replica processes serve the model: a fixed count (0 stops serving but keeps the deployment: its requests are answered 503 at once, and it does not hold the server readiness) or an autoscaled range { min, max }. Default 1. Example: replicas: { min: 1, max: 4 }.',
    ),
    autoscaling: autoscalingSchema.optional().meta({ 'x-default': 'the defaults below, for a range' }),
    batching: batchingSchema,
    admission: admissionSchema,
    runtime: runtimeSchema,
    resources: resourcesSchema.prefault({}),
    timeout: duration({ positive: true }).optional().meta({ 'x-default': 'server.requestTimeout' }).describe(
      "Per-request deadline for this deployment, from arrival to response, including queueing; past it the request gets 504 (or 503 when no replica was ready in time, e.g. while one starts after scaling from zero). Default: server.requestTimeout. Example: timeout: 250ms.",
    ),
    description: z.string().optional().describe('Free text shown in listings and the dashboard. No default. Example: description: Scores loan applications.'),
    public: z.boolean().default(false).describe(
      'Let anyone call this deployment\'s inference and metadata endpoints without a credential (other endpoints still need one). Default false. Example: public: true.',
    ),
    limits: rateLimitSchema.optional().describe(
      'Rate limit for the deployment as a whole, across all callers. No default (unlimited). Example: limits: { rate: 500, burst: 1000 }.',
    ),
    rollout: rolloutSchema,
    features: z.array(featureSchema).min(1).optional().describe(
      "Names of the columns of the model's (first) input, in order, so that capture, redaction and drift speak of `income` rather than `input[7]`: a name, or { name, kind, values }. No default (columns are input[0], input[1], …). Example: features: [age, income, debt, region].",
    ),
    capture: captureSchema.optional(),
    drift: z
      .strictObject({
        reference: z.string().min(1).optional().describe('Training rows to compare with: a CSV file with a header row of the feature names, or JSONL (one object per row), relative to the spec. No default (the first referenceSize captured predictions). Example: reference: ./reference.csv.'),
        referenceSize: z.number().int().min(10).max(1_000_000).default(1000).describe('Without a reference file: how many of the first captured predictions make the reference (the oldest kept: once capture.retention deletes them, the next oldest take their place; a reference file does not move). Default 1000. Example: referenceSize: 5000.'),
        window: duration({ positive: true }).prefault('1h').describe('The recent window compared with the reference. Default 1h. Example: window: 24h.'),
        every: duration({ positive: true }).prefault('10m').describe('How often the comparison runs on its own (aloft monitor also runs it on demand). Default 10m. Example: every: 1h.'),
        share: z.number().gt(0).max(1).default(0.5).describe('The dataset has drifted when at least this share of its features has. Default 0.5. Example: share: 0.3.'),
        minRows: z.number().int().min(1).default(100).describe('Windows with fewer captured rows are not judged. Default 100. Example: minRows: 500.'),
      })
      .optional()
      .describe("Data drift: each feature of the recent window of captured predictions is compared with a reference, by the test Evidently picks for its size and kind (Kolmogorov–Smirnov, chi-square or a Z-test up to 1000 reference rows; normed Wasserstein or Jensen–Shannon distance above). Prediction drift too: each output (a score or value per row, or the predicted class of 2 to 64 class scores) against the first referenceSize captured predictions, reported beside the features and alerted on as PredictionDrift, not counted in share. Needs features and capture. No default (no drift checks)."),
    slos: z.array(sloSchema).default([]).describe(
      "Service-level objectives, each with an error budget computed continuously and burn-rate alerts by the SRE workbook's multi-window rules (a page when 2% of the budget goes in an hour or 5% in six, a ticket when 10% goes in a day or in three; each checked over a long and a short window). Default [] (none). Example: slos: [{kind: availability, objective: 99.9}, {kind: latency, objective: 99, threshold: 100ms}].",
    ),
  })
  .superRefine((d, ctx) => {
    if (d.autoscaling && d.replicas.min === d.replicas.max) ctx.addIssue({ code: 'custom', path: ['autoscaling'], message: `autoscaling needs a replica range to move in, and replicas is a fixed ${d.replicas.min}; write replicas: { min: ${Math.max(0, d.replicas.min - 1)}, max: ${Math.max(1, d.replicas.min)} } or drop autoscaling` });
    const slos = new Map<string, number>();
    d.slos.forEach((slo, i) => {
      const name = slo.name ?? slo.kind;
      if (slos.has(name)) ctx.addIssue({ code: 'custom', path: ['slos', i, 'name'], message: `two SLOs are named '${name}' (#${slos.get(name)! + 1} and #${i + 1}); give one a name: ${name}-2` });
      slos.set(name, i);
      if (slo.kind === 'accuracy' && !d.capture) ctx.addIssue({ code: 'custom', path: ['slos', i], message: 'an accuracy SLO joins feedback labels to captured predictions: add a capture section to this deployment' });
    });
    if (d.drift && !d.capture) ctx.addIssue({ code: 'custom', path: ['drift'], message: 'drift compares captured predictions with a reference: add a capture section to this deployment' });
    if (d.drift && !d.features) ctx.addIssue({ code: 'custom', path: ['drift'], message: "drift compares features by name: name the input's columns with features: [...]" });
  })
  // Run even when other fields of the deployment are wrong, so that a misspelt redact name is
  // reported with them, not after they are fixed. The value may be half-parsed: read it warily.
  .superRefine((d, ctx) => {
    const capture = (d as { capture?: unknown }).capture as { redact?: unknown; hash?: unknown } | undefined;
    const features = (d as { features?: unknown }).features;
    // Two columns with one name: capture would keep one of them (the other's values lost), drift would test one.
    if (Array.isArray(features)) {
      const seen = new Map<string, number>();
      features.forEach((f: unknown, i) => {
        const name = typeof f === 'string' ? f : (f as { name?: unknown } | null)?.name;
        if (typeof name !== 'string') return;
        if (seen.has(name)) ctx.addIssue({ code: 'custom', path: ['features', i], message: `'${name}' names two columns (${seen.get(name)! + 1} and ${i + 1}); each column needs its own name, or captured records keep only one of their values` });
        else seen.set(name, i);
      });
    }
    if (!capture || typeof capture !== 'object' || (features !== undefined && !Array.isArray(features))) return;
    const names = new Set<string>();
    for (const f of (features ?? []) as unknown[]) {
      const name = typeof f === 'string' ? f : (f as { name?: unknown } | null)?.name;
      if (typeof name !== 'string') return; // a broken features list has its own issue
      names.add(name);
    }
    for (const field of ['redact', 'hash'] as const) {
      const list = capture[field];
      if (!Array.isArray(list)) continue;
      list.forEach((f: unknown, i) => {
        if (typeof f !== 'string' || names.has(f)) return;
        const hint = didYouMean(f, names);
        ctx.addIssue({ code: 'custom', path: ['capture', field, i], message: `'${f}' is not a feature of this deployment; ${names.size > 0 ? `${hint ? `${hint} ` : ''}its features are ${[...names].join(', ')}` : 'name the input\'s columns with features: [...] first'}` });
      });
    }
  }, { when: () => true })
  .describe('A deployment: a served endpoint (/v2/models/<name>) backed by one model version.');

export const deploymentsSchema = z
  .record(nameKey, deploymentSchema)
  .default({})
  .describe('Deployments to serve, by name; the name is the endpoint /v2/models/<name>. Same naming rules as models. Default none. Example: deployments: { credit-risk: { model: credit-risk, replicas: 2 } }.');

export const alertsSchema = z
  .strictObject({
    webhooks: z.array(z.strictObject({
      url: z.string().regex(/^https?:\/\/\S+$/, { error: 'a webhook url is an http:// or https:// URL' }).describe('Where notifications are POSTed as JSON: one body that Slack incoming webhooks (text) and Alertmanager webhook receivers (version 4: status, alerts, groupKey, …) both accept. Required. Example: url: ${env:SLACK_WEBHOOK}.'),
      timeout: duration({ positive: true }).prefault('5s').describe('How long one delivery may take. Default 5s. Example: timeout: 2s.'),
      headers: z.record(z.string().regex(/^[A-Za-z0-9-]{1,64}$/), z.string()).default({}).describe('Extra request headers, e.g. an authorization token. Default {}. Example: headers: { authorization: Bearer ${env:HOOK_TOKEN} }.'),
    })).default([]).describe('Webhook receivers of every notification. A failed delivery (not 2xx, a timeout, a refused connection) is retried with exponential backoff (1 s doubling to 5 min, up to retries times), and shown by aloft alerts. Default []. Example: webhooks: [{url: https://hooks.slack.com/services/T/B/X}].'),
    log: z.boolean().default(true).describe('Write every notification to the log (warn when firing, info when resolved). Default true. Example: log: false.'),
    every: duration({ positive: true }).prefault('15s').describe('How often alert rules are evaluated. Default 15s. Example: every: 1m.'),
    for: duration().prefault('0s').describe('How long a condition must hold before its alert fires (pending until then); a condition that clears while pending never fires. SLO burn rules already need a long and a short window to agree, so the default is 0s. Default 0s. Example: for: 2m.'),
    repeat: duration({ positive: true }).prefault('4h').describe('A firing group is notified again after this long without change. Default 4h. Example: repeat: 1h.'),
    retries: z.number().int().min(0).max(100).default(10).describe('Delivery attempts after the first, per notification and webhook. Default 10. Example: retries: 3.'),
    crashLoop: z.number().int().min(2).max(1000).default(3).describe('A replica restarted this many times within 10 minutes is crash-looping (ReplicaCrashLoop fires). Default 3. Example: crashLoop: 5.'),
  })
  .prefault({})
  .describe('Alerts: drift, SLO burn (availability, latency, accuracy), replica crash loops and capture drops share one model, pending → firing → resolved, deduplicated by their labels and grouped by deployment, with one set of sinks. Every field is optional.');

/** Top-level sections. Each key owns one section; unknown keys are rejected. */
export const sections = {
  version: z.literal(1, { error: 'version must be 1, the only spec version so far' }).default(1).describe(
    'Spec format version, for reading older files when the format changes. Only 1 exists so far. Default 1. Example: version: 1.',
  ),
  server: serverSchema,
  state: stateSchema,
  models: modelsSchema,
  deployments: deploymentsSchema,
  limits: limitsSchema,
  security: securitySchema,
  alerts: alertsSchema,
  cost: costSchema,
};

export const specSchema = z
  .strictObject(sections)
  .describe('Aloft spec (aloft.yaml): the models to register and the deployments that serve them.');

/** The spec as written (before defaults and unit conversion), for building specs in code. */
export type SpecInput = z.input<typeof specSchema>;
/** The schema's output: units converted and defaults applied, before normalize.ts. */
export type SpecParsed = z.output<typeof specSchema>;
