import { setTimeout as delay } from 'node:timers/promises';

/**
 * Waiting is a port, like the clock: the remote adapters poll and wait out busy engines, and tests hand
 * them a sleep that moves a manual clock instead of the wall clock.
 */
export type Sleep = (ms: number, signal: AbortSignal) => Promise<void>;

/** Waits `ms` on a timer; rejects with the signal's reason when it aborts first. */
export const timerSleep: Sleep = async (ms, signal) => {
  await delay(ms, undefined, { signal });
};
