/**
 * The eval end to end on the real speakers with stand-ins: an "oracle" engine that answers every voice
 * with that speaker's own held-out recording must be identified about as well as real speech, and a
 * fixed recording for the default voice must sit near chance. Needs ffmpeg and shared/media.
 */
import assert from 'node:assert/strict';
import { copyFile, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { VoiceProfile } from '../../src/domain/voice.ts';
import type { SpeechEngine, SpeechInput, VoiceTrainer, VoiceTrainingInput } from '../../src/engines/ports.ts';
import { sharedMediaDir, testMedia } from '../../test/helpers/fixtures.ts';
import { runVoiceEval, summaryTable } from './run.ts';
import { EVAL_SAMPLE_RATE, SPEAKERS, splitPoint } from './speakers.ts';
import { pocketsphinxRecognizer, wordErrorRate, writeWav16 } from './wer.ts';
import type { Recognizer } from './wer.ts';

const haveMedia = existsSync(join(sharedMediaDir(), 'MANIFEST.md'));

/** Remembers which speaker's file it was trained on; refuses one speaker. */
class RecordingTrainer implements VoiceTrainer {
  constructor(private readonly refuse: string) {}

  async train(input: VoiceTrainingInput): Promise<VoiceProfile> {
    const file = input.audioFiles[0] ?? '';
    if (basename(file).startsWith(`${this.refuse}-`)) throw new Error('too little speech');
    return {
      version: 1,
      tier: input.tier,
      language: 'unknown',
      speechSeconds: 5,
      f0MedianHz: 150,
      f0RangeSemitones: 5,
      speakingRate: 4,
      loudnessDb: -20,
      extra: { speaker: basename(file).replace(/-(enrol|full)\.wav$/, '') },
    };
  }
}

/** Speaks with the speaker's real held-out audio, whatever the text; the default voice is one fixed recording. */
class OracleEngine implements SpeechEngine {
  readonly name = 'oracle-held-out';
  constructor(
    private readonly heldOut: ReadonlyMap<string, string>,
    private readonly defaultFile: string,
  ) {}

  async synthesize(input: SpeechInput): Promise<{ durationSec: number }> {
    const speaker = input.voice?.extra?.speaker;
    const file = typeof speaker === 'string' ? this.heldOut.get(speaker) : this.defaultFile;
    if (!file) throw new Error(`no audio for ${String(speaker)}`);
    await copyFile(file, input.outFile);
    return { durationSec: 1 };
  }
}

describe('runVoiceEval with an oracle engine', { skip: haveMedia ? false : 'shared/media not found' }, () => {
  let dir = '';
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'eval-voice-test-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('identifies held-out real speech as its speaker and the default voice near chance', async () => {
    const media = testMedia();
    const heldOut = new Map<string, string>();
    await mkdir(join(dir, 'held'), { recursive: true });
    for (const s of SPEAKERS) {
      const pcm = await media.decodeAudio(join(sharedMediaDir(), s.file), EVAL_SAMPLE_RATE);
      const file = join(dir, 'held', `${s.id}.wav`);
      await writeWav16(pcm.subarray(splitPoint(pcm.length)), EVAL_SAMPLE_RATE, file);
      heldOut.set(s.id, file);
    }
    const heard: string[] = [];
    const recognizer: Recognizer = {
      name: 'fake',
      transcribe: async (file) => {
        heard.push(file);
        return 'please call me back';
      },
    };
    const report = await runVoiceEval({
      engine: new OracleEngine(heldOut, heldOut.get('speech-en-2') as string),
      trainer: new RecordingTrainer('speech-zh-4-short'),
      media,
      mediaDir: sharedMediaDir(),
      recognizer,
      tiers: ['LITE'],
      sentences: { en: ['Please call me back.'], zh: ['你好。'] },
      workDir: join(dir, 'work'),
    });
    const row = (c: string) => report.summary.find((s) => s.condition === c);
    const lite = row('LITE');
    const def = row('default');
    const real = row('real held-out');
    assert.ok(lite && def && real && row('real held-out, reversed split'));
    assert.equal(report.speakers.length, SPEAKERS.length);
    // The speaker whose training failed is left out of every score (not counted as misses).
    const scored = SPEAKERS.length - 1;
    assert.equal(lite.idTrials, 2 * scored);
    const failed = report.speakers.find((s) => s.id === 'speech-zh-4-short');
    assert.equal(failed?.voices.LITE?.trainedOn, 'failed');
    assert.deepEqual(
      report.excluded.map((e) => e.id),
      ['speech-zh-4-short'],
    );
    const failedRow = report.perSpeaker.find((p) => p.id === 'speech-zh-4-short')?.conditions.LITE;
    assert.deepEqual([failedRow?.correct, failedRow?.trials], [0, 0]);
    assert.equal(real.idTrials, scored);
    // The oracle's output is the held-out speech (through a 16-bit wav): about the reference row's accuracy.
    assert.ok(Math.abs((lite.idAccuracy ?? 0) - (real.idAccuracy ?? 0)) <= 0.1, `oracle ${lite.idAccuracy}`);
    assert.ok((real.idAccuracy ?? 0) >= 0.7, `real held-out accuracy ${real.idAccuracy}`);
    // One fixed recording is one speaker's: right for that target only.
    assert.equal(def.idAccuracy, 1 / scored);
    assert.equal(lite.wer, 0);
    assert.equal(heard.length, SPEAKERS.length); // 23 voices and the default
    assert.ok(typeof lite.rtf === 'number' && lite.rtf > 0);
    assert.equal(report.perSpeaker.length, SPEAKERS.length);
    // Intervals: over scored speakers; the held-out set is every speaker outside TUNING_SPEAKERS.
    const idRow = (set: string, lang: string) =>
      report.identification.find((r) => r.condition === 'LITE' && r.speakerSet === set && r.lang === lang);
    const all = idRow('all', 'all');
    assert.equal(all?.speakers, scored);
    assert.equal(all?.top1.estimate, lite.idAccuracy);
    assert.ok((all?.top1.lo ?? 2) <= (all?.top1.estimate ?? -1));
    assert.equal(idRow('held-out', 'all')?.speakers, report.heldOutSpeakers.length);
    assert.equal(
      (idRow('held-out', 'all')?.speakers ?? 0) + (idRow('tuned-on', 'all')?.speakers ?? 0),
      scored,
    );
    assert.equal(idRow('all', 'en')?.trials, scored);
    assert.ok(Object.keys(summaryTable(report)).includes('default'));
  });
});

describe(
  'pocketsphinx on real English',
  { skip: haveMedia && pocketsphinxRecognizer() ? false : 'needs pocketsphinx' },
  () => {
    it('transcribes speech-en-5 ("Some call me nature, others call me mother nature.") fairly well', async () => {
      const dir = await mkdtemp(join(tmpdir(), 'eval-voice-ps-'));
      try {
        const pcm = await testMedia().decodeAudio(join(sharedMediaDir(), 'speech-en-5.wav'), 16000);
        const file = join(dir, 'en5.wav');
        await writeWav16(pcm, 16000, file);
        const text = await (pocketsphinxRecognizer() as Recognizer).transcribe(file);
        const r = wordErrorRate('Some call me nature, others call me mother nature.', text);
        assert.ok(r.wer <= 0.5, `"${text}": WER ${r.wer}`);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });
  },
);
