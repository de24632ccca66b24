import { PowerOfTwoChoices } from './p2c.js';
import { RoundRobin } from './round-robin.js';
import { runBalancerSuite } from './balancer.case.js';

runBalancerSuite('p2c', (random) => new PowerOfTwoChoices(random), { loadAware: true });
runBalancerSuite('round-robin', () => new RoundRobin(), { loadAware: false });
