/**
 * Spoken-language identification of training speech: Mandarin ('zh'), English ('en'), or 'unknown'
 * when the evidence is weak. Mandarin is a tone language: every syllable carries its own pitch contour,
 * so within a voiced stretch the pitch moves more (and in more directions) than in English, whose pitch
 * moves mostly across phrases; its syllables are also more regularly voiced (a voiced rime in every
 * one). The features are prosodic statistics of the speech frames the trainer already finds (vad.ts)
 * and measures (YIN pitch, frame levels), normalised per speaker (semitones about the speaker's own
 * median), so that voice pitch and recording level do not decide:
 * - mean |ΔF0| between consecutive voiced 20 ms frames, semitones;
 * - mean |slope| of the pitch over each voiced stretch (a least-squares line), semitones per second;
 * - mean pitch range inside a voiced stretch, semitones;
 * - mean voiced-stretch length, seconds;
 * - share of speech frames that are voiced;
 * - energy peaks (syllable nuclei) per second of speech;
 * - the speaker's 10th-90th percentile pitch range, semitones;
 * - rhythm (Grabe & Low 2002; Ramus et al. 1999): the nPVI of successive voiced-stretch lengths (English,
 *   stress-timed, alternates long and reduced syllables; Mandarin less), and the standard deviation of
 *   the unvoiced stretches inside speech (English consonant clusters), seconds.
 * A logistic regression over the standardised features (weights in language-id.json, fitted offline by
 * eval/voice/langid-train.ts on the recordings of shared/media, which also reports its
 * leave-one-recording-out accuracy) gives P(Mandarin); below `UNSURE_BAND` of certainty either way the
 * answer is 'unknown' (a third language, too little voiced speech, or simply a close call).
 */
import { countEnergyPeaks, percentile, yinPitch } from '../audio/dsp.ts';
import model from './language-id.json' with { type: 'json' };

export type IdentifiedLanguage = 'zh' | 'en' | 'unknown';

export const LANGUAGE_FEATURES = [
  'deltaSt',
  'slopeSt',
  'runRangeSt',
  'runSec',
  'voicedShare',
  'peakRate',
  'rangeSt',
  'npviV',
  'deltaC',
] as const;
export type LanguageFeatureName = (typeof LANGUAGE_FEATURES)[number];
export type LanguageFeatures = Record<LanguageFeatureName, number>;

/** Pitch jumps larger than this between neighbouring frames are octave errors or new voices, not contour. */
const MAX_STEP_ST = 4;
/** A voiced stretch shorter than this (frames) gives no slope. */
const MIN_RUN_FRAMES = 3;
/** Less voiced speech than this (seconds) and no language is named. */
export const MIN_VOICED_SECONDS = 1.5;

/** What one recording contributes; several merge (mergeStats) before the features are taken. */
export interface LanguageStats {
  speechFrames: number;
  voicedFrames: number;
  frameSec: number;
  peaks: number;
  steps: number;
  stepSum: number;
  runs: number;
  runFrames: number;
  slopeSum: number;
  rangeSum: number;
  /** Durations (frames) of voiced stretches and of unvoiced stretches inside speech, in order. */
  voicedRuns: number[];
  unvoicedRuns: number[];
  /** Voiced frames' pitch, semitones (re 1 Hz), for the range and the median. */
  semitones: number[];
}

export function emptyStats(frameSec: number): LanguageStats {
  return {
    speechFrames: 0,
    voicedFrames: 0,
    frameSec,
    peaks: 0,
    steps: 0,
    stepSum: 0,
    runs: 0,
    runFrames: 0,
    slopeSum: 0,
    rangeSum: 0,
    voicedRuns: [],
    unvoicedRuns: [],
    semitones: [],
  };
}

export function mergeStats(a: LanguageStats, b: LanguageStats): LanguageStats {
  return {
    speechFrames: a.speechFrames + b.speechFrames,
    voicedFrames: a.voicedFrames + b.voicedFrames,
    frameSec: a.frameSec,
    peaks: a.peaks + b.peaks,
    steps: a.steps + b.steps,
    stepSum: a.stepSum + b.stepSum,
    runs: a.runs + b.runs,
    runFrames: a.runFrames + b.runFrames,
    slopeSum: a.slopeSum + b.slopeSum,
    rangeSum: a.rangeSum + b.rangeSum,
    voicedRuns: a.voicedRuns.concat(b.voicedRuns),
    unvoicedRuns: a.unvoicedRuns.concat(b.unvoicedRuns),
    semitones: a.semitones.concat(b.semitones),
  };
}

/** Least-squares slope of y over x = 0..n-1. */
function slopeOf(y: number[]): number {
  const n = y.length;
  const mx = (n - 1) / 2;
  let my = 0;
  for (const v of y) my += v;
  my /= n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    num += (i - mx) * ((y[i] as number) - my);
    den += (i - mx) ** 2;
  }
  return den > 0 ? num / den : 0;
}

/**
 * The language statistics of one recording: `speech` marks frames of `frameLen` samples (a VAD result),
 * `levelsDb` their levels; `f0` (optional) the pitch of each frame already measured (null: unvoiced).
 */
export function languageStats(
  pcm: Float32Array,
  sampleRate: number,
  frameLen: number,
  speech: Uint8Array,
  levelsDb: Float32Array,
  f0?: ReadonlyArray<number | null>,
): LanguageStats {
  const frameSec = frameLen / sampleRate;
  const stats = emptyStats(frameSec);
  const st: Array<number | null> = [];
  for (let f = 0; f < speech.length; f++) {
    if (speech[f] !== 1) {
      st.push(null);
      continue;
    }
    stats.speechFrames++;
    const hz = f0 ? (f0[f] ?? null) : yinPitch(pcm, f * frameLen, sampleRate, { minHz: 60, maxHz: 400 });
    st.push(hz === null ? null : 12 * Math.log2(hz));
  }
  stats.peaks = countEnergyPeaks(levelsDb, speech);
  let run: number[] = [];
  const endRun = (): void => {
    if (run.length >= MIN_RUN_FRAMES) {
      stats.runs++;
      stats.runFrames += run.length;
      stats.slopeSum += Math.abs(slopeOf(run)) / frameSec;
      stats.rangeSum += Math.max(...run) - Math.min(...run);
    }
    run = [];
  };
  for (let f = 0; f < st.length; f++) {
    const v = st[f] ?? null;
    if (v === null) {
      endRun();
      continue;
    }
    stats.voicedFrames++;
    stats.semitones.push(v);
    const prev = run.at(-1);
    if (prev !== undefined && Math.abs(v - prev) > MAX_STEP_ST) endRun();
    else if (prev !== undefined) {
      stats.steps++;
      stats.stepSum += Math.abs(v - prev);
    }
    run.push(v);
  }
  endRun();
  // Rhythm: lengths of voiced and unvoiced stretches inside speech (pauses end a stretch).
  let f = 0;
  while (f < st.length) {
    if (speech[f] !== 1) {
      f++;
      continue;
    }
    const voiced = st[f] !== null;
    const start = f;
    while (f < st.length && speech[f] === 1 && (st[f] !== null) === voiced) f++;
    (voiced ? stats.voicedRuns : stats.unvoicedRuns).push(f - start);
  }
  return stats;
}

/** Normalised pairwise variability index of successive durations (Grabe & Low 2002), 0..200. */
function npvi(d: number[]): number {
  if (d.length < 2) return 0;
  let sum = 0;
  for (let k = 1; k < d.length; k++) {
    const a = d[k - 1] as number;
    const b = d[k] as number;
    sum += Math.abs(a - b) / ((a + b) / 2);
  }
  return (100 * sum) / (d.length - 1);
}

function stdev(d: number[]): number {
  if (d.length === 0) return 0;
  const m = d.reduce((x, y) => x + y, 0) / d.length;
  return Math.sqrt(d.reduce((x, y) => x + (y - m) ** 2, 0) / d.length);
}

export function languageFeatures(s: LanguageStats): LanguageFeatures {
  const speechSec = s.speechFrames * s.frameSec;
  return {
    deltaSt: s.steps > 0 ? s.stepSum / s.steps : 0,
    slopeSt: s.runs > 0 ? s.slopeSum / s.runs : 0,
    runRangeSt: s.runs > 0 ? s.rangeSum / s.runs : 0,
    runSec: s.runs > 0 ? (s.runFrames / s.runs) * s.frameSec : 0,
    voicedShare: s.speechFrames > 0 ? s.voicedFrames / s.speechFrames : 0,
    peakRate: speechSec > 0 ? s.peaks / speechSec : 0,
    rangeSt: s.semitones.length > 0 ? percentile(s.semitones, 90) - percentile(s.semitones, 10) : 0,
    npviV: npvi(s.voicedRuns),
    deltaC: stdev(s.unvoicedRuns) * s.frameSec,
  };
}

/** A fitted model: standardisation and logistic weights over LANGUAGE_FEATURES (P(zh) = σ(b + w·z)). */
export interface LanguageModel {
  features: readonly string[];
  mean: number[];
  std: number[];
  weights: number[];
  bias: number;
  /** Below this certainty (|P(zh) - 0.5| * 2) the answer is 'unknown'. */
  unsureBand: number;
}

export function probabilityZh(features: LanguageFeatures, m: LanguageModel): number {
  let z = m.bias;
  m.features.forEach((name, i) => {
    const x = features[name as LanguageFeatureName];
    z += (m.weights[i] as number) * ((x - (m.mean[i] as number)) / (m.std[i] as number));
  });
  return 1 / (1 + Math.exp(-z));
}

export interface LanguageGuess {
  language: IdentifiedLanguage;
  /** P(Mandarin) by the model; NaN when there was too little voiced speech to judge. */
  pZh: number;
}

export const SHIPPED_LANGUAGE_MODEL = model as LanguageModel;

/** The language of the speech the stats describe. */
export function identifyLanguage(s: LanguageStats, m: LanguageModel = SHIPPED_LANGUAGE_MODEL): LanguageGuess {
  if (s.voicedFrames * s.frameSec < MIN_VOICED_SECONDS) return { language: 'unknown', pZh: Number.NaN };
  const p = probabilityZh(languageFeatures(s), m);
  const certainty = Math.abs(p - 0.5) * 2;
  if (certainty < m.unsureBand) return { language: 'unknown', pZh: p };
  return { language: p >= 0.5 ? 'zh' : 'en', pZh: p };
}
