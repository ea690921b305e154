/**
 * Fits the spoken-language model (src/engines/voice/language-id.ts) offline on the recordings of
 * shared/media whose language MANIFEST.md states (speech-*.wav and the talking-face videos' sound;
 * face-portrait-talking-10s is left out: its language is not verified), and reports its
 * leave-one-recording-out accuracy: for every recording, the model is fitted on all the others and
 * judges the held-out one (whole recording, the trainer's VAD and pitch). Training examples are each
 * recording's speech in windows of WINDOW_SEC (hop HOP_SEC) plus the whole recording, the classes
 * weighted to equal total weight (there are far more English recordings).
 *
 * `node --import tsx eval/voice/langid-train.ts` prints per-recording results and the accuracy;
 * `--write` also writes the model fitted on all recordings to src/engines/voice/language-id.json.
 */
import { writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { webRtcVad } from '../../src/engines/audio/vad.ts';
import { TRAINING_SAMPLE_RATE, TRAINING_VAD } from '../../src/engines/voice/basic-trainer.ts';
import {
  identifyLanguage,
  LANGUAGE_FEATURES,
  languageFeatures,
  languageStats,
} from '../../src/engines/voice/language-id.ts';
import type { LanguageModel } from '../../src/engines/voice/language-id.ts';
import type { MediaTool } from '../../src/repositories/media.ts';

/** Every recording with a stated language (MANIFEST.md). */
export const LANGUAGE_RECORDINGS: ReadonlyArray<{ file: string; language: 'zh' | 'en' }> = [
  ...['1', '2', '3', '4', '5'].map((n) => ({ file: `speech-en-${n}.wav`, language: 'en' as const })),
  ...['1', '2', '3', '4-short'].map((n) => ({ file: `speech-zh-${n}.wav`, language: 'zh' as const })),
  { file: 'face-zh-woman-1.mp4', language: 'zh' },
  ...[
    'face-en-man-1.mp4',
    'face-en-man-2.mp4',
    'face-en-man-3.mp4',
    'face-en-man-4.mp4',
    'face-en-man-5.mp4',
    'face-en-man-6.mp4',
    'face-en-man-7-short.mp4',
    'face-en-woman-1.mp4',
    'face-en-woman-2.mp4',
    'face-en-woman-3-mpeg4.mp4',
    'face-en-woman-4.mp4',
    'face-en-woman-5.mp4',
    'face-en-woman-6.mp4',
  ].map((file) => ({ file, language: 'en' as const })),
];

const WINDOW_SEC = 4;
const HOP_SEC = 2;
/** L2 penalty of the logistic regression. */
const L2 = 0.3;
/** Certainty below which the answer is 'unknown'. */
export const UNSURE_BAND = 0.3;

export interface Example {
  recording: string;
  y: 0 | 1;
  x: number[];
  weight: number;
}

export interface RecordingAudio {
  file: string;
  language: 'zh' | 'en';
  pcm: Float32Array;
}

function featureVector(pcm: Float32Array, vad: Awaited<ReturnType<typeof webRtcVad>>): number[] {
  const act = vad.detect(pcm, TRAINING_SAMPLE_RATE, TRAINING_VAD);
  const f = languageFeatures(
    languageStats(pcm, TRAINING_SAMPLE_RATE, act.frameLen, act.speech, act.levelsDb),
  );
  return LANGUAGE_FEATURES.map((k) => f[k]);
}

/** Whole-recording and windowed feature vectors of every recording. */
export async function examplesOf(
  recordings: RecordingAudio[],
): Promise<{ whole: Example[]; windows: Example[] }> {
  const vad = await webRtcVad();
  const whole: Example[] = [];
  const windows: Example[] = [];
  for (const r of recordings) {
    const y = r.language === 'zh' ? 1 : 0;
    whole.push({ recording: r.file, y, x: featureVector(r.pcm, vad), weight: 1 });
    const win = WINDOW_SEC * TRAINING_SAMPLE_RATE;
    const hop = HOP_SEC * TRAINING_SAMPLE_RATE;
    for (let a = 0; a + win <= r.pcm.length; a += hop) {
      windows.push({ recording: r.file, y, x: featureVector(r.pcm.subarray(a, a + win), vad), weight: 1 });
    }
  }
  return { whole, windows };
}

/** Standardised, class-balanced, L2-penalised logistic regression by gradient descent. */
export function fitLogistic(examples: Example[], unsureBand = UNSURE_BAND): LanguageModel {
  const d = LANGUAGE_FEATURES.length;
  const mean = new Array<number>(d).fill(0);
  const std = new Array<number>(d).fill(0);
  for (const e of examples) e.x.forEach((v, i) => (mean[i] = (mean[i] as number) + v / examples.length));
  for (const e of examples)
    e.x.forEach((v, i) => (std[i] = (std[i] as number) + (v - (mean[i] as number)) ** 2 / examples.length));
  for (let i = 0; i < d; i++) std[i] = Math.max(1e-6, Math.sqrt(std[i] as number));
  const pos = examples.filter((e) => e.y === 1).length;
  const neg = examples.length - pos;
  const cw = (y: number): number =>
    y === 1 ? examples.length / (2 * Math.max(1, pos)) : examples.length / (2 * Math.max(1, neg));
  const z = examples.map((e) => e.x.map((v, i) => (v - (mean[i] as number)) / (std[i] as number)));
  const w = new Array<number>(d).fill(0);
  let b = 0;
  const lr = 0.1;
  for (let it = 0; it < 3000; it++) {
    const gw = w.map((wi) => L2 * wi);
    let gb = 0;
    examples.forEach((e, k) => {
      const zk = z[k] as number[];
      let s = b;
      for (let i = 0; i < d; i++) s += (w[i] as number) * (zk[i] as number);
      const p = 1 / (1 + Math.exp(-s));
      const g = (p - e.y) * cw(e.y) * e.weight;
      for (let i = 0; i < d; i++) gw[i] = (gw[i] as number) + (g * (zk[i] as number)) / examples.length;
      gb += g / examples.length;
    });
    for (let i = 0; i < d; i++) w[i] = (w[i] as number) - lr * (gw[i] as number);
    b -= lr * gb;
  }
  const r = (x: number): number => Number(x.toFixed(5));
  return {
    features: [...LANGUAGE_FEATURES],
    mean: mean.map(r),
    std: std.map(r),
    weights: w.map(r),
    bias: r(b),
    unsureBand,
  };
}

export interface LooResult {
  file: string;
  truth: 'zh' | 'en';
  said: 'zh' | 'en' | 'unknown';
  pZh: number;
}

/** Leave-one-recording-out: the model fitted without a recording judges it (whole recording). */
export async function leaveOneOut(recordings: RecordingAudio[]): Promise<LooResult[]> {
  const { windows, whole } = await examplesOf(recordings);
  const vad = await webRtcVad();
  const out: LooResult[] = [];
  for (const r of recordings) {
    const train = [...windows, ...whole].filter((e) => e.recording !== r.file);
    const m = fitLogistic(train);
    const act = vad.detect(r.pcm, TRAINING_SAMPLE_RATE, TRAINING_VAD);
    const guess = identifyLanguage(
      languageStats(r.pcm, TRAINING_SAMPLE_RATE, act.frameLen, act.speech, act.levelsDb),
      m,
    );
    out.push({ file: r.file, truth: r.language, said: guess.language, pZh: guess.pZh });
  }
  return out;
}

export async function loadLanguageRecordings(media: MediaTool, mediaDir: string): Promise<RecordingAudio[]> {
  return Promise.all(
    LANGUAGE_RECORDINGS.map(async (r) => ({
      ...r,
      pcm: await media.decodeAudio(join(mediaDir, r.file), TRAINING_SAMPLE_RATE),
    })),
  );
}

export function summarize(results: LooResult[]): { accuracy: number; unknown: number; wrong: number } {
  const right = results.filter((r) => r.said === r.truth).length;
  const unknown = results.filter((r) => r.said === 'unknown').length;
  return { accuracy: right / results.length, unknown, wrong: results.length - right - unknown };
}

async function main(): Promise<void> {
  const { testMedia, sharedMediaDir } = await import('../../test/helpers/fixtures.ts');
  const recordings = await loadLanguageRecordings(testMedia(), sharedMediaDir());
  const results = await leaveOneOut(recordings);
  for (const r of results) {
    const mark = r.said === r.truth ? 'ok' : r.said === 'unknown' ? 'unknown' : 'WRONG';
    console.log(`${r.file.padEnd(28)} ${r.truth} -> ${r.said.padEnd(7)} P(zh) ${r.pZh.toFixed(3)}  ${mark}`);
  }
  const s = summarize(results);
  const zh = results.filter((r) => r.truth === 'zh');
  console.log(
    `leave-one-recording-out: ${(s.accuracy * 100).toFixed(1)}% right of ${results.length} (${s.unknown} unknown, ${s.wrong} wrong); Mandarin ${zh.filter((r) => r.said === 'zh').length}/${zh.length}, English ${results.filter((r) => r.truth === 'en' && r.said === 'en').length}/${results.length - zh.length}`,
  );
  if (process.argv.includes('--write')) {
    const { windows, whole } = await examplesOf(recordings);
    const model = fitLogistic([...windows, ...whole]);
    const file = fileURLToPath(new URL('../../src/engines/voice/language-id.json', import.meta.url));
    await writeFile(file, `${JSON.stringify(model, null, 2)}\n`);
    console.log(`wrote ${file}`);
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
