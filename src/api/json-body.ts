/**
 * The JSON object body of an admin API request (the admin app hands bodies over as bytes),
 * or ALOFT_BAD_REQUEST with an example of what to send. An empty body is an empty object.
 */
import type { FastifyRequest } from 'fastify';
import { fail } from '../errors.js';

export function jsonBody<T>(req: FastifyRequest, example: string): T {
  const raw = (req.body as Buffer | undefined)?.toString('utf8') ?? '';
  if (raw.trim() === '') return {} as T;
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw fail('ALOFT_BAD_REQUEST', `the body is not JSON; send ${example}`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw fail('ALOFT_BAD_REQUEST', `the body must be a JSON object: ${example}`);
  return parsed as T;
}
