import { PowerOfTwoChoices } from './p2c.js';
import { RoundRobin } from './round-robin.js';
import type { Balancer, Random } from './types.js';

export type { Balancer, Candidate, Random } from './types.js';
export { PowerOfTwoChoices } from './p2c.js';
export { RoundRobin } from './round-robin.js';

export const BALANCERS = {
  p2c: (random?: Random): Balancer => new PowerOfTwoChoices(random),
  'round-robin': (): Balancer => new RoundRobin(),
} as const;

export type BalancerName = keyof typeof BALANCERS;
