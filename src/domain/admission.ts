import { AppError, ErrorCode, t } from './errors.ts';
import { JobStatus } from './jobs.ts';
import type { VoiceTier } from './voice.ts';

/**
 * Whether a submission may go ahead, decided from what the repository read under the account's lock
 * (docs/decisions.md "Limits"). Pure: the repository keeps the lock and the I/O, these keep the rules
 * and the words the customer reads. Each returns the refusal, or null to go ahead.
 */

export interface JobLimits {
  /** seed 20007: jobs of one account in status 2 at once. */
  maxRunning: number;
  /** seed 20008: jobs of one account in status 1 or 2 at once. */
  maxPending: number;
}

/** seed 1.1 / 3.4 / 4.4: the running and open-job limits first, then the reservation (20005). */
export function admitJob(s: {
  running: number;
  pending: number;
  balance: number;
  reservePoints: number;
  limits: JobLimits;
}): AppError | null {
  if (s.running >= s.limits.maxRunning) {
    return new AppError(
      ErrorCode.TOO_MANY_RUNNING,
      t(
        `已有 ${s.running} 个任务在生成中，上限 ${s.limits.maxRunning}`,
        `${s.running} jobs are processing; the limit is ${s.limits.maxRunning}`,
      ),
    );
  }
  if (s.pending >= s.limits.maxPending) {
    return new AppError(
      ErrorCode.TOO_MANY_SUBMITTED,
      t(
        `已有 ${s.pending} 个任务未完成，上限 ${s.limits.maxPending}`,
        `${s.pending} jobs are queued or processing; the limit is ${s.limits.maxPending}`,
      ),
    );
  }
  if (s.balance < s.reservePoints) {
    return new AppError(
      ErrorCode.INSUFFICIENT_POINTS,
      t(
        `需要预留 ${s.reservePoints} 积分，余额 ${s.balance}`,
        `${s.reservePoints} points must be reserved; the balance is ${s.balance}`,
      ),
    );
  }
  return null;
}

/**
 * A running job learned its real length: may its reservation grow from `reserved` to `total`?
 * 0 extra points needed: nothing to do. A balance short of the difference is 20005 (permanent).
 */
export function admitReservationTopUp(s: {
  reserved: number;
  total: number;
  balance: number;
}): { extra: number } | AppError {
  const extra = Math.max(0, s.total - s.reserved);
  if (extra > 0 && s.balance < extra) {
    return new AppError(
      ErrorCode.INSUFFICIENT_POINTS,
      t(
        `需要 ${s.total} 积分，余额不足`,
        `${s.total} points are needed; the balance cannot cover ${extra} more`,
      ),
    );
  }
  return { extra };
}

/**
 * Speech of `seconds` (estimated at submission, or real once synthesized) within the one-request
 * limit; 20004 naming both otherwise.
 */
export function admitSpeechLength(seconds: number, limitSeconds: number): AppError | null {
  if (seconds <= limitSeconds) return null;
  const minutes = (s: number) => Math.ceil(s / 60);
  return new AppError(
    ErrorCode.BAD_PARAMETER,
    t(
      `文本朗读约需 ${minutes(seconds)} 分钟，单次上限 ${minutes(limitSeconds)} 分钟`,
      `the text takes about ${minutes(seconds)} minutes to speak; one request may take at most ${minutes(limitSeconds)}`,
    ),
  );
}

/** seed 3.1 / 4.1: one speakerId is trained at most this many times. */
export const MAX_TRAININGS_PER_VOICE = 10;

/** seed 3.1 / 4.1: a new voice takes one slot of its tier's quota (30002 when none is left). */
export function admitNewVoice(s: { tier: VoiceTier; used: number; total: number }): AppError | null {
  if (s.used < s.total) return null;
  return new AppError(
    ErrorCode.VOICE_QUOTA_EXHAUSTED,
    t(`${s.tier} 音色已用 ${s.used}/${s.total}`, `${s.used} of ${s.total} ${s.tier} voices are used`),
  );
}

/**
 * seed 3.1 / 4.1: one more training of an existing voice. Another account's voice, or one of the other
 * tier, is answered exactly as a missing one (20006); one in training is 30001; the 11th is 20004.
 */
export function admitRetraining(
  voice: { accountId: string; tier: string; status: number; trainings: number } | null,
  request: { accountId: string; tier: VoiceTier; speakerId: string },
): AppError | null {
  if (voice === null || voice.accountId !== request.accountId || voice.tier !== request.tier) {
    return new AppError(
      ErrorCode.NOT_FOUND,
      t(`音色 ${request.speakerId} 不存在`, `no ${request.tier} voice ${request.speakerId}`),
    );
  }
  if (voice.status === JobStatus.QUEUED || voice.status === JobStatus.RUNNING) {
    return new AppError(
      ErrorCode.VOICE_TRAIN_SUBMIT_FAILED,
      t(
        '该音色正在训练中，请等待完成后再提交',
        'this voice is being trained; submit again when it has finished',
      ),
    );
  }
  if (voice.trainings >= MAX_TRAININGS_PER_VOICE) {
    return new AppError(
      ErrorCode.BAD_PARAMETER,
      t(
        `同一音色最多训练 ${MAX_TRAININGS_PER_VOICE} 次`,
        `a voice is trained at most ${MAX_TRAININGS_PER_VOICE} times`,
      ),
    );
  }
  return null;
}
