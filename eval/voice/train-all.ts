/**
 * `node --import tsx eval/voice/train-all.ts`: trains a LITE voice (BasicVoiceTrainer) on every
 * recording of shared/media with sound (speech-*.wav, the sound of face-*.mp4) and on the meeting case
 * (meeting-case.ts), one recording per voice, and prints for each: the speech the former energy
 * detector (dsp.ts detectSpeech) found, the speech the trainer used, the language it identified, or the
 * error (20014 when under 3 s of speech). Exits 1 when a recording fails although it holds at least
 * 3 s of speech: by its hand labels (vad-labels.json) where it has some, else by the former detector.
 */
import { readdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AppError } from '../../src/domain/errors.ts';
import { detectSpeech } from '../../src/engines/audio/dsp.ts';
import { BasicVoiceTrainer, TRAINING_SAMPLE_RATE } from '../../src/engines/voice/basic-trainer.ts';
import { sharedMediaDir, testMedia } from '../../test/helpers/fixtures.ts';
import { meetingCase } from './meeting-case.ts';
import { loadVadLabels } from './vad-eval.ts';

async function main(): Promise<void> {
  const media = testMedia();
  const trainer = new BasicVoiceTrainer(media);
  const dir = sharedMediaDir();
  const labelled = new Map(
    loadVadLabels().recordings.map((r) => [r.file, r.speech.reduce((s, [a, b]) => s + (b - a), 0)]),
  );
  const files = readdirSync(dir)
    .filter((f) => /\.(wav|mp4)$/.test(f))
    .sort()
    .map((f) => ({ name: f, path: join(dir, f) }));
  files.push({ name: 'meeting case (meeting-case.ts)', path: (await meetingCase()).meeting });
  const work = await mkdtemp(join(tmpdir(), 'dhs-train-all-'));
  let bad = 0;
  try {
    for (const f of files) {
      const pcm = await media.decodeAudio(f.path, TRAINING_SAMPLE_RATE);
      const before = detectSpeech(pcm, TRAINING_SAMPLE_RATE).speechSeconds;
      const label = labelled.get(f.name);
      let result: string;
      try {
        const p = await trainer.train({
          audioFiles: [f.path],
          tier: 'LITE',
          workDir: work,
          signal: new AbortController().signal,
        });
        result = `trained: ${p.speechSeconds.toFixed(2)} s of speech, language ${p.language}`;
      } catch (err) {
        // the hand labels decide where there are some; elsewhere the former detector's count
        const expected = label !== undefined ? label < 3 : before < 3;
        if (!expected) bad++;
        const why = err instanceof AppError ? `${err.code} ${err.detail.en}` : String(err);
        result = `${why}${expected ? ' (right: under 3 s of speech)' : '  <- FAILS'}`;
      }
      const labelText = label === undefined ? '' : `, labelled ${label.toFixed(2)} s`;
      console.log(`${f.name.padEnd(32)} energy VAD ${before.toFixed(2)} s${labelText}; ${result}`);
    }
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  console.log(bad === 0 ? 'every recording with 3 s of speech trained' : `${bad} recording(s) failed`);
  if (bad > 0) process.exitCode = 1;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
