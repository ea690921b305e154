import assert from 'node:assert/strict';
import { beforeEach, describe, test } from 'node:test';
import { ErrorCode } from '../domain/errors.ts';
import { JobStatus, QueueKind } from '../domain/jobs.ts';
import { parseStored, workParamsSchema } from '../domain/payloads.ts';
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
import { DEFAULT_TITLE, WorksService } from './works.service.ts';

const limits = { maxRunning: 2, maxPending: 10, maxAttempts: 3 };
const account = fakeAccount();

const code = codeOf;

describe('WorksService (fakes, no database)', () => {
  let jobs: FakeJobs;
  let voices: FakeVoices;
  let works: WorksService;
  beforeEach(() => {
    jobs = new FakeJobs();
    voices = new FakeVoices();
    works = new WorksService(
      { jobs, voices, urls: fakeUrls, random: countingRandom(), links: storedLinks },
      limits,
    );
  });

  test('audio-driven: reserves the 5 s minimum, keeps only the audio and video, queues a work', async () => {
    const { jobId } = await works.create(account, {
      videoUrl: 'https://m.example/v.mp4',
      audioUrl: 'https://m.example/a.mp3',
      text: 'ignored',
      speakerId: 'ignored',
      title: ' 片头 ',
    });
    const [input] = jobs.submitted;
    assert.ok(input !== undefined && jobId === input.id && jobId.startsWith('w_'));
    assert.equal(input.mode, 'audio');
    assert.equal(input.reservePoints, 5);
    assert.equal(input.title, '片头');
    assert.deepEqual(input.queue, { kind: QueueKind.WORK, maxAttempts: 3 });
    assert.deepEqual(input.limits, limits);
    const params = parseStored(workParamsSchema, input.params, 'work parameters');
    assert.equal(params.text, '');
    assert.equal(params.speakerId, '');
    assert.match(params.outputKey, /^[a-f0-9]{32}$/);
  });

  test('text-driven and audio only reserve the estimate of the text; untitled works get the default', async () => {
    await works.create(account, { videoUrl: 'https://m.example/v.mp4', text: '你好世界' });
    await works.create(account, { text: 'hello there, world' });
    assert.deepEqual(
      jobs.submitted.map((j) => [j.mode, j.reservePoints, j.title]),
      [
        ['text', 1, DEFAULT_TITLE],
        ['audio_only', 2, DEFAULT_TITLE],
      ],
    );
  });

  test('which fields are present decides the mode; the wrong sets are refused before anything is queued', async () => {
    assert.equal(
      await code(works.create(account, { videoUrl: 'https://m.example/v.mp4' })),
      ErrorCode.MISSING_FILE,
    );
    assert.equal(
      await code(works.create(account, { audioUrl: 'https://m.example/a.mp3' })),
      ErrorCode.MISSING_FILE,
    );
    assert.equal(await code(works.create(account, {})), ErrorCode.BAD_PARAMETER);
    assert.equal(await code(works.create(account, { text: '!!! ...' })), ErrorCode.BAD_PARAMETER);
    assert.equal(jobs.submitted.length, 0);
  });

  test('bad URLs answer the code of their role', async () => {
    const video = 'https://m.example/v.mp4';
    assert.equal(
      await code(works.create(account, { videoUrl: video, audioUrl: 'ftp://x/a.mp3' })),
      ErrorCode.INVALID_AUDIO_URL,
    );
    assert.equal(
      await code(works.create(account, { videoUrl: 'http://127.0.0.1/v.mp4', text: 'hi' })),
      ErrorCode.VIDEO_FETCH_FAILED,
    );
    assert.equal(
      await code(works.create(account, { videoUrl: video, text: 'hi', callbackUrl: 'notaurl' })),
      ErrorCode.BAD_PARAMETER,
    );
    assert.equal(jobs.submitted.length, 0);
  });

  test("a voice must be this account's and trained; the other account's reads as missing", async () => {
    voices.add({ id: 'spk_mine', account_id: account.id });
    voices.add({ id: 'spk_untrained', account_id: account.id, profile: null });
    voices.add({ id: 'spk_theirs', account_id: 'u_2' });
    for (const speakerId of ['spk_untrained', 'spk_theirs', 'spk_none']) {
      assert.equal(
        await code(works.create(account, { text: 'hi', speakerId })),
        ErrorCode.NOT_FOUND,
        speakerId,
      );
    }
    await works.create(account, { text: 'hi', speakerId: 'spk_mine' });
    const [input] = jobs.submitted;
    assert.equal(parseStored(workParamsSchema, input?.params, 'work parameters').speakerId, 'spk_mine');
  });

  test("inspect answers the seed body of this account's work, and 20006 for anyone else's", async () => {
    const { jobId } = await works.create(account, { text: 'hello' });
    const body = await works.inspect(account, { jobId });
    assert.equal(body.status, 1);
    assert.equal(body.videoUrl, '');
    assert.equal(await code(works.inspect(fakeAccount({ id: 'u_2' }), { jobId })), ErrorCode.NOT_FOUND);
    assert.equal(await code(works.inspect(account, { jobId: 7 })), ErrorCode.BAD_PARAMETER);
  });

  test('inspect: stored /files/ URLs as kept; expiring (presigned) URLs made from the keys at each read', async () => {
    const { jobId } = await works.create(account, { videoUrl: 'https://m.example/v.mp4', text: 'hello' });
    const row = jobs.rows.get(jobId);
    assert.ok(row);
    Object.assign(row, {
      status: JobStatus.DONE,
      result_url: 'http://dhs/files/results/k/video.mp4',
      result_key: 'results/k/video.mp4',
      new_audio_url: 'http://dhs/files/results/k/speech.mp3',
      new_audio_key: 'results/k/speech.mp3',
    });
    const stored = await works.inspect(account, { jobId });
    assert.equal(stored.videoUrl, 'http://dhs/files/results/k/video.mp4');
    assert.equal(stored.newAudioUrl, 'http://dhs/files/results/k/speech.mp3');

    const links = presignLinks();
    const presigned = new WorksService(
      { jobs, voices, urls: fakeUrls, random: countingRandom(), links },
      limits,
    );
    const first = await presigned.inspect(account, { jobId });
    const second = await presigned.inspect(account, { jobId });
    assert.match(first.videoUrl, /^https:\/\/bucket\.example\/results\/k\/video\.mp4\?/);
    assert.match(String(first.newAudioUrl), /^https:\/\/bucket\.example\/results\/k\/speech\.mp3\?/);
    assert.notEqual(second.videoUrl, first.videoUrl, 'a fresh URL at every read');

    // a deleted result (retention: result_key '') shows its stored URL (404), never a new signature
    Object.assign(row, { result_key: '' });
    const made = links.made.length;
    assert.equal(
      (await presigned.inspect(account, { jobId })).videoUrl,
      'http://dhs/files/results/k/video.mp4',
    );
    // a failed job's result_key names its leftover folder: no URL is made for it
    Object.assign(row, {
      status: JobStatus.FAILED,
      result_url: '',
      new_audio_url: '',
      result_key: 'results/k/',
    });
    assert.equal((await presigned.inspect(account, { jobId })).videoUrl, '');
    assert.equal(links.made.length, made);
  });
});
