import assert from 'node:assert/strict';
import { beforeEach, describe, test } from 'node:test';
import { ErrorCode } from '../domain/errors.ts';
import { JobStatus, QueueKind } from '../domain/jobs.ts';
import { parseStored, synthParamsSchema } from '../domain/payloads.ts';
import {
  codeOf,
  countingRandom,
  fakeAccount,
  FakeJobs,
  fakeUrls,
  FakeVoices,
  presignLinks,
  storedLinks,
} from './service-fakes.ts';
import { VoicesService } from './voices.service.ts';

const limits = { maxRunning: 2, maxPending: 10, maxAttempts: 4 };
const account = fakeAccount();

const code = codeOf;

describe('VoicesService (fakes, no database)', () => {
  let jobs: FakeJobs;
  let voices: FakeVoices;
  let service: VoicesService;
  beforeEach(() => {
    jobs = new FakeJobs();
    voices = new FakeVoices();
    service = new VoicesService(
      { voices, jobs, urls: fakeUrls, random: countingRandom(), links: storedLinks },
      limits,
    );
  });

  test('training needs an audio URL that may be fetched; the tier and attempts go to the repository', async () => {
    assert.equal(await code(service.train(account, 'LITE', {})), ErrorCode.MISSING_FILE);
    assert.equal(
      await code(service.train(account, 'LITE', { audioUrl: 'file:///etc/passwd' })),
      ErrorCode.INVALID_AUDIO_URL,
    );
    const { speakerId } = await service.train(account, 'PRO', { audioUrl: 'https://m.example/me.wav' });
    assert.equal(voices.trainings.length, 1);
    assert.equal(voices.trainings[0]?.type, 'PRO');
    assert.equal(voices.trainings[0]?.maxAttempts, 4);
    assert.equal(voices.trainings[0]?.speakerId, '');
    assert.equal((await service.trainDetail(account, 'PRO', { speakerId })).speakerId, speakerId);
    assert.equal(await code(service.trainDetail(account, 'LITE', { speakerId })), ErrorCode.NOT_FOUND);
  });

  test('speech needs a trained voice of this tier and account', async () => {
    voices.add({ id: 'spk_lite', type: 'LITE' });
    voices.add({ id: 'spk_new', type: 'LITE', profile: null });
    voices.add({ id: 'spk_other', type: 'LITE', account_id: 'u_2' });
    for (const [tier, speakerId] of [
      ['PRO', 'spk_lite'],
      ['LITE', 'spk_new'],
      ['LITE', 'spk_other'],
    ] as const) {
      assert.equal(
        await code(service.create(account, tier, { speakerId, content: 'hi' })),
        ErrorCode.NOT_FOUND,
      );
    }
    assert.equal(jobs.submitted.length, 0);
  });

  test('speech reserves the estimate at the requested speed; kyyRole counts on LITE only', async () => {
    voices.add({ id: 'spk_lite', type: 'LITE' });
    voices.add({ id: 'spk_pro', type: 'PRO' });
    const content = '一二三四五六七八'; // 8 Han characters: 2 s at speed 1
    await service.create(account, 'LITE', {
      speakerId: 'spk_lite',
      content,
      speedRatio: '0.5',
      kyyRole: 'yes',
    });
    await service.create(account, 'PRO', { speakerId: 'spk_pro', content, kyyRole: 'yes' });
    const [lite, pro] = jobs.submitted;
    assert.equal(lite?.reservePoints, 4);
    assert.equal(pro?.reservePoints, 2);
    assert.deepEqual(lite?.queue, { kind: QueueKind.SYNTH, maxAttempts: 4 });
    assert.ok(lite?.id.startsWith('sl_') && pro?.id.startsWith('sp_'));
    assert.equal(parseStored(synthParamsSchema, lite?.params, 'p').crossLanguage, true);
    assert.equal(parseStored(synthParamsSchema, pro?.params, 'p').crossLanguage, false);
    assert.equal(parseStored(synthParamsSchema, lite?.params, 'p').speedRatio, 0.5);
  });

  test('content with nothing to speak and out-of-range ratios are 20004', async () => {
    voices.add({ id: 'spk_lite', type: 'LITE' });
    assert.equal(
      await code(service.create(account, 'LITE', { speakerId: 'spk_lite', content: '...' })),
      ErrorCode.BAD_PARAMETER,
    );
    assert.equal(
      await code(service.create(account, 'LITE', { speakerId: 'spk_lite', content: 'hi', pitchRatio: '11' })),
      ErrorCode.BAD_PARAMETER,
    );
  });

  test("speech detail shows this tier's job of this account only", async () => {
    voices.add({ id: 'spk_lite', type: 'LITE' });
    const { jobId } = await service.create(account, 'LITE', { speakerId: 'spk_lite', content: 'hello' });
    const detail = await service.createDetail(account, 'LITE', { jobId });
    assert.equal(detail.jobId, jobId);
    assert.equal(detail.accessKey, account.access_key);
    assert.equal(await code(service.createDetail(account, 'PRO', { jobId })), ErrorCode.NOT_FOUND);
  });

  test('speech detail of a finished job: a presigned url made from the key when links expire', async () => {
    voices.add({ id: 'spk_lite', type: 'LITE' });
    const { jobId } = await service.create(account, 'LITE', { speakerId: 'spk_lite', content: 'hello' });
    const row = jobs.rows.get(jobId);
    assert.ok(row);
    Object.assign(row, {
      status: JobStatus.DONE,
      result_url: 'http://dhs/files/results/s/speech.mp3',
      result_key: 'results/s/speech.mp3',
    });
    assert.equal(
      (await service.createDetail(account, 'LITE', { jobId })).url,
      'http://dhs/files/results/s/speech.mp3',
    );
    const presigned = new VoicesService(
      { voices, jobs, urls: fakeUrls, random: countingRandom(), links: presignLinks() },
      limits,
    );
    const detail = await presigned.createDetail(account, 'LITE', { jobId });
    assert.match(detail.url, /^https:\/\/bucket\.example\/results\/s\/speech\.mp3\?X-Amz-Signature=/);
  });
});
