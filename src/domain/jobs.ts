/** seed 1.2 / 3.5 / 4.5 status values. */
export const JobStatus = { QUEUED: 1, RUNNING: 2, DONE: 3, FAILED: 4 } as const;
export type JobStatusValue = (typeof JobStatus)[keyof typeof JobStatus];

/** Public job types: a work (seed 1) or a speech synthesis (seed 3.4 LITE, 4.4 PRO). */
export type JobType = 'WORK' | 'LITE' | 'PRO';

/** How a work is made (DECISIONS "Modes"); 'speech' for the voice synthesis endpoints. */
export type JobMode = 'audio' | 'text' | 'audio_only' | 'speech';

/** Queue kinds: each has one handler in src/jobs/handlers. */
export const QueueKind = {
  WORK: 'work',
  SYNTH: 'synth',
  TRAIN: 'train',
  CALLBACK: 'callback',
  RETENTION: 'retention',
} as const;
export type QueueKindValue = (typeof QueueKind)[keyof typeof QueueKind];

/** A callback to deliver: the seed's body for the resource's final state. */
export interface CallbackRequest {
  url: string;
  body: Record<string, unknown>;
}

/** Backoff for retryable job failures: 5 s, 20 s, 80 s ... capped at 10 min, with no jitter (tests). */
export function jobRetryDelayMs(attempt: number): number {
  return Math.min(600_000, 5000 * 4 ** Math.max(0, attempt - 1));
}

/**
 * Callback delivery schedule (Standard Webhooks practice): retried after 5 s, 30 s, 2 min, 10 min,
 * 30 min, 1 h, 3 h, 6 h, 12 h — about 22 h in all, then given up and recorded.
 */
export const CALLBACK_RETRY_DELAYS_MS = [
  5_000, 30_000, 120_000, 600_000, 1_800_000, 3_600_000, 10_800_000, 21_600_000, 43_200_000,
] as const;
