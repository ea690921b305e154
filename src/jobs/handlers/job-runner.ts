import { admitSpeechLength } from '../../domain/admission.ts';
import { MAX_SPEECH_SECONDS, pointsForSeconds } from '../../domain/billing.ts';
import { AppError, ErrorCode } from '../../domain/errors.ts';
import { JobStatus } from '../../domain/jobs.ts';
import { jobPayloadSchema, parseStored } from '../../domain/payloads.ts';
import type { Account } from '../../repositories/accounts.repository.ts';
import type { Job, JobResult } from '../../repositories/jobs.repository.ts';
import type { QueueItem } from '../../repositories/queue.repository.ts';
import { jobCallback } from '../../services/views.ts';
import type { HandlerContext, Logger } from '../worker.ts';
import { withWorkspace } from '../workspace.ts';
import type { HandlerDeps } from './deps.ts';

/** What a public job's pipeline sees: its row, its owner, a temp dir, progress and stage timing. */
export interface JobRun {
  job: Job;
  account: Account;
  dir: string;
  signal: AbortSignal;
  log: Logger;
  /** Overall progress, 0-100 (monotonic; persisted). */
  progress(p: number): void;
  /** Times a named stage into dhs_stage_duration_seconds. */
  stage<T>(name: string, fn: () => Promise<T>): Promise<T>;
}

/**
 * The frame every public job handler (works, speech) shares: idempotent start (a finished job is left
 * alone), status 1 -> 2, a workspace removed afterwards, completion with settlement and callback in one
 * transaction, and failure with refund when the worker gives up.
 */
export async function runPublicJob(
  deps: HandlerDeps,
  ctx: HandlerContext,
  pipeline: (run: JobRun) => Promise<JobResult>,
): Promise<void> {
  const { jobId } = parseStored(jobPayloadSchema, ctx.item.payload, 'job payload');
  const current = await deps.jobs.get(jobId);
  if (current === null || current.status >= JobStatus.DONE) return; // already settled: nothing to do twice
  const job = (await deps.jobs.markRunning(jobId)) ?? current;
  const account = await deps.accounts.findById(job.account_id);
  if (account === null) throw new AppError(ErrorCode.ACCOUNT_NOT_FOUND);
  let lastWritten = job.progress;
  const result = await withWorkspace(deps.workspaces, ctx.item.id, (dir) =>
    pipeline({
      job,
      account,
      dir,
      signal: ctx.signal,
      log: ctx.log,
      progress(p) {
        const v = Math.floor(p);
        if (v <= lastWritten) return;
        lastWritten = v;
        deps.jobs
          .setProgress(jobId, v)
          .catch((err: unknown) => ctx.log.warn({ err }, 'progress update failed'));
      },
      async stage(name, fn) {
        const end = deps.metrics.startStage(name);
        try {
          return await fn();
        } finally {
          end();
        }
      },
    }),
  );
  await deps.jobs.complete(jobId, result, jobCallback(account));
}

/**
 * Speech was made: its real length must be within the one-request limit (20004) and paid for before
 * the result is kept. The reservation grows to the real length, or the job ends with 20005 and every
 * point comes back: an estimate that fell short (symbols read aloud, a slow voice) never runs free.
 */
export async function reserveForSpeech(deps: HandlerDeps, run: JobRun, seconds: number): Promise<void> {
  const tooLong = admitSpeechLength(seconds, MAX_SPEECH_SECONDS);
  if (tooLong !== null) throw tooLong;
  await deps.jobs.reserveUpTo(run.job.id, pointsForSeconds(seconds));
}

/** Worker gave up: the job ends in status 4 with the code's meaning, every reserved point returned. */
export async function failPublicJob(
  deps: HandlerDeps,
  item: QueueItem,
  err: AppError,
  log: Logger,
): Promise<void> {
  // the queue item's ref is the job id: a job whose payload cannot be read still ends and refunds
  const jobId = item.ref_id;
  const job = await deps.jobs.get(jobId);
  if (job === null) return;
  const account = await deps.accounts.findById(job.account_id);
  if (account === null) return;
  log.info({ jobId, code: err.code, reason: err.detail.en }, 'job failed');
  await deps.jobs.fail(jobId, err.code, err.detail, jobCallback(account));
}
