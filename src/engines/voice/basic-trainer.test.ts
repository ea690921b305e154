import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AppError, ErrorCode } from '../../domain/errors.ts';
import { FfmpegMedia } from '../../repositories/ffmpeg-media.ts';
import type { VoiceTrainingInput } from '../ports.ts';
import { BasicVoiceTrainer } from './basic-trainer.ts';

const MEDIA_DIR = '/work/shared/media';
const media = new FfmpegMedia({ ffmpegPath: 'ffmpeg', ffprobePath: 'ffprobe' });
const trainer = new BasicVoiceTrainer(media);

describe('BasicVoiceTrainer', () => {
  let dir = '';
  const fixture = (name: string): string => join(dir, name);

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dhs-train-'));
    const zh2 = join(MEDIA_DIR, 'speech-zh-2.wav');
    await media.ffmpeg(['-f', 'lavfi', '-i', 'anullsrc=r=16000:cl=mono', '-t', '6', fixture('silence.wav')]);
    await media.ffmpeg(['-i', zh2, '-t', '2', fixture('zh2-first-2s.wav')]);
    await media.ffmpeg(['-ss', '2', '-i', zh2, '-t', '2', fixture('zh2-next-2s.mp3')]);
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  function input(audioFiles: string[], over: Partial<VoiceTrainingInput> = {}): VoiceTrainingInput {
    return { audioFiles, tier: 'LITE', workDir: dir, signal: new AbortController().signal, ...over };
  }

  function isTooLittleSpeech(err: unknown): boolean {
    return (
      err instanceof AppError &&
      err.code === ErrorCode.INVALID_AUDIO_DURATION &&
      !err.retryable &&
      /at least 3 s needed/.test(err.detail.en)
    );
  }

  it('measures a male voice (speech-zh-2, F0 about 129 Hz)', async () => {
    const p = await trainer.train(input([join(MEDIA_DIR, 'speech-zh-2.wav')], { tier: 'PRO' }));
    assert.ok(p.f0MedianHz >= 110 && p.f0MedianHz <= 150, `F0 ${p.f0MedianHz}`);
    assert.equal(p.version, 1);
    assert.equal(p.tier, 'PRO');
    assert.equal(p.language, 'unknown');
    assert.ok(p.speechSeconds > 8 && p.speechSeconds <= 9.95, `speech ${p.speechSeconds}`);
    assert.ok(p.f0RangeSemitones > 2 && p.f0RangeSemitones < 24, `range ${p.f0RangeSemitones}`);
    assert.ok(p.speakingRate > 2 && p.speakingRate < 8, `rate ${p.speakingRate}`);
    assert.ok(p.loudnessDb > -40 && p.loudnessDb < -5, `loudness ${p.loudnessDb}`);
  });

  it('measures a female voice (speech-zh-1, F0 about 254 Hz)', async () => {
    const p = await trainer.train(input([join(MEDIA_DIR, 'speech-zh-1.wav')]));
    assert.ok(p.f0MedianHz >= 220 && p.f0MedianHz <= 290, `F0 ${p.f0MedianHz}`);
    assert.equal(p.tier, 'LITE');
  });

  it('refuses silence', async () => {
    await assert.rejects(trainer.train(input([fixture('silence.wav')])), isTooLittleSpeech);
  });

  it('refuses a 2 s clip, saying how much speech it found', async () => {
    await assert.rejects(trainer.train(input([fixture('zh2-first-2s.wav')])), (err: unknown) => {
      assert.ok(isTooLittleSpeech(err));
      assert.match((err as AppError).detail.en, /^found [12]\.\d s of speech/);
      assert.match((err as AppError).detail.zh, /秒语音/);
      return true;
    });
  });

  it('adds up speech over all training files', async () => {
    const p = await trainer.train(input([fixture('zh2-first-2s.wav'), fixture('zh2-next-2s.mp3')]));
    assert.ok(p.speechSeconds >= 3 && p.speechSeconds <= 4, `speech ${p.speechSeconds}`);
    assert.ok(p.f0MedianHz >= 90 && p.f0MedianHz <= 180, `F0 ${p.f0MedianHz}`);
  });

  it('stops when aborted', async () => {
    const ac = new AbortController();
    ac.abort();
    await assert.rejects(
      trainer.train(input([join(MEDIA_DIR, 'speech-zh-2.wav')], { signal: ac.signal })),
      (err: unknown) => (err as Error).name === 'AbortError',
    );
  });
});
