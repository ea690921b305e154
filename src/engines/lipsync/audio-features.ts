/**
 * Audio features for the lip-sync engine's audio -> mouth-shape model: one vector per VIDEO frame.
 *
 * Pipeline (mono float32 PCM, designed for 16 kHz; other rates work, the mel range stays the same):
 * 1. Short-time analysis: pre-emphasis 0.97, 25 ms Hann window, 10 ms hop, power spectrum (Fft of
 *    audio/fft.ts, two real frames per complex transform), MEL_BANDS triangular mel bands over
 *    MEL_MIN_HZ..MEL_MAX_HZ, log of the band energy plus a floor RELATIVE_FLOOR * (clip mean square) *
 *    window length (so the features do not depend on the recording level and low noise reads as
 *    silence), DCT-II (orthonormal), the first CEPSTRA coefficients (c0 included: it carries loudness).
 *    Analysis frame j is centred at t_j = (j + 0.5) * 10 ms; its window is t_j +- 12.5 ms (zero outside
 *    the clip).
 * 2. Per-clip cepstral mean and variance normalization over all analysis frames.
 * 3. Alignment: video frame k covers [k / fps, (k + 1) / fps) and is centred at c_k = (k + 0.5) / fps.
 *    Its vector stacks TAPS_MS.length taps; tap i is the mean of the analysis frames whose centres lie in
 *    [c_k + TAPS_MS[i] - TAP_WIDTH_MS / 2, c_k + TAPS_MS[i] + TAP_WIDTH_MS / 2) (ranges beyond the clip
 *    take the nearest frame at the clip's edge). Then a constant 1 (bias) as the last element.
 *    dim = TAPS_MS.length * CEPSTRA + 1.
 * 4. Speech mask per video frame: energy VAD on 10 ms levels (RMS of each hop) with hysteresis relative
 *    to the clip's noise floor (10th percentile of the levels): speech starts above floor + VAD_ON_DB
 *    (and at least VAD_ABS_ON_DB dBFS) and lasts while above floor + VAD_OFF_DB (and VAD_ABS_OFF_DB);
 *    runs under 30 ms are dropped, gaps under 50 ms filled. A video frame is speech when at least half
 *    of the analysis frames centred inside it are. No hangover here: the mouth model adds its own.
 *    (dsp.ts detectSpeech was not reused: it has a single threshold, i.e. no hysteresis, and a fixed
 *    frame grid whose hangover would blur the alignment.)
 * 5. Loudness per video frame: RMS of the samples in [k / fps, (k + 1) / fps), dBFS (dsp.ts toDb).
 *
 * Cost: one 512-point complex FFT per 20 ms at 16 kHz: 30 min of audio in 2.4 s on an idle core here
 * (5-6 s with the 2-core machine loaded 3x); memory is the 10 ms cepstra (13 floats per 10 ms) plus
 * the output (frames * dim floats).
 *
 * Choices (eval/lipsync/mouth-model-study.ts, 6 clips): 40 mel bands beat 26 and 32 slightly; +-150 ms
 * of context as good as +-100 ms and better than +-200 ms; relative floor 1e-4 beat 1e-5 and 1e-6
 * slightly; CMVN over speech frames only helped the prior alone but hurt avatar fits.
 */
import { Fft } from '../audio/fft.ts';
import { percentile, toDb } from '../audio/dsp.ts';

export const WIN_MS = 25;
export const HOP_MS = 10;
export const MEL_BANDS = 40;
export const MEL_MIN_HZ = 60;
export const MEL_MAX_HZ = 7600;
export const CEPSTRA = 13;
/** Context taps (ms from the video frame's centre) and the span each tap averages. */
export const TAPS_MS: readonly number[] = [-150, -100, -50, 0, 50, 100, 150];
export const TAP_WIDTH_MS = 50;
const PRE_EMPHASIS = 0.97;
/** Band-energy floor as a share of (clip mean square * window length). */
const RELATIVE_FLOOR = 1e-4;
export const VAD_ON_DB = 12;
export const VAD_OFF_DB = 6;
export const VAD_ABS_ON_DB = -55;
export const VAD_ABS_OFF_DB = -60;
const VAD_MIN_RUN = 3;
const VAD_MAX_GAP = 5;

/** Everything that defines the feature vector: a model or prior is only valid for an equal config. */
export interface FeatureConfig {
  winMs: number;
  hopMs: number;
  melBands: number;
  melMinHz: number;
  melMaxHz: number;
  cepstra: number;
  preEmphasis: number;
  relativeFloor: number;
  cmvn: 'clip';
  tapsMs: number[];
  tapWidthMs: number;
  bias: boolean;
}

export const FEATURE_CONFIG: Readonly<FeatureConfig> = Object.freeze({
  winMs: WIN_MS,
  hopMs: HOP_MS,
  melBands: MEL_BANDS,
  melMinHz: MEL_MIN_HZ,
  melMaxHz: MEL_MAX_HZ,
  cepstra: CEPSTRA,
  preEmphasis: PRE_EMPHASIS,
  relativeFloor: RELATIVE_FLOOR,
  cmvn: 'clip',
  tapsMs: [...TAPS_MS],
  tapWidthMs: TAP_WIDTH_MS,
  bias: true,
});

export const FEATURE_DIM = TAPS_MS.length * CEPSTRA + 1;

/** Whether two feature configs describe the same feature vector. */
export function sameFeatureConfig(a: FeatureConfig, b: FeatureConfig): boolean {
  return JSON.stringify(canonicalConfig(a)) === JSON.stringify(canonicalConfig(b));
}

function canonicalConfig(c: FeatureConfig): unknown[] {
  return [
    c.winMs,
    c.hopMs,
    c.melBands,
    c.melMinHz,
    c.melMaxHz,
    c.cepstra,
    c.preEmphasis,
    c.relativeFloor,
    c.cmvn,
    Array.isArray(c.tapsMs) ? c.tapsMs : null,
    c.tapWidthMs,
    c.bias,
  ];
}

export interface AudioFeatures {
  /** Video frames. */
  frames: number;
  /** Length of each frame's vector (FEATURE_DIM; the last element is the bias 1). */
  dim: number;
  /** frames * dim, row-major. */
  x: Float32Array;
  /** 1 where the video frame holds speech. */
  speech: Uint8Array;
  /** RMS level of the frame's samples, dBFS. */
  loudnessDb: Float32Array;
  /**
   * Video frame rate the vectors were computed at (always set by audioFeatures; optional only so that
   * hand-made features in other tests stay valid: the mouth model then assumes 25).
   */
  fps?: number;
}

function hzToMel(hz: number): number {
  return 2595 * Math.log10(1 + hz / 700);
}

function melToHz(mel: number): number {
  return 700 * (10 ** (mel / 2595) - 1);
}

interface MelBank {
  /** Per band: first bin and weights for consecutive bins. */
  start: Int32Array;
  weights: Float64Array[];
}

function melBank(sampleRate: number, fftSize: number): MelBank {
  const maxHz = Math.min(MEL_MAX_HZ, sampleRate / 2);
  const lo = hzToMel(MEL_MIN_HZ);
  const hi = hzToMel(maxHz);
  const edges: number[] = [];
  for (let i = 0; i < MEL_BANDS + 2; i++) edges.push(melToHz(lo + ((hi - lo) * i) / (MEL_BANDS + 1)));
  const binHz = sampleRate / fftSize;
  const start = new Int32Array(MEL_BANDS);
  const weights: Float64Array[] = [];
  for (let b = 0; b < MEL_BANDS; b++) {
    const f0 = edges[b] as number;
    const f1 = edges[b + 1] as number;
    const f2 = edges[b + 2] as number;
    const k0 = Math.max(0, Math.ceil(f0 / binHz));
    const k2 = Math.min(fftSize / 2, Math.floor(f2 / binHz));
    const w: number[] = [];
    for (let k = k0; k <= k2; k++) {
      const f = k * binHz;
      w.push(f <= f1 ? (f - f0) / (f1 - f0) : (f2 - f) / (f2 - f1));
    }
    // Narrow low bands at coarse resolution may catch no bin: give them the nearest one.
    if (w.every((v) => v <= 0)) {
      start[b] = Math.min(fftSize / 2, Math.round(f1 / binHz));
      weights.push(Float64Array.of(1));
    } else {
      start[b] = k0;
      weights.push(Float64Array.from(w, (v) => Math.max(0, v)));
    }
  }
  return { start, weights };
}

/**
 * MFCCs of every 10 ms analysis frame (count = ceil(samples / hop)), c0..c(CEPSTRA-1) each, plus the
 * RMS level (dBFS) of each hop. Not normalized.
 */
export function mfcc(
  pcm: Float32Array,
  sampleRate: number,
): { count: number; ceps: Float32Array; levelsDb: Float32Array } {
  const hop = Math.max(1, Math.round((HOP_MS / 1000) * sampleRate));
  const win = Math.max(2, Math.round((WIN_MS / 1000) * sampleRate));
  let size = 1;
  while (size < win) size <<= 1;
  const fft = new Fft(size);
  const bank = melBank(sampleRate, size);
  const window = new Float64Array(win);
  for (let i = 0; i < win; i++) window[i] = 0.5 - 0.5 * Math.cos((2 * Math.PI * (i + 0.5)) / win);
  const dct = new Float64Array(CEPSTRA * MEL_BANDS);
  for (let c = 0; c < CEPSTRA; c++) {
    const scale = Math.sqrt((c === 0 ? 1 : 2) / MEL_BANDS);
    for (let b = 0; b < MEL_BANDS; b++)
      dct[c * MEL_BANDS + b] = scale * Math.cos((Math.PI * c * (b + 0.5)) / MEL_BANDS);
  }
  const n = pcm.length;
  const count = Math.ceil(n / hop);
  const ceps = new Float32Array(count * CEPSTRA);
  const levelsDb = new Float32Array(count);
  const re = new Float64Array(size);
  const im = new Float64Array(size);
  const logMel = new Float64Array(MEL_BANDS);
  // Band-energy floor relative to the clip's mean power (about 35 dB under a typical band's speech
  // energy), so the features do not depend on the recording level and low noise counts as silence;
  // an absolute floor keeps digital silence finite.
  let power = 0;
  for (let i = 0; i < n; i++) power += (pcm[i] as number) ** 2;
  power = n > 0 ? power / n : 0;
  const floor = Math.max(1e-13 * win * win, RELATIVE_FLOOR * power * win);
  const powA = new Float64Array(size / 2 + 1);
  const powB = new Float64Array(size / 2 + 1);
  const half = size / 2;
  const fill = (buf: Float64Array, j: number): void => {
    const s0 = Math.round(j * hop + hop / 2 - win / 2);
    for (let i = 0; i < win; i++) {
      const s = s0 + i;
      if (s < 0 || s >= n) continue;
      const cur = pcm[s] as number;
      const prev = s > 0 ? (pcm[s - 1] as number) : 0;
      buf[i] = (cur - PRE_EMPHASIS * prev) * (window[i] as number);
    }
  };
  const finish = (pow: Float64Array, j: number): void => {
    for (let b = 0; b < MEL_BANDS; b++) {
      const k0 = bank.start[b] as number;
      const w = bank.weights[b] as Float64Array;
      let e = 0;
      for (let i = 0; i < w.length; i++) e += (w[i] as number) * (pow[k0 + i] as number);
      logMel[b] = Math.log(e + floor);
    }
    for (let c = 0; c < CEPSTRA; c++) {
      let acc = 0;
      const row = c * MEL_BANDS;
      for (let b = 0; b < MEL_BANDS; b++) acc += (dct[row + b] as number) * (logMel[b] as number);
      ceps[j * CEPSTRA + c] = acc;
    }
  };
  // Two real frames per complex FFT: frame j in the real part, frame j + 1 in the imaginary part.
  for (let j = 0; j < count; j += 2) {
    re.fill(0);
    im.fill(0);
    fill(re, j);
    const pair = j + 1 < count;
    if (pair) fill(im, j + 1);
    fft.forward(re, im);
    for (let k = 0; k <= half; k++) {
      const m = (size - k) & (size - 1);
      const xr = re[k] as number;
      const xi = im[k] as number;
      const yr = re[m] as number;
      const yi = im[m] as number;
      // A = (X[k] + conj(X[-k])) / 2, B = (X[k] - conj(X[-k])) / 2i
      const ar = 0.5 * (xr + yr);
      const ai = 0.5 * (xi - yi);
      const br = 0.5 * (xi + yi);
      const bi = -0.5 * (xr - yr);
      powA[k] = ar * ar + ai * ai;
      powB[k] = br * br + bi * bi;
    }
    finish(powA, j);
    if (pair) finish(powB, j + 1);
  }
  for (let j = 0; j < count; j++) {
    const h0 = j * hop;
    const h1 = Math.min(n, h0 + hop);
    let sum = 0;
    for (let s = h0; s < h1; s++) {
      const v = pcm[s] as number;
      sum += v * v;
    }
    levelsDb[j] = toDb(h1 > h0 ? Math.sqrt(sum / (h1 - h0)) : 0);
  }
  return { count, ceps, levelsDb };
}

/**
 * Hysteresis energy VAD over 10 ms levels (see the file comment). Returns 1 per speech frame.
 */
export function vad10ms(levelsDb: Float32Array): Uint8Array {
  const n = levelsDb.length;
  const out = new Uint8Array(n);
  if (n === 0) return out;
  const floor = percentile(levelsDb, 10);
  const on = Math.max(floor + VAD_ON_DB, VAD_ABS_ON_DB);
  const off = Math.max(floor + VAD_OFF_DB, VAD_ABS_OFF_DB);
  let state = 0;
  for (let j = 0; j < n; j++) {
    const l = levelsDb[j] as number;
    state = state ? (l > off ? 1 : 0) : l > on ? 1 : 0;
    out[j] = state;
  }
  // Fill short gaps, then drop short runs.
  let last = -1;
  for (let j = 0; j < n; j++) {
    if (out[j] !== 1) continue;
    if (last >= 0 && j - last - 1 > 0 && j - last - 1 < VAD_MAX_GAP) out.fill(1, last + 1, j);
    last = j;
  }
  let j = 0;
  while (j < n) {
    if (out[j] !== 1) {
      j++;
      continue;
    }
    let end = j;
    while (end < n && out[end] === 1) end++;
    if (end - j < VAD_MIN_RUN) out.fill(0, j, end);
    j = end;
  }
  return out;
}

/** Analysis frames whose centres lie in [t0, t1) seconds: [first, end). */
function frameRange(t0: number, t1: number): [number, number] {
  const hop = HOP_MS / 1000;
  // centre_j = (j + 0.5) * hop >= t0  <=>  j >= t0 / hop - 0.5
  const first = Math.ceil(t0 / hop - 0.5 - 1e-9);
  const end = Math.ceil(t1 / hop - 0.5 - 1e-9);
  return [first, end];
}

/**
 * Per-video-frame features of `pcm` for `frames` frames at `fps` (video frame k covers
 * [k / fps, (k + 1) / fps)); frames past the audio's end see its last analysis frames and no speech.
 */
export function audioFeatures(
  pcm: Float32Array,
  sampleRate: number,
  fps: number,
  frames: number,
): AudioFeatures {
  if (!(sampleRate >= 8000)) throw new RangeError(`audioFeatures: sample rate ${sampleRate} is too low`);
  if (!(fps > 0)) throw new RangeError(`audioFeatures: bad fps ${fps}`);
  if (!Number.isInteger(frames) || frames < 0)
    throw new RangeError(`audioFeatures: bad frame count ${frames}`);
  const { count, ceps, levelsDb } = mfcc(pcm, sampleRate);
  const dim = FEATURE_DIM;
  const x = new Float32Array(frames * dim);
  const speech = new Uint8Array(frames);
  const loudnessDb = new Float32Array(frames);
  // Loudness from the samples themselves.
  for (let k = 0; k < frames; k++) {
    const s0 = Math.min(pcm.length, Math.round((k * sampleRate) / fps));
    const s1 = Math.min(pcm.length, Math.round(((k + 1) * sampleRate) / fps));
    let sum = 0;
    for (let s = s0; s < s1; s++) {
      const v = pcm[s] as number;
      sum += v * v;
    }
    loudnessDb[k] = toDb(s1 > s0 ? Math.sqrt(sum / (s1 - s0)) : 0);
  }
  if (count === 0) {
    for (let k = 0; k < frames; k++) x[k * dim + dim - 1] = 1;
    return { frames, dim, x, speech, loudnessDb, fps };
  }
  // CMVN over the clip.
  const vad = vad10ms(levelsDb);
  const mean = new Float64Array(CEPSTRA);
  const sq = new Float64Array(CEPSTRA);
  const used = count;
  for (let j = 0; j < count; j++) {
    for (let c = 0; c < CEPSTRA; c++) {
      const v = ceps[j * CEPSTRA + c] as number;
      mean[c] = (mean[c] as number) + v;
      sq[c] = (sq[c] as number) + v * v;
    }
  }
  const inv = new Float64Array(CEPSTRA);
  for (let c = 0; c < CEPSTRA; c++) {
    const m = (mean[c] as number) / used;
    const variance = Math.max(0, (sq[c] as number) / used - m * m);
    mean[c] = m;
    inv[c] = 1 / Math.sqrt(variance + 1e-6);
  }
  // Prefix sums of the normalized cepstra (float64) for tap means.
  const cum = new Float64Array((count + 1) * CEPSTRA);
  for (let j = 0; j < count; j++) {
    for (let c = 0; c < CEPSTRA; c++) {
      const v = ((ceps[j * CEPSTRA + c] as number) - (mean[c] as number)) * (inv[c] as number);
      cum[(j + 1) * CEPSTRA + c] = (cum[j * CEPSTRA + c] as number) + v;
    }
  }
  const vadCum = new Int32Array(count + 1);
  for (let j = 0; j < count; j++) vadCum[j + 1] = (vadCum[j] as number) + (vad[j] as number);
  const halfTap = TAP_WIDTH_MS / 2000;
  for (let k = 0; k < frames; k++) {
    const centre = (k + 0.5) / fps;
    const row = k * dim;
    for (let t = 0; t < TAPS_MS.length; t++) {
      const tc = centre + (TAPS_MS[t] as number) / 1000;
      let [a, b] = frameRange(tc - halfTap, tc + halfTap);
      a = Math.min(Math.max(a, 0), count - 1);
      b = Math.min(Math.max(b, a + 1), count);
      const scale = 1 / (b - a);
      const out = row + t * CEPSTRA;
      for (let c = 0; c < CEPSTRA; c++)
        x[out + c] = ((cum[b * CEPSTRA + c] as number) - (cum[a * CEPSTRA + c] as number)) * scale;
    }
    x[row + dim - 1] = 1;
    const [a0, b0] = frameRange(k / fps, (k + 1) / fps);
    const a = Math.max(0, a0);
    const b = Math.min(count, b0);
    if (b > a) speech[k] = 2 * ((vadCum[b] as number) - (vadCum[a] as number)) >= b - a ? 1 : 0;
  }
  return { frames, dim, x, speech, loudnessDb, fps };
}
