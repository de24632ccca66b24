/**
 * The system clock with its wall-clock time moved forward by `offset.ms` (`date()` only;
 * `now()` and timers stay real): e2e tests give it to startAloft and jump hours or days
 * between batches of traffic, so windows of drift, SLOs and alerts pass without sleeping.
 */
import { systemClock, type Clock } from '../../src/clock.js';

export function offsetClock(): { clock: Clock; offset: { ms: number } } {
  const offset = { ms: 0 };
  const clock: Clock = {
    now: () => systemClock.now(),
    date: () => new Date(Date.now() + offset.ms),
    setTimeout: (fn, ms) => systemClock.setTimeout(fn, ms),
  };
  return { clock, offset };
}
