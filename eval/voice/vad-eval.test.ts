import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { detectSpeech } from '../../src/engines/audio/dsp.ts';
import { webRtcVad } from '../../src/engines/audio/vad.ts';
import { TRAINING_VAD } from '../../src/engines/voice/basic-trainer.ts';
import { sharedMediaDir, testMedia } from '../../test/helpers/fixtures.ts';
import {
  loadLabelledAudio,
  loadVadLabels,
  scoreDetector,
  scoreMask,
  type LabelledRecording,
} from './vad-eval.ts';

describe('VAD scoring', () => {
  const label: LabelledRecording = { file: 'x', note: '', speech: [[1, 2]], unsure: [[3, 3.5]] };

  it('counts 10 ms frames against the labels, skipping unsure spans and the collar', () => {
    // a detector at 20 ms frames saying speech for 1.5-2.5 s
    const mask = new Uint8Array(200);
    mask.fill(1, 75, 125);
    const c = scoreMask(mask, 0.02, label, 4, 0.04);
    // truth 1.04-1.96 scored: 1.04-1.5 missed (46 frames), 1.5-1.96 hit (46); 2.04-2.5 false (46);
    // 8 frames of collar at each label edge and the 50 unsure frames are not counted
    assert.deepEqual(c, { tp: 46, fn: 46, fp: 46, tn: 400 - 3 * 46 - 2 * 8 - 50 });
  });
});

describe('VAD against the hand-labelled recordings (vad-labels.json)', () => {
  let audio: Awaited<ReturnType<typeof loadLabelledAudio>>;
  const labels = loadVadLabels();
  before(async () => {
    audio = await loadLabelledAudio(testMedia(), sharedMediaDir(), labels);
  });

  it('the labels are sane: ordered, inside the recording, at least 1 s of speech each', () => {
    for (const { label, pcm } of audio) {
      let last = -1;
      for (const [a, b] of label.speech) {
        assert.ok(a >= last && b > a, `${label.file} ${a}-${b}`);
        last = b;
      }
      assert.ok(last <= pcm.length / 16_000 + 0.05, `${label.file} ends inside`);
      assert.ok(label.speech.reduce((s, [a, b]) => s + b - a, 0) >= 1, label.file);
    }
  });

  it('the training VAD finds the speech (recall >= 0.95) and little else (precision >= 0.95)', async () => {
    const vad = await webRtcVad();
    const s = scoreDetector(audio, (p) => vad.detect(p, 16_000, TRAINING_VAD), labels.collarSec);
    const fmt = (x: number): string => x.toFixed(3);
    for (const r of s.perRecording) {
      console.log(`  ${r.file}: precision ${fmt(r.precision)} recall ${fmt(r.recall)}`);
    }
    console.log(`  pooled: precision ${fmt(s.pooled.precision)} recall ${fmt(s.pooled.recall)}`);
    assert.ok(s.pooled.recall >= 0.95, `recall ${fmt(s.pooled.recall)}`);
    assert.ok(s.pooled.precision >= 0.95, `precision ${fmt(s.pooled.precision)}`);
    for (const r of s.perRecording) assert.ok(r.recall >= 0.8, `${r.file} recall ${fmt(r.recall)}`);
    const old = scoreDetector(audio, (p) => detectSpeech(p, 16_000), labels.collarSec);
    assert.ok(s.pooled.f1 > old.pooled.f1, `F1 ${fmt(s.pooled.f1)} vs energy VAD ${fmt(old.pooled.f1)}`);
  });
});
