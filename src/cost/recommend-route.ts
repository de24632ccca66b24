/**
 * POST /api/v1/recommend {"deployment", "rps", "p99"}: the capacity planner (recommend.ts),
 * answered as NDJSON so a client can show progress: one `{"progress": …}` line per
 * candidate as it is measured, then `{"result": …}` (or `{"error": …}`).
 */
import { Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { routeOf } from '../api/routes.js';
import { fail } from '../errors.js';
import { formatDuration } from '../spec/units.js';
import type { Measured, Recommendation } from './recommend.js';

export interface RecommendRequest { deployment?: unknown; rps?: unknown; p99?: unknown; duration?: unknown }

export function registerRecommendRoute(app: FastifyInstance, ctx: {
  exists(deployment: string): boolean;
  run(deployment: string, rps: number, p99Ms: number, durationMs: number, onProgress: (m: Measured, done: number, of: number) => void): Promise<Recommendation>;
}): void {
  app.route({ ...routeOf('admin.recommend'), handler: async (req, reply) => {
    const raw = Buffer.isBuffer(req.body) ? req.body.toString('utf8') : typeof req.body === 'string' ? req.body : '';
    let b: RecommendRequest;
    try {
      b = (raw.trim() === '' ? {} : JSON.parse(raw)) as RecommendRequest;
    } catch {
      throw fail('ALOFT_BAD_REQUEST', 'the body is not JSON; send {"deployment": "<name>", "rps": 100, "p99": 50}');
    }
    if (b === null || typeof b !== 'object' || Array.isArray(b)) throw fail('ALOFT_BAD_REQUEST', 'send a JSON object: {"deployment": "<name>", "rps": 100, "p99": 50}');
    if (typeof b.deployment !== 'string' || b.deployment.length === 0) throw fail('ALOFT_BAD_REQUEST', 'send {"deployment": "<name>", "rps": <target requests per second>, "p99": <target p99 in ms>}');
    if (!ctx.exists(b.deployment)) throw fail('ALOFT_MODEL_NOT_FOUND', `deployment '${b.deployment.slice(0, 80)}' is not served here; aloft status lists the deployments`);
    const rps = b.rps === undefined ? 100 : Number(b.rps);
    const p99 = b.p99 === undefined ? 100 : Number(b.p99);
    const duration = b.duration === undefined ? 1500 : Number(b.duration);
    if (!(rps > 0 && rps <= 1e7)) throw fail('ALOFT_BAD_REQUEST', `rps is the target rate, a number of requests per second above 0, got ${JSON.stringify(b.rps)}`);
    if (!(p99 > 0 && p99 <= 600_000)) throw fail('ALOFT_BAD_REQUEST', `p99 is the target latency in ms, above 0, got ${JSON.stringify(b.p99)}`);
    if (!(duration >= 100 && duration <= 30_000)) throw fail('ALOFT_BAD_REQUEST', `duration is the time each candidate is measured, from 100 ms to 30 s (30000 ms), got ${typeof b.duration === 'number' && Number.isFinite(b.duration) && b.duration > 0 ? `${b.duration} ms (${formatDuration(b.duration)})` : JSON.stringify(b.duration)}`);
    const lines = new Readable({ read() { /* pushed below */ } });
    void ctx.run(b.deployment, rps, p99, duration, (m, done, of) => { lines.push(`${JSON.stringify({ progress: { done, of, ...m } })}\n`); })
      .then((result) => { lines.push(`${JSON.stringify({ result })}\n`); lines.push(null); })
      .catch((err: unknown) => { lines.push(`${JSON.stringify({ error: (err as Error).message })}\n`); lines.push(null); });
    return reply.header('content-type', 'application/x-ndjson').send(lines);
  } });
}
