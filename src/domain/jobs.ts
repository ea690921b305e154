/** seed 1.2 / 3.5 / 4.5 status values. */
export const JobStatus = { QUEUED: 1, RUNNING: 2, DONE: 3, FAILED: 4 } as const;
export type JobStatusValue = (typeof JobStatus)[keyof typeof JobStatus];

/** Public job types: a work (seed 1) or a speech synthesis (seed 3.4 LITE, 4.4 PRO). */
export type JobType = 'WORK' | 'LITE' | 'PRO';

/** How a work is made (docs/decisions.md "Modes"); 'speech' for the voice synthesis endpoints. */
export type JobMode = 'audio' | 'text' | 'audio_only' | 'speech';

/** Queue kinds: each has one handler in src/jobs/handlers. */
export const QueueKind = {
  WORK: 'work',
  SYNTH: 'synth',
  TRAIN: 'train',
  CALLBACK: 'callback',
  RETENTION: 'retention',
} as const;

/** Backoff for retryable job failures: 5 s, 20 s, 80 s ... capped at 10 min, with no jitter (tests). */
export function jobRetryDelayMs(attempt: number): number {
  return Math.min(600_000, 5000 * 4 ** Math.max(0, attempt - 1));
}
