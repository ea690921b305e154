import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  admitJob,
  admitNewVoice,
  admitReservationTopUp,
  admitRetraining,
  MAX_TRAININGS_PER_VOICE,
} from './admission.ts';
import { AppError, ErrorCode } from './errors.ts';
import { JobStatus } from './jobs.ts';

const limits = { maxRunning: 2, maxPending: 5 };
const codeOf = (e: AppError | null | { extra: number }) => (e instanceof AppError ? e.code : null);

describe('admitJob', () => {
  test('goes ahead under every limit with enough balance, the balance exactly the reservation', () => {
    assert.equal(admitJob({ running: 1, pending: 4, balance: 10, reservePoints: 10, limits }), null);
  });
  test('20007 at the running limit, before the open-job limit and the balance', () => {
    const e = admitJob({ running: 2, pending: 5, balance: 0, reservePoints: 9, limits });
    assert.equal(codeOf(e), ErrorCode.TOO_MANY_RUNNING);
    assert.match(e?.detail.en ?? '', /2 jobs are processing; the limit is 2/);
    assert.match(e?.detail.zh ?? '', /上限 2/);
  });
  test('20008 at the open-job limit, before the balance', () => {
    const e = admitJob({ running: 0, pending: 5, balance: 0, reservePoints: 9, limits });
    assert.equal(codeOf(e), ErrorCode.TOO_MANY_SUBMITTED);
    assert.match(e?.detail.en ?? '', /5 jobs are queued or processing/);
  });
  test('20005 when the balance is one short of the reservation', () => {
    const e = admitJob({ running: 0, pending: 0, balance: 9, reservePoints: 10, limits });
    assert.equal(codeOf(e), ErrorCode.INSUFFICIENT_POINTS);
    assert.match(e?.detail.en ?? '', /10 points must be reserved; the balance is 9/);
  });
  test('a zero limit refuses everything', () => {
    assert.equal(
      codeOf(
        admitJob({
          running: 0,
          pending: 0,
          balance: 1,
          reservePoints: 1,
          limits: { maxRunning: 0, maxPending: 5 },
        }),
      ),
      ErrorCode.TOO_MANY_RUNNING,
    );
  });
});

describe('admitReservationTopUp', () => {
  test('the difference is taken when the balance covers it', () => {
    assert.deepEqual(admitReservationTopUp({ reserved: 5, total: 12, balance: 7 }), { extra: 7 });
  });
  test('nothing more when the reservation already covers the total', () => {
    assert.deepEqual(admitReservationTopUp({ reserved: 12, total: 5, balance: 0 }), { extra: 0 });
    assert.deepEqual(admitReservationTopUp({ reserved: 5, total: 5, balance: 0 }), { extra: 0 });
  });
  test('20005 naming the total when the balance is short', () => {
    const e = admitReservationTopUp({ reserved: 5, total: 12, balance: 6 });
    assert.equal(codeOf(e), ErrorCode.INSUFFICIENT_POINTS);
    assert.match(
      e instanceof AppError ? e.detail.en : '',
      /12 points are needed; the balance cannot cover 7 more/,
    );
  });
});

describe('admitNewVoice', () => {
  test('a free slot goes ahead; a full quota is 30002 naming the tier', () => {
    assert.equal(admitNewVoice({ tier: 'LITE', used: 0, total: 1 }), null);
    const e = admitNewVoice({ tier: 'PRO', used: 3, total: 3 });
    assert.equal(codeOf(e), ErrorCode.VOICE_QUOTA_EXHAUSTED);
    assert.equal(e?.detail.en, '3 of 3 PRO voices are used');
    assert.equal(codeOf(admitNewVoice({ tier: 'LITE', used: 0, total: 0 })), ErrorCode.VOICE_QUOTA_EXHAUSTED);
  });
});

describe('admitRetraining', () => {
  const request = { accountId: 'u1', tier: 'LITE' as const, speakerId: 'spk_1' };
  const voice = { accountId: 'u1', tier: 'LITE', status: JobStatus.DONE, trainings: 1 };
  test('a finished voice of this account and tier may train again, failed ones too', () => {
    assert.equal(admitRetraining(voice, request), null);
    assert.equal(admitRetraining({ ...voice, status: JobStatus.FAILED }, request), null);
  });
  test("missing, another account's and another tier's voice all read as 20006", () => {
    for (const v of [null, { ...voice, accountId: 'u2' }, { ...voice, tier: 'PRO' }]) {
      const e = admitRetraining(v, request);
      assert.equal(codeOf(e), ErrorCode.NOT_FOUND);
      assert.equal(e?.detail.en, 'no LITE voice spk_1');
    }
  });
  test('30001 while a training is queued or running', () => {
    for (const status of [JobStatus.QUEUED, JobStatus.RUNNING]) {
      assert.equal(
        codeOf(admitRetraining({ ...voice, status }, request)),
        ErrorCode.VOICE_TRAIN_SUBMIT_FAILED,
      );
    }
  });
  test(`the ${MAX_TRAININGS_PER_VOICE + 1}th training is 20004`, () => {
    assert.equal(admitRetraining({ ...voice, trainings: MAX_TRAININGS_PER_VOICE - 1 }, request), null);
    const e = admitRetraining({ ...voice, trainings: MAX_TRAININGS_PER_VOICE }, request);
    assert.equal(codeOf(e), ErrorCode.BAD_PARAMETER);
    assert.match(e?.detail.en ?? '', /at most 10 times/);
  });
});
