/**
 * Voice activity detection against hand-labelled speech spans (vad-labels.json: how the labels were
 * made is written in it). Every recording is decoded to 16 kHz mono and cut into 10 ms frames; a frame
 * is speech in the labels when its centre lies in a speech span; frames in an 'unsure' span or within
 * `collarSec` of a label edge are not scored. Frame precision and recall are pooled over the recordings.
 *
 * `node --import tsx eval/voice/vad-eval.ts` prints the shipped detector (vad.ts with the trainer's
 * settings, basic-trainer.ts TRAINING_VAD), the former energy detector (dsp.ts detectSpeech) and a grid
 * of WebRTC VAD settings (mode, frame, gap filling, energy gate), per recording and pooled.
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { detectSpeech } from '../../src/engines/audio/dsp.ts';
import { webRtcVad } from '../../src/engines/audio/vad.ts';
import type { VoiceActivityOptions } from '../../src/engines/audio/vad.ts';
import type { MediaTool } from '../../src/repositories/media.ts';

export const SCORE_FRAME_SEC = 0.01;
const RATE = 16_000;

export interface LabelledRecording {
  file: string;
  note: string;
  speech: Array<[number, number]>;
  unsure: Array<[number, number]>;
}

export interface VadLabels {
  collarSec: number;
  recordings: LabelledRecording[];
}

export function loadVadLabels(): VadLabels {
  const text = readFileSync(fileURLToPath(new URL('./vad-labels.json', import.meta.url)), 'utf8');
  return JSON.parse(text) as VadLabels;
}

/** Frame counts of one comparison. */
export interface FrameCounts {
  tp: number;
  fp: number;
  fn: number;
  tn: number;
}

export function precisionRecall(c: FrameCounts): { precision: number; recall: number; f1: number } {
  const precision = c.tp + c.fp > 0 ? c.tp / (c.tp + c.fp) : 1;
  const recall = c.tp + c.fn > 0 ? c.tp / (c.tp + c.fn) : 1;
  const f1 = precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0;
  return { precision, recall, f1 };
}

/**
 * Scores a detector's speech mask (`frameSec` per entry) on one labelled recording of `seconds`.
 */
export function scoreMask(
  mask: Uint8Array,
  frameSec: number,
  label: LabelledRecording,
  seconds: number,
  collarSec: number,
): FrameCounts {
  const counts: FrameCounts = { tp: 0, fp: 0, fn: 0, tn: 0 };
  const edges = label.speech.flat();
  const n = Math.floor(seconds / SCORE_FRAME_SEC);
  for (let i = 0; i < n; i++) {
    const t = (i + 0.5) * SCORE_FRAME_SEC;
    if (label.unsure.some(([a, b]) => t >= a && t < b)) continue;
    if (edges.some((e) => Math.abs(t - e) < collarSec)) continue;
    const truth = label.speech.some(([a, b]) => t >= a && t < b);
    const said = mask[Math.floor(t / frameSec)] === 1;
    if (truth && said) counts.tp++;
    else if (truth) counts.fn++;
    else if (said) counts.fp++;
    else counts.tn++;
  }
  return counts;
}

export function addCounts(a: FrameCounts, b: FrameCounts): FrameCounts {
  return { tp: a.tp + b.tp, fp: a.fp + b.fp, fn: a.fn + b.fn, tn: a.tn + b.tn };
}

export interface DetectorScore {
  pooled: FrameCounts & { precision: number; recall: number; f1: number };
  perRecording: Array<{
    file: string;
    precision: number;
    recall: number;
    speechSec: number;
    labelSec: number;
  }>;
}

export type MaskDetector = (pcm: Float32Array) => {
  speech: Uint8Array;
  frameSec: number;
  speechSeconds: number;
};

/** Decoded labelled recordings (16 kHz mono). */
export async function loadLabelledAudio(
  media: MediaTool,
  mediaDir: string,
  labels: VadLabels = loadVadLabels(),
): Promise<Array<{ label: LabelledRecording; pcm: Float32Array }>> {
  return Promise.all(
    labels.recordings.map(async (label) => ({
      label,
      pcm: await media.decodeAudio(join(mediaDir, label.file), RATE),
    })),
  );
}

export function scoreDetector(
  audio: Array<{ label: LabelledRecording; pcm: Float32Array }>,
  detect: MaskDetector,
  collarSec: number,
): DetectorScore {
  let pooled: FrameCounts = { tp: 0, fp: 0, fn: 0, tn: 0 };
  const perRecording: DetectorScore['perRecording'] = [];
  for (const { label, pcm } of audio) {
    const res = detect(pcm);
    const c = scoreMask(res.speech, res.frameSec, label, pcm.length / RATE, collarSec);
    pooled = addCounts(pooled, c);
    const pr = precisionRecall(c);
    perRecording.push({
      file: label.file,
      precision: pr.precision,
      recall: pr.recall,
      speechSec: res.speechSeconds,
      labelSec: label.speech.reduce((s, [a, b]) => s + (b - a), 0),
    });
  }
  return { pooled: { ...pooled, ...precisionRecall(pooled) }, perRecording };
}

async function main(): Promise<void> {
  const [{ testMedia, sharedMediaDir }, { TRAINING_VAD }] = await Promise.all([
    import('../../test/helpers/fixtures.ts'),
    import('../../src/engines/voice/basic-trainer.ts'),
  ]);
  const labels = loadVadLabels();
  const audio = await loadLabelledAudio(testMedia(), sharedMediaDir(), labels);
  const vad = await webRtcVad();
  const f = (x: number): string => x.toFixed(3);
  const show = (name: string, s: DetectorScore, detail: boolean): void => {
    console.log(`${name.padEnd(58)} P ${f(s.pooled.precision)} R ${f(s.pooled.recall)} F1 ${f(s.pooled.f1)}`);
    if (!detail) return;
    for (const r of s.perRecording) {
      console.log(
        `    ${r.file.padEnd(24)} P ${f(r.precision)} R ${f(r.recall)}  detected ${r.speechSec.toFixed(2)} s, labelled ${r.labelSec.toFixed(2)} s`,
      );
    }
  };
  show(
    'shipped: WebRTC VAD ' + JSON.stringify(TRAINING_VAD),
    scoreDetector(audio, (p) => vad.detect(p, RATE, TRAINING_VAD), labels.collarSec),
    true,
  );
  show(
    'former energy VAD (dsp.ts detectSpeech)',
    scoreDetector(audio, (p) => detectSpeech(p, RATE), labels.collarSec),
    true,
  );
  const raw =
    (o: VoiceActivityOptions): MaskDetector =>
    (p) => {
      const r = vad.detect(p, RATE, o);
      return { speech: r.raw, frameSec: r.frameSec, speechSeconds: 0 };
    };
  for (const mode of [0, 1, 2, 3] as const) {
    show(
      `raw libfvad mode ${mode}, 10 ms`,
      scoreDetector(audio, raw({ mode, frameMs: 10 }), labels.collarSec),
      false,
    );
  }
  for (const mode of [0, 1, 2, 3] as const) {
    for (const frameMs of [10, 20, 30] as const) {
      for (const maxGapMs of [100, 200, 300]) {
        for (const gateDb of [null, 3, 6]) {
          const o: VoiceActivityOptions = { mode, frameMs, maxGapMs, gateDb };
          show(
            JSON.stringify(o),
            scoreDetector(audio, (p) => vad.detect(p, RATE, o), labels.collarSec),
            false,
          );
        }
      }
    }
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
