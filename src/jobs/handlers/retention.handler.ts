import { QueueKind } from '../../domain/jobs.ts';
import type { Kysely } from 'kysely';
import type { DB } from '../../repositories/db/schema.ts';
import type { QueueRepository } from '../../repositories/queue.repository.ts';
import type { JobHandler, Logger } from '../worker.ts';
import type { HandlerDeps } from './deps.ts';

export const RETENTION_INTERVAL_MS = 60 * 60 * 1000;
const DAY_MS = 24 * 60 * 60 * 1000;
/** Rows deleted per statement: each DELETE holds its locks (SQLite: the whole write lock) briefly. */
const DELETE_BATCH = 500;

/**
 * Schedules the next retention sweep. The dedupe key is the hour it runs in, so any number of
 * workers scheduling it at once still give one sweep an hour.
 */
export async function scheduleRetention(
  queue: QueueRepository,
  db: Kysely<DB>,
  now: number,
  delayMs: number,
): Promise<void> {
  const runAt = now + delayMs;
  await queue.enqueue(db, {
    kind: QueueKind.RETENTION,
    refId: 'retention',
    payload: {},
    maxAttempts: 3,
    runAt,
    dedupeKey: `retention:${Math.floor(runAt / RETENTION_INTERVAL_MS)}`,
  });
}

/**
 * The hourly housekeeping sweep: deletes results older than DHS_RESULT_TTL_DAYS (the whole result
 * folder: video and speech), what failed jobs and trainings left behind (at any age), uploads past
 * their DHS_UPLOAD_TTL_DAYS, unused avatars,
 * finished queue items and callback delivery records older than DHS_QUEUE_RETENTION_DAYS, and forgets
 * expired tokens and replay records.
 */
export function retentionHandler(
  deps: HandlerDeps,
  o: {
    ttlDays: number;
    /** Prepared avatars unused this long are deleted (0: kept). */
    avatarTtlDays: number;
    /** Finished queue items and callback delivery records older than this are deleted (0: kept). */
    queueRetentionDays: number;
    queue: Pick<QueueRepository, 'deleteFinished'>;
    pruneTokens: () => Promise<number>;
    schedule: (delayMs: number) => Promise<void>;
  },
): JobHandler {
  const { ttlDays, schedule } = o;
  return {
    kind: QueueKind.RETENTION,
    async run({ log, signal }) {
      const pruned = await o.pruneTokens();
      if (pruned > 0) log.debug({ pruned }, 'forgot expired tokens and signatures');
      if (ttlDays > 0) {
        const cutoff = deps.clock.now() - ttlDays * DAY_MS;
        let removed = 0;
        for (;;) {
          const batch = await deps.jobs.expiredResults(cutoff, 200);
          for (const job of batch) {
            if (signal.aborted) throw new Error('aborted');
            const folder = job.result_key.slice(0, job.result_key.lastIndexOf('/'));
            await deps.blobs.deletePrefix(folder);
            await deps.jobs.clearResult(job.id);
            removed++;
          }
          if (batch.length < 200) break;
        }
        if (removed > 0) log.info({ removed, ttlDays }, 'deleted expired results');
      }
      await sweepFailedLeftovers(deps, log, signal);
      const uploads = await deps.uploads.sweep(signal);
      if (uploads > 0) log.info({ uploads }, 'deleted expired uploads');
      if (o.avatarTtlDays > 0) {
        const avatars = await deps.avatars.sweep(deps.clock.now() - o.avatarTtlDays * DAY_MS, signal);
        if (avatars > 0) log.info({ avatars, avatarTtlDays: o.avatarTtlDays }, 'deleted unused avatars');
      }
      if (o.queueRetentionDays > 0) {
        const before = deps.clock.now() - o.queueRetentionDays * DAY_MS;
        const items = await deleteInBatches((limit) => o.queue.deleteFinished(before, limit), signal);
        const deliveries = await deleteInBatches(
          (limit) => deps.callbacks.deleteOlderThan(before, limit),
          signal,
        );
        if (items + deliveries > 0) {
          log.info(
            { items, deliveries, queueRetentionDays: o.queueRetentionDays },
            'deleted finished queue items and callback deliveries',
          );
        }
      }
      await schedule(RETENTION_INTERVAL_MS);
    },
    async giveUp(_item, err, log) {
      log.warn({ reason: err.detail.en }, 'retention sweep failed; next one in an hour');
      await schedule(RETENTION_INTERVAL_MS);
    },
  };
}

/**
 * What failed jobs and trainings left behind: a failed job's result folder (a text work's speech,
 * stored before lip-sync) and a failed training's recording. Their handlers delete them when they
 * fail; this catches what that missed (a crash in between, a delete that errored, failures from before
 * this version). Whatever DHS_RESULT_TTL_DAYS says, even 0: none of it was ever handed out (a failed
 * job has no videoUrl and gets newAudioUrl only on success), and later trainings learn only from
 * successful trainings' recordings (VoicesRepository.trainingsWithAudio).
 */
async function sweepFailedLeftovers(deps: HandlerDeps, log: Logger, signal: AbortSignal): Promise<void> {
  let folders = 0;
  for (;;) {
    const batch = await deps.jobs.failedLeftovers(200);
    for (const job of batch) {
      if (signal.aborted) throw new Error('aborted');
      await deps.blobs.deletePrefix(job.result_key.slice(0, job.result_key.lastIndexOf('/')));
      await deps.jobs.clearResult(job.id);
      folders++;
    }
    if (batch.length < 200) break;
  }
  let recordings = 0;
  for (;;) {
    const batch = await deps.voices.failedTrainingAudio(200);
    for (const training of batch) {
      if (signal.aborted) throw new Error('aborted');
      await deps.blobs.delete(training.audio_key);
      await deps.voices.clearFailedTrainingAudio(training.id);
      recordings++;
    }
    if (batch.length < 200) break;
  }
  if (folders + recordings > 0) {
    log.info({ folders, recordings }, 'deleted what failed jobs and trainings left behind');
  }
}

/** Runs `deleteBatch` until a batch comes back short; the total deleted. */
async function deleteInBatches(
  deleteBatch: (limit: number) => Promise<number>,
  signal: AbortSignal,
): Promise<number> {
  let total = 0;
  for (;;) {
    if (signal.aborted) throw new Error('aborted');
    const n = await deleteBatch(DELETE_BATCH);
    total += n;
    if (n < DELETE_BATCH) return total;
  }
}
