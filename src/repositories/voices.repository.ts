import type { Kysely, Selectable } from 'kysely';
import { admitNewVoice, admitRetraining } from '../domain/admission.ts';
import type { ErrorCodeValue, LocalizedText } from '../domain/errors.ts';
import type { CallbackRequest } from '../domain/callbacks.ts';
import { JobStatus, QueueKind } from '../domain/jobs.ts';
import type { VoiceTier } from '../domain/voice.ts';
import { lockAccount } from './accounts.repository.ts';
import type { Clock } from './clock.ts';
import type { Database } from './db/connect.ts';
import { newestFirstPage } from './db/paging.ts';
import type { DB, VoicesTable, VoiceTrainingsTable } from './db/schema.ts';
import type { QueueRepository } from './queue.repository.ts';
import { newId, type RandomSource } from './random.ts';

export type Voice = Selectable<VoicesTable>;
export type VoiceTraining = Selectable<VoiceTrainingsTable>;

export interface TrainInput {
  accountId: string;
  type: VoiceTier;
  /** Empty: a new voice (takes a quota slot). */
  speakerId: string;
  audioUrl: string;
  callbackUrl: string;
  maxAttempts: number;
}

export type VoiceCallbackBuilder = (voice: Voice) => CallbackRequest | null;

export class VoicesRepository {
  constructor(
    private readonly database: Database,
    private readonly queue: QueueRepository,
    private readonly clock: Clock,
    private readonly random: RandomSource,
  ) {}

  /**
   * Submits a training: a new voice takes one LITE/PRO slot (30002 when none is left, and then no slot
   * is used); an existing voice gets one more training (the 11th: 20004; one already running: 30001).
   */
  async submitTraining(input: TrainInput): Promise<{ voice: Voice; training: VoiceTraining }> {
    const now = this.clock.now();
    return this.database.tx(async (trx) => {
      const account = await lockAccount(trx, input.accountId, now);
      let voice: Voice;
      if (input.speakerId === '') {
        const used = input.type === 'LITE' ? account.lite_used : account.pro_used;
        const total = input.type === 'LITE' ? account.lite_total : account.pro_total;
        const refusal = admitNewVoice({ tier: input.type, used, total });
        if (refusal !== null) throw refusal;
        await trx
          .updateTable('accounts')
          .set(input.type === 'LITE' ? { lite_used: used + 1 } : { pro_used: used + 1 })
          .where('id', '=', input.accountId)
          .execute();
        voice = await trx
          .insertInto('voices')
          .values({
            id: newId(this.random, input.type === 'LITE' ? 'spk_l' : 'spk_p'),
            account_id: input.accountId,
            type: input.type,
            status: JobStatus.QUEUED,
            error_code: 0,
            error_message: '',
            error_message_en: '',
            trainings: 1,
            profile: null,
            callback_url: input.callbackUrl,
            created_at: now,
            updated_at: now,
          })
          .returningAll()
          .executeTakeFirstOrThrow();
      } else {
        const existing = await trx
          .selectFrom('voices')
          .selectAll()
          .where('id', '=', input.speakerId)
          .executeTakeFirst();
        const refusal = admitRetraining(
          existing === undefined
            ? null
            : {
                accountId: existing.account_id,
                tier: existing.type,
                status: existing.status,
                trainings: existing.trainings,
              },
          { accountId: input.accountId, tier: input.type, speakerId: input.speakerId },
        );
        if (refusal !== null) throw refusal;
        voice = await trx
          .updateTable('voices')
          .set((eb) => ({
            status: JobStatus.QUEUED,
            error_code: 0,
            error_message: '',
            error_message_en: '',
            trainings: eb('trainings', '+', 1),
            callback_url: input.callbackUrl,
            updated_at: now,
          }))
          .where('id', '=', input.speakerId)
          .returningAll()
          .executeTakeFirstOrThrow();
      }
      const training = await trx
        .insertInto('voice_trainings')
        .values({
          id: newId(this.random, 'tr_'),
          voice_id: voice.id,
          seq: voice.trainings,
          audio_url: input.audioUrl,
          audio_key: '',
          status: JobStatus.QUEUED,
          error_code: 0,
          error_message: '',
          created_at: now,
          finished_at: null,
        })
        .returningAll()
        .executeTakeFirstOrThrow();
      await this.queue.enqueue(trx, {
        kind: QueueKind.TRAIN,
        refId: voice.id,
        payload: { voiceId: voice.id, trainingId: training.id },
        maxAttempts: input.maxAttempts,
        accountId: voice.account_id,
        dedupeKey: `train:${training.id}`,
      });
      return { voice, training };
    });
  }

  async get(id: string): Promise<Voice | null> {
    return (
      (await this.database.db.selectFrom('voices').selectAll().where('id', '=', id).executeTakeFirst()) ??
      null
    );
  }

  async getOwned(id: string, accountId: string, type: VoiceTier): Promise<Voice | null> {
    const voice = await this.get(id);
    if (voice === null || voice.account_id !== accountId || voice.type !== type) return null;
    return voice;
  }

  /** Any voice of this account, LITE or PRO (works accept either). */
  async getOwnedAnyType(id: string, accountId: string): Promise<Voice | null> {
    const voice = await this.get(id);
    return voice === null || voice.account_id !== accountId ? null : voice;
  }

  /** One page of an account's voices (both tiers), newest first (extension: the voices list). */
  async listOwned(accountId: string, page: number, size: number): Promise<{ total: number; list: Voice[] }> {
    const filtered = this.database.db.selectFrom('voices').where('account_id', '=', accountId);
    return newestFirstPage(filtered, page, size, (q) => q.selectAll());
  }

  async getTraining(id: string): Promise<VoiceTraining | null> {
    return (
      (await this.database.db
        .selectFrom('voice_trainings')
        .selectAll()
        .where('id', '=', id)
        .executeTakeFirst()) ?? null
    );
  }

  /** The voice's most recent training (the one a queue item with an unreadable payload was for). */
  async latestTraining(voiceId: string): Promise<VoiceTraining | null> {
    return (
      (await this.database.db
        .selectFrom('voice_trainings')
        .selectAll()
        .where('voice_id', '=', voiceId)
        .orderBy('seq', 'desc')
        .limit(1)
        .executeTakeFirst()) ?? null
    );
  }

  /**
   * The audio a training learns from, oldest first: the recordings of the voice's successful trainings
   * and the training `upToSeq` itself. A failed training's recording is not among them (it never
   * became part of the profile, and the retention sweep deletes it: failedTrainingAudio).
   */
  async trainingsWithAudio(voiceId: string, upToSeq: number): Promise<VoiceTraining[]> {
    return this.database.db
      .selectFrom('voice_trainings')
      .selectAll()
      .where('voice_id', '=', voiceId)
      .where('seq', '<=', upToSeq)
      .where('audio_key', '!=', '')
      .where((eb) => eb.or([eb('status', '=', JobStatus.DONE), eb('seq', '=', upToSeq)]))
      .orderBy('seq')
      .execute();
  }

  /** Failed trainings whose recording is still stored, oldest first (retention deletes them). */
  async failedTrainingAudio(limit: number): Promise<Array<{ id: string; audio_key: string }>> {
    return this.database.db
      .selectFrom('voice_trainings')
      .select(['id', 'audio_key'])
      .where('status', '=', JobStatus.FAILED)
      .where('audio_key', '!=', '')
      .orderBy('finished_at')
      .limit(limit)
      .execute();
  }

  /** A failed training's recording was deleted. Only a failed training's: a used one is never cleared. */
  async clearFailedTrainingAudio(trainingId: string): Promise<void> {
    await this.database.db
      .updateTable('voice_trainings')
      .set({ audio_key: '' })
      .where('id', '=', trainingId)
      .where('status', '=', JobStatus.FAILED)
      .execute();
  }

  async markRunning(voiceId: string, trainingId: string): Promise<void> {
    const now = this.clock.now();
    await this.database.tx(async (trx) => {
      await trx
        .updateTable('voice_trainings')
        .set({ status: JobStatus.RUNNING })
        .where('id', '=', trainingId)
        .where('status', '=', JobStatus.QUEUED)
        .execute();
      await trx
        .updateTable('voices')
        .set({ status: JobStatus.RUNNING, updated_at: now })
        .where('id', '=', voiceId)
        .where('status', '=', JobStatus.QUEUED)
        .execute();
    });
  }

  async setTrainingAudio(trainingId: string, audioKey: string): Promise<void> {
    await this.database.db
      .updateTable('voice_trainings')
      .set({ audio_key: audioKey })
      .where('id', '=', trainingId)
      .execute();
  }

  /** Training done: the new profile replaces the old one; callback enqueued once. */
  async completeTraining(
    voiceId: string,
    trainingId: string,
    profile: unknown,
    callback: VoiceCallbackBuilder,
  ): Promise<Voice> {
    return this.finishTraining(
      voiceId,
      trainingId,
      { status: JobStatus.DONE, code: 0, message: { zh: '', en: '' }, profile },
      callback,
    );
  }

  /** Training failed: the voice keeps any profile an earlier training made. */
  async failTraining(
    voiceId: string,
    trainingId: string,
    code: ErrorCodeValue,
    message: LocalizedText,
    callback: VoiceCallbackBuilder,
  ): Promise<Voice> {
    return this.finishTraining(voiceId, trainingId, { status: JobStatus.FAILED, code, message }, callback);
  }

  private async finishTraining(
    voiceId: string,
    trainingId: string,
    end: { status: number; code: number; message: LocalizedText; profile?: unknown },
    callback: VoiceCallbackBuilder,
  ): Promise<Voice> {
    const now = this.clock.now();
    return this.database.tx(async (trx) => {
      const res = await trx
        .updateTable('voice_trainings')
        .set({
          status: end.status,
          error_code: end.code,
          error_message: end.message.zh.slice(0, 1000),
          finished_at: now,
        })
        .where('id', '=', trainingId)
        .where('status', 'in', [JobStatus.QUEUED, JobStatus.RUNNING])
        .executeTakeFirst();
      if (Number(res.numUpdatedRows) === 0) {
        return trx.selectFrom('voices').selectAll().where('id', '=', voiceId).executeTakeFirstOrThrow();
      }
      const voice = await trx
        .updateTable('voices')
        .set({
          status: end.status,
          error_code: end.code,
          error_message: end.message.zh.slice(0, 1000),
          error_message_en: end.message.en.slice(0, 1000),
          ...(end.profile === undefined ? {} : { profile: JSON.stringify(end.profile) }),
          updated_at: now,
        })
        .where('id', '=', voiceId)
        .returningAll()
        .executeTakeFirstOrThrow();
      await this.enqueueCallback(trx, voice, trainingId, callback);
      return voice;
    });
  }

  private async enqueueCallback(
    trx: Kysely<DB>,
    voice: Voice,
    trainingId: string,
    callback: VoiceCallbackBuilder,
  ): Promise<void> {
    const cb = callback(voice);
    if (cb === null) return;
    await this.queue.enqueueCallback(trx, {
      refId: voice.id,
      accountId: voice.account_id,
      eventKey: `${trainingId}_${voice.status}`,
      callback: cb,
    });
  }
}
