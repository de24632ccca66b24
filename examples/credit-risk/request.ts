/**
 * Print an Open Inference Protocol request for generated applicants:
 *
 *   npx tsx examples/credit-risk/request.ts --rows 3 --seed 7 --shift 0 > request.json
 *   curl -s localhost:8080/v2/models/credit-risk/infer -d @request.json
 */
import { parseArgs } from 'node:util';
import { generateApplicants } from './data.js';
import { inferRequest } from './infer-request.js';

function usage(message: string): never {
  console.error(`${message}\nusage: npx tsx examples/credit-risk/request.ts [--rows N] [--seed N] [--shift X] [--concept X]`);
  process.exit(2);
}

function num(name: string, v: string, check: (n: number) => boolean): number {
  const n = Number(v);
  if (v.trim() === '' || !check(n)) usage(`--${name}: invalid value '${v}'`);
  return n;
}

const { values } = parseArgs({
  options: {
    rows: { type: 'string', default: '1' },
    seed: { type: 'string', default: '7' },
    shift: { type: 'string', default: '0' },
    concept: { type: 'string', default: '0' },
  },
});
const rows = generateApplicants(num('rows', values.rows, (n) => Number.isInteger(n) && n > 0), {
  seed: num('seed', values.seed, Number.isInteger),
  shift: num('shift', values.shift, (n) => Number.isFinite(n) && n >= 0),
  concept: num('concept', values.concept, (n) => Number.isFinite(n) && n >= 0),
});
console.log(JSON.stringify(inferRequest(rows)));
