import type { Kysely, Selectable, Updateable } from 'kysely';
import { settleFailure, settleSuccess } from '../domain/billing.ts';
import { admitJob, admitReservationTopUp, type JobLimits } from '../domain/admission.ts';
import { AppError, type ErrorCodeValue, type LocalizedText } from '../domain/errors.ts';
import type { CallbackRequest } from '../domain/callbacks.ts';
import { JobStatus, type JobMode, type JobType } from '../domain/jobs.ts';
import { changeBalance, lockAccount, type Account } from './accounts.repository.ts';
import type { Clock } from './clock.ts';
import type { Database } from './db/connect.ts';
import { newestFirstPage } from './db/paging.ts';
import type { DB, JobsTable } from './db/schema.ts';
import type { QueueRepository } from './queue.repository.ts';
import { newId, type RandomSource } from './random.ts';

export type Job = Selectable<JobsTable>;

export interface SubmitJobInput {
  id: string;
  accountId: string;
  type: JobType;
  mode: JobMode;
  params: Record<string, unknown>;
  title: string;
  callbackUrl: string;
  reservePoints: number;
  limits: JobLimits;
  queue: { kind: string; maxAttempts: number };
}

export interface JobResult {
  resultUrl: string;
  resultKey: string;
  durationSec: number;
  newAudioUrl?: string;
  /** The blob key behind newAudioUrl (presigned URLs are made from it when handed out). */
  newAudioKey?: string;
  /** Made by the local engine in place of an unreachable remote one: the note saying so (engine_note). */
  engineNote?: LocalizedText;
  /** Blob key of the subtitles (WebVTT; SRT beside it as .srt): text works and speech (subtitle_key). */
  subtitleKey?: string;
}

/** The row a submission starts as: status 1, nothing reserved beyond the submission's points. */
export function newJobRow(input: SubmitJobInput, now: number): Job {
  return {
    id: input.id,
    account_id: input.accountId,
    type: input.type,
    mode: input.mode,
    status: JobStatus.QUEUED,
    progress: 0,
    error_code: 0,
    error_message: '',
    error_message_en: '',
    params: JSON.stringify(input.params),
    title: input.title,
    callback_url: input.callbackUrl,
    result_url: '',
    result_key: '',
    new_audio_url: '',
    new_audio_key: '',
    engine_note: null,
    subtitle_key: null,
    duration: 0,
    reserved_points: input.reservePoints,
    fee: 0,
    created_at: now,
    updated_at: now,
    started_at: null,
    finished_at: null,
  };
}

/**
 * Locks the job's account (the order every money transaction takes locks in), then reads the job as it
 * is under that lock: a concurrent settlement has either committed or not started.
 */
async function lockJobAccount(
  trx: Kysely<DB>,
  id: string,
  now: number,
): Promise<{ account: Account; job: Job }> {
  const owner = await trx
    .selectFrom('jobs')
    .select('account_id')
    .where('id', '=', id)
    .executeTakeFirstOrThrow();
  const account = await lockAccount(trx, owner.account_id, now);
  const job = await trx.selectFrom('jobs').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
  return { account, job };
}

/** Builds the callback for a job's final state; null when the job has no callbackUrl. */
export type CallbackBuilder = (job: Job) => CallbackRequest | null;

/**
 * Public jobs and their money. Every method that touches points is one transaction that starts by
 * locking the account row; settlement is guarded by the job's status, so it happens exactly once.
 */
export class JobsRepository {
  constructor(
    private readonly database: Database,
    private readonly queue: QueueRepository,
    private readonly clock: Clock,
    private readonly random: RandomSource,
  ) {}

  /** seed 1.1 / 3.4 / 4.4: limits, reservation, job row and queue item, all or nothing. */
  async submit(input: SubmitJobInput): Promise<Job> {
    const now = this.clock.now();
    return this.database.tx(async (trx) => {
      const account = await lockAccount(trx, input.accountId, now);
      const active = await trx
        .selectFrom('jobs')
        .select(['status', (eb) => eb.fn.countAll<number>().as('n')])
        .where('account_id', '=', input.accountId)
        .where('status', 'in', [JobStatus.QUEUED, JobStatus.RUNNING])
        .groupBy('status')
        .execute();
      const running = Number(active.find((r) => r.status === JobStatus.RUNNING)?.n ?? 0);
      const pending = active.reduce((sum, r) => sum + Number(r.n), 0);
      const refusal = admitJob({
        running,
        pending,
        balance: account.balance,
        reservePoints: input.reservePoints,
        limits: input.limits,
      });
      if (refusal !== null) throw refusal;
      await changeBalance(trx, input.accountId, -input.reservePoints);
      const job = await trx
        .insertInto('jobs')
        .values(newJobRow(input, now))
        .returningAll()
        .executeTakeFirstOrThrow();
      await this.book(trx, {
        accountId: input.accountId,
        jobId: input.id,
        kind: 'reserve',
        amount: -input.reservePoints,
        type: input.type,
        now,
      });
      await this.queue.enqueue(trx, {
        kind: input.queue.kind,
        refId: input.id,
        payload: { jobId: input.id },
        maxAttempts: input.queue.maxAttempts,
        accountId: input.accountId,
        dedupeKey: `job:${input.id}`,
      });
      return job;
    });
  }

  async get(id: string): Promise<Job | null> {
    return (
      (await this.database.db.selectFrom('jobs').selectAll().where('id', '=', id).executeTakeFirst()) ?? null
    );
  }

  /** A job of this account (and type); null for another account's, exactly as for a missing one. */
  async getOwned(id: string, accountId: string, types: readonly JobType[]): Promise<Job | null> {
    const job = await this.get(id);
    if (job === null || job.account_id !== accountId || !types.includes(job.type as JobType)) return null;
    return job;
  }

  /** One page of an account's jobs of these types, newest first (extension: the works list). */
  async listOwned(
    accountId: string,
    types: readonly JobType[],
    page: number,
    size: number,
  ): Promise<{ total: number; list: Job[] }> {
    const filtered = this.database.db
      .selectFrom('jobs')
      .where('account_id', '=', accountId)
      .where('type', 'in', [...types]);
    return newestFirstPage(filtered, page, size, (q) => q.selectAll());
  }

  /** 1 -> 2. Returns the job as it is now. */
  async markRunning(id: string): Promise<Job | null> {
    const now = this.clock.now();
    await this.database.db
      .updateTable('jobs')
      .set({ status: JobStatus.RUNNING, started_at: now, updated_at: now })
      .where('id', '=', id)
      .where('status', '=', JobStatus.QUEUED)
      .execute();
    return this.get(id);
  }

  /** Progress only moves forward, and only while running. */
  async setProgress(id: string, progress: number): Promise<void> {
    const p = Math.max(0, Math.min(99, Math.floor(progress)));
    await this.database.db
      .updateTable('jobs')
      .set({ progress: p, updated_at: this.clock.now() })
      .where('id', '=', id)
      .where('status', '=', JobStatus.RUNNING)
      .where('progress', '<', p)
      .execute();
  }

  /**
   * Raises the reservation to `totalPoints` once the real input is known (an audio's duration).
   * Idempotent per job; 20005 (permanent) when the balance cannot cover the difference.
   */
  async reserveUpTo(id: string, totalPoints: number): Promise<void> {
    const now = this.clock.now();
    await this.database.tx(async (trx) => {
      const { account, job } = await lockJobAccount(trx, id, now);
      const done = await trx
        .selectFrom('ledger')
        .select('id')
        .where('job_id', '=', id)
        .where('kind', '=', 'reserve_more')
        .executeTakeFirst();
      if (done !== undefined || job.status > JobStatus.RUNNING) return;
      const admitted = admitReservationTopUp({
        reserved: job.reserved_points,
        total: totalPoints,
        balance: account.balance,
      });
      if (admitted instanceof AppError) throw admitted;
      const { extra } = admitted;
      if (extra === 0) return;
      await changeBalance(trx, job.account_id, -extra);
      await trx.updateTable('jobs').set({ reserved_points: totalPoints }).where('id', '=', id).execute();
      await this.book(trx, {
        accountId: job.account_id,
        jobId: id,
        kind: 'reserve_more',
        amount: -extra,
        type: job.type,
        now,
      });
    });
  }

  /** Ends a job in status 3, keeps the fee, returns the rest, enqueues the callback: exactly once. */
  async complete(id: string, result: JobResult, callback: CallbackBuilder): Promise<Job> {
    return this.settle(id, callback, (job, available, now) => {
      const s = settleSuccess(job.reserved_points, result.durationSec, available);
      const duration = Math.max(0, Math.ceil(result.durationSec - 0.001));
      return {
        settlement: { ...s, duration },
        set: {
          status: JobStatus.DONE,
          progress: 100,
          error_code: 0,
          error_message: '',
          error_message_en: '',
          result_url: result.resultUrl,
          result_key: result.resultKey,
          ...(result.newAudioUrl === undefined ? {} : { new_audio_url: result.newAudioUrl }),
          ...(result.newAudioKey === undefined ? {} : { new_audio_key: result.newAudioKey }),
          engine_note: result.engineNote === undefined ? null : JSON.stringify(result.engineNote),
          ...(result.subtitleKey === undefined ? {} : { subtitle_key: result.subtitleKey }),
          duration,
          fee: s.fee,
          updated_at: now,
          finished_at: now,
        },
      };
    });
  }

  /**
   * Ends a job in status 4 with the code's meaning, returns every reserved point: exactly once.
   * `leftover` names the job's result folder (`results/<outputKey>/`), kept in result_key until the
   * files the job may have stored there are deleted (failedLeftovers, clearResult).
   */
  async fail(
    id: string,
    code: ErrorCodeValue,
    message: LocalizedText,
    callback: CallbackBuilder,
    leftover?: string,
  ): Promise<Job> {
    return this.settle(id, callback, (job, _available, now) => ({
      settlement: { ...settleFailure(job.reserved_points), duration: 0 },
      set: {
        status: JobStatus.FAILED,
        error_code: code,
        error_message: message.zh.slice(0, 1000),
        error_message_en: message.en.slice(0, 1000),
        ...(leftover === undefined ? {} : { result_key: leftover }),
        updated_at: now,
        finished_at: now,
      },
    }));
  }

  /**
   * The one way a job ends: under the account lock, re-read the job; if it is still open, apply the
   * final state, book the settlement and enqueue the callback in the same transaction. A second caller
   * (a retried handler, a worker whose lease ran out) finds the job closed and changes nothing.
   */
  private async settle(
    id: string,
    callback: CallbackBuilder,
    end: (
      job: Job,
      available: number,
      now: number,
    ) => { settlement: { fee: number; amount: number; duration: number }; set: Updateable<JobsTable> },
  ): Promise<Job> {
    const now = this.clock.now();
    return this.database.tx(async (trx) => {
      const { account, job } = await lockJobAccount(trx, id, now);
      if (job.status >= JobStatus.DONE) return job;
      const { settlement: s, set } = end(job, account.balance, now);
      const ended = await trx
        .updateTable('jobs')
        .set(set)
        .where('id', '=', id)
        .returningAll()
        .executeTakeFirstOrThrow();
      await changeBalance(trx, job.account_id, s.amount);
      await this.book(trx, {
        accountId: job.account_id,
        jobId: id,
        kind: 'settle',
        amount: s.amount,
        fee: s.fee,
        duration: s.duration,
        type: job.type,
        now,
      });
      await this.enqueueCallback(trx, ended, callback);
      return ended;
    });
  }

  /** Finished jobs whose result is still stored and older than `cutoff` (retention). */
  async expiredResults(cutoff: number, limit: number): Promise<Array<{ id: string; result_key: string }>> {
    return this.database.db
      .selectFrom('jobs')
      .select(['id', 'result_key'])
      .where('status', '=', JobStatus.DONE)
      .where('result_key', '!=', '')
      .where('finished_at', '<', cutoff)
      .orderBy('finished_at')
      .limit(limit)
      .execute();
  }

  /**
   * Failed jobs whose result folder may still hold files (result_key names it), oldest first. None of
   * it was ever handed out (a failed job has no videoUrl, and newAudioUrl is set only on success), so
   * the retention sweep deletes it whatever its age.
   */
  async failedLeftovers(limit: number): Promise<Array<{ id: string; result_key: string }>> {
    return this.database.db
      .selectFrom('jobs')
      .select(['id', 'result_key'])
      .where('status', '=', JobStatus.FAILED)
      .where('result_key', '!=', '')
      .orderBy('finished_at')
      .limit(limit)
      .execute();
  }

  /**
   * The result was deleted: the job keeps its row and URL (which now answers 404); its subtitles,
   * deleted with it, are no longer offered.
   */
  async clearResult(id: string): Promise<void> {
    await this.database.db
      .updateTable('jobs')
      .set({ result_key: '', subtitle_key: null, updated_at: this.clock.now() })
      .where('id', '=', id)
      .execute();
  }

  /** Jobs per (type, status), for /metrics. */
  async countByStatus(): Promise<Array<{ type: string; status: number; count: number }>> {
    const rows = await this.database.db
      .selectFrom('jobs')
      .select(['type', 'status', (eb) => eb.fn.countAll<number>().as('count')])
      .groupBy(['type', 'status'])
      .execute();
    return rows.map((r) => ({ type: r.type, status: r.status, count: Number(r.count) }));
  }

  private async enqueueCallback(trx: Kysely<DB>, job: Job, callback: CallbackBuilder): Promise<void> {
    const cb = callback(job);
    if (cb === null) return;
    await this.queue.enqueueCallback(trx, {
      refId: job.id,
      accountId: job.account_id,
      eventKey: `${job.id}_${job.status}`,
      callback: cb,
    });
  }

  private async book(
    trx: Kysely<DB>,
    e: {
      accountId: string;
      jobId: string;
      kind: string;
      amount: number;
      fee?: number;
      duration?: number;
      type: string;
      now: number;
    },
  ): Promise<void> {
    await trx
      .insertInto('ledger')
      .values({
        id: newId(this.random, 'l_'),
        account_id: e.accountId,
        job_id: e.jobId,
        kind: e.kind,
        amount: e.amount,
        fee: e.fee ?? 0,
        duration: e.duration ?? 0,
        type: e.type,
        created_at: e.now,
      })
      .execute();
  }
}
