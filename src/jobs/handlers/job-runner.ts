import { admitSpeechLength } from '../../domain/admission.ts';
import { MAX_SPEECH_SECONDS, pointsForSeconds } from '../../domain/billing.ts';
import {
  AppError,
  ErrorCode,
  isAppError,
  processingFailed,
  t,
  type LocalizedText,
} from '../../domain/errors.ts';
import { JobStatus } from '../../domain/jobs.ts';
import { jobPayloadSchema, parseStored, readJson, workParamsSchema } from '../../domain/payloads.ts';
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
        } catch (err) {
          throw unplannedAtStage(err, name, jobId, ctx);
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

/** The stages a customer may read about when one fails unexpectedly, in words. */
const STAGE_WORDS: Record<string, LocalizedText> = {
  intake: t('输入文件检查', 'input check'),
  avatar_lookup: t('数字人准备', 'digital human preparation'),
  voice_profile: t('音色提取', 'voice extraction'),
  speech: t('语音合成', 'speech synthesis'),
  store: t('结果保存', 'result storage'),
};

function stageWords(name: string): LocalizedText | undefined {
  return name.startsWith('lipsync_') ? t('口型同步', 'lip-sync') : STAGE_WORDS[name];
}

/**
 * A stage's failure as the customer reads it. AppErrors made on purpose pass unchanged, and so does
 * anything once the job is being stopped (the worker decides what that means). Anything else (ffmpeg's
 * stderr, a path, a bug) becomes a retryable 20902 that names the stage in words; the error itself is
 * its cause, which the worker logs in full with the job's id.
 */
function unplannedAtStage(err: unknown, stage: string, jobId: string, ctx: HandlerContext): unknown {
  if (isAppError(err) || ctx.signal.aborted) return err;
  return new AppError(ErrorCode.INTERNAL_STAGE, processingFailed(jobId, stageWords(stage)), {
    retryable: true,
    cause: err,
  });
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
  const folder = resultFolder(job.params);
  const ended = await deps.jobs.fail(
    jobId,
    err.code,
    err.detail,
    jobCallback(account),
    folder === null ? undefined : `${folder}/`,
  );
  if (folder !== null && ended.status === JobStatus.FAILED && ended.result_key === `${folder}/`) {
    // What a failed job stored (a text work's speech.mp3, kept before lip-sync) was never handed out:
    // a failed job shows no videoUrl, and newAudioUrl only once it succeeds (wire.ts). So it goes now;
    // result_key names the folder until then, and the hourly retention sweep deletes what this missed.
    await deps.blobs
      .deletePrefix(folder)
      .then(() => deps.jobs.clearResult(jobId))
      .catch((e: unknown) => log.warn({ err: e, jobId }, 'failed job: result folder not deleted yet'));
  }
}

/** `results/<outputKey>` of a work or speech job (both keep outputKey in their params); null without. */
function resultFolder(params: string): string | null {
  const p = workParamsSchema.pick({ outputKey: true }).safeParse(readJson(params));
  return p.success ? `results/${p.data.outputKey}` : null;
}
