/**
 * MFCC features for the speaker identifier of the voice eval: 16 kHz mono float PCM -> 25 ms Hamming
 * frames every 10 ms (pre-emphasis 0.97), power spectrum by the project's radix-2 FFT (src/engines/audio/fft.ts), a triangular mel filterbank,
 * log, DCT-II. Optional deltas, an energy-based choice of speech frames and cepstral mean normalisation
 * (CMN over the chosen frames, which removes a fixed recording channel). Pure functions, no I/O.
 */

import { Fft } from '../../src/engines/audio/fft.ts';

/** A row-major matrix of `count` feature vectors of `dim` values each. */
export interface FrameMatrix {
  readonly data: Float64Array;
  readonly count: number;
  readonly dim: number;
}

/** The smallest power of two >= n (n >= 1). */
export function nextPow2(n: number): number {
  let p = 1;
  while (p < n) p <<= 1;
  return p;
}

/** HTK mel scale. */
export function hzToMel(hz: number): number {
  return 2595 * Math.log10(1 + hz / 700);
}

export function melToHz(mel: number): number {
  return 700 * (10 ** (mel / 2595) - 1);
}

/**
 * Triangular filters equally spaced on the mel scale between lowHz and highHz, as weights over the
 * `fftSize / 2 + 1` power-spectrum bins (row-major: band b at b * bins). Peaks are 1.
 */
export function melFilterbank(
  fftSize: number,
  sampleRate: number,
  bands: number,
  lowHz: number,
  highHz: number,
): Float64Array {
  const bins = fftSize / 2 + 1;
  const weights = new Float64Array(bands * bins);
  const lowMel = hzToMel(lowHz);
  const highMel = hzToMel(highHz);
  const edges: number[] = [];
  for (let i = 0; i < bands + 2; i++) edges.push(melToHz(lowMel + ((highMel - lowMel) * i) / (bands + 1)));
  for (let b = 0; b < bands; b++) {
    const left = edges[b] as number;
    const centre = edges[b + 1] as number;
    const right = edges[b + 2] as number;
    for (let k = 0; k < bins; k++) {
      const hz = (k * sampleRate) / fftSize;
      let w = 0;
      if (hz > left && hz <= centre) w = (hz - left) / (centre - left);
      else if (hz > centre && hz < right) w = (right - hz) / (right - centre);
      weights[b * bins + k] = w;
    }
  }
  return weights;
}

/** Orthonormal DCT-II matrix: row c (0..ceps-1) over `bands` inputs. */
export function dctMatrix(bands: number, ceps: number): Float64Array {
  const m = new Float64Array(ceps * bands);
  for (let c = 0; c < ceps; c++) {
    const scale = c === 0 ? Math.sqrt(1 / bands) : Math.sqrt(2 / bands);
    for (let b = 0; b < bands; b++) m[c * bands + b] = scale * Math.cos((Math.PI * c * (b + 0.5)) / bands);
  }
  return m;
}

export interface MfccOptions {
  /** Input sample rate (default 16000). */
  sampleRate?: number;
  /** Frame length, seconds (default 0.025). */
  frameSec?: number;
  /** Frame hop, seconds (default 0.01). */
  hopSec?: number;
  /** Pre-emphasis coefficient (default 0.97; 0 disables). */
  preEmphasis?: number;
  /** Mel bands (default 40). */
  bands?: number;
  /** Cepstra computed, c0 included (default 20). */
  ceps?: number;
  /** Drop c0 (the log energy) from the output (default true: loudness is not the voice). */
  dropC0?: boolean;
  /** Filterbank range, Hz (defaults 60 and 7600). */
  lowHz?: number;
  highHz?: number;
  /** Append delta coefficients over +-deltaWindow frames (default true, window 2). */
  deltas?: boolean;
  deltaWindow?: number;
  /** Keep only the frames chosen by selectSpeechFrames (default true). */
  selectSpeech?: boolean;
  /** Options of the frame selection. */
  selection?: SpeechSelectionOptions;
  /** Subtract the mean of the kept frames from every cepstrum (default true). */
  cmn?: boolean;
}

/** Log mel energies are floored here so that digital silence stays finite. */
const LOG_FLOOR = 1e-10;

export interface SpeechSelectionOptions {
  /** Keep frames no more than this far below the loudest frame (default 30 dB). */
  rangeDb?: number;
  /** ...and at least this far above the noise floor, the 10th percentile of frame levels (default 6 dB). */
  marginDb?: number;
  /** ...and above this absolute level (default -60 dBFS). */
  minLevelDb?: number;
}

/**
 * Energy-based speech frames: a frame is kept when its level is within `rangeDb` of the loudest frame,
 * `marginDb` above the noise floor (but no more than `marginDb` below the loudest frame, so that a
 * signal without pauses keeps its frames) and above `minLevelDb`. Returns a 0/1 mask.
 */
export function selectSpeechFrames(levelsDb: Float64Array, opts: SpeechSelectionOptions = {}): Uint8Array {
  const rangeDb = opts.rangeDb ?? 30;
  const marginDb = opts.marginDb ?? 6;
  const minLevelDb = opts.minLevelDb ?? -60;
  const mask = new Uint8Array(levelsDb.length);
  if (levelsDb.length === 0) return mask;
  let max = -Infinity;
  for (const v of levelsDb) max = Math.max(max, v);
  const sorted = Float64Array.from(levelsDb).sort();
  const floor = sorted[Math.floor(0.1 * (sorted.length - 1))] as number;
  // A signal without pauses has its "floor" at speech level: the margin then never rises above the peak.
  const threshold = Math.max(max - rangeDb, Math.min(floor + marginDb, max - marginDb), minLevelDb);
  for (let f = 0; f < levelsDb.length; f++) mask[f] = (levelsDb[f] as number) >= threshold ? 1 : 0;
  return mask;
}

/** Delta coefficients (regression over +-window frames, edges repeated) of every column of `m`. */
export function deltas(m: FrameMatrix, window = 2): FrameMatrix {
  const { count, dim, data } = m;
  const out = new Float64Array(count * dim);
  let norm = 0;
  for (let k = 1; k <= window; k++) norm += 2 * k * k;
  for (let t = 0; t < count; t++) {
    for (let k = 1; k <= window; k++) {
      const next = Math.min(count - 1, t + k) * dim;
      const prev = Math.max(0, t - k) * dim;
      for (let d = 0; d < dim; d++) {
        out[t * dim + d] =
          (out[t * dim + d] as number) + k * ((data[next + d] as number) - (data[prev + d] as number));
      }
    }
    for (let d = 0; d < dim; d++) out[t * dim + d] = (out[t * dim + d] as number) / norm;
  }
  return { data: out, count, dim };
}

/** Subtracts each column's mean, in place. */
export function meanNormalize(m: FrameMatrix): void {
  const { count, dim, data } = m;
  if (count === 0) return;
  const mean = new Float64Array(dim);
  for (let t = 0; t < count; t++)
    for (let d = 0; d < dim; d++) mean[d] = (mean[d] as number) + (data[t * dim + d] as number);
  for (let d = 0; d < dim; d++) mean[d] = (mean[d] as number) / count;
  for (let t = 0; t < count; t++)
    for (let d = 0; d < dim; d++) data[t * dim + d] = (data[t * dim + d] as number) - (mean[d] as number);
}

/** Joins matrices of the same width column-wise: [a | b]. */
function hstack(a: FrameMatrix, b: FrameMatrix): FrameMatrix {
  if (a.count !== b.count) throw new RangeError('hstack: row counts differ');
  const dim = a.dim + b.dim;
  const data = new Float64Array(a.count * dim);
  for (let t = 0; t < a.count; t++) {
    data.set(a.data.subarray(t * a.dim, (t + 1) * a.dim), t * dim);
    data.set(b.data.subarray(t * b.dim, (t + 1) * b.dim), t * dim + a.dim);
  }
  return { data, count: a.count, dim };
}

/** The rows whose mask entry is 1. */
export function selectRows(m: FrameMatrix, mask: Uint8Array): FrameMatrix {
  let kept = 0;
  for (let t = 0; t < m.count; t++) if (mask[t] === 1) kept++;
  const data = new Float64Array(kept * m.dim);
  let row = 0;
  for (let t = 0; t < m.count; t++) {
    if (mask[t] !== 1) continue;
    data.set(m.data.subarray(t * m.dim, (t + 1) * m.dim), row * m.dim);
    row++;
  }
  return { data, count: kept, dim: m.dim };
}

/** Joins matrices of the same width row-wise. */
export function concatRows(parts: readonly FrameMatrix[]): FrameMatrix {
  const dim = parts[0]?.dim ?? 0;
  let count = 0;
  for (const p of parts) {
    if (p.dim !== dim) throw new RangeError('concatRows: widths differ');
    count += p.count;
  }
  const data = new Float64Array(count * dim);
  let offset = 0;
  for (const p of parts) {
    data.set(p.data, offset);
    offset += p.data.length;
  }
  return { data, count, dim };
}

export interface MfccResult {
  /** Chosen frames' features (cepstra, then deltas when asked). */
  features: FrameMatrix;
  /** Frames analysed before selection. */
  totalFrames: number;
  /** Level of every analysed frame, dBFS, and which were kept. */
  levelsDb: Float64Array;
  kept: Uint8Array;
}

/** The defaults of MfccOptions (selection: see SpeechSelectionOptions). */
export const MFCC_DEFAULTS = {
  sampleRate: 16000,
  frameSec: 0.025,
  hopSec: 0.01,
  preEmphasis: 0.97,
  bands: 40,
  ceps: 20,
  dropC0: true,
  lowHz: 60,
  highHz: 7600,
  deltas: true,
  deltaWindow: 2,
  selectSpeech: true,
  selection: { rangeDb: 30, marginDb: 6, minLevelDb: -60 },
  cmn: true,
} as const satisfies MfccOptions;

/** Every option with its default filled in. */
export function resolveMfccOptions(opts: MfccOptions = {}): Required<MfccOptions> {
  return {
    ...MFCC_DEFAULTS,
    ...Object.fromEntries(Object.entries(opts).filter(([, v]) => v !== undefined)),
    selection: { ...MFCC_DEFAULTS.selection, ...opts.selection },
  };
}

/** MFCC (+ deltas) of a mono signal; see MfccOptions for the defaults. */
export function mfcc(pcm: Float32Array, options: MfccOptions = {}): MfccResult {
  const opts = resolveMfccOptions(options);
  const sampleRate = opts.sampleRate;
  const frameLen = Math.round(opts.frameSec * sampleRate);
  const hop = Math.round(opts.hopSec * sampleRate);
  const preEmphasis = opts.preEmphasis;
  const bands = opts.bands;
  const ceps = opts.ceps;
  const dropC0 = opts.dropC0;
  const lowHz = opts.lowHz;
  const highHz = Math.min(opts.highHz, sampleRate / 2);
  const fftSize = nextPow2(frameLen);
  const bins = fftSize / 2 + 1;
  const fb = melFilterbank(fftSize, sampleRate, bands, lowHz, highHz);
  const dct = dctMatrix(bands, ceps);
  const window = new Float64Array(frameLen);
  for (let i = 0; i < frameLen; i++) window[i] = 0.54 - 0.46 * Math.cos((2 * Math.PI * i) / (frameLen - 1));

  const count = pcm.length >= frameLen ? 1 + Math.floor((pcm.length - frameLen) / hop) : 0;
  const outDim = dropC0 ? ceps - 1 : ceps;
  const cepstra = new Float64Array(count * outDim);
  const levelsDb = new Float64Array(count);
  const re = new Float64Array(fftSize);
  const im = new Float64Array(fftSize);
  const transform = new Fft(fftSize);
  const logMel = new Float64Array(bands);
  for (let f = 0; f < count; f++) {
    const start = f * hop;
    let energy = 0;
    for (let i = 0; i < frameLen; i++) {
      const x = pcm[start + i] as number;
      energy += x * x;
    }
    levelsDb[f] = energy > 0 ? Math.max(-120, 10 * Math.log10(energy / frameLen)) : -120;
    re.fill(0);
    im.fill(0);
    for (let i = 0; i < frameLen; i++) {
      const x = pcm[start + i] as number;
      const prev = start + i > 0 ? (pcm[start + i - 1] as number) : 0;
      re[i] = (x - preEmphasis * prev) * (window[i] as number);
    }
    transform.forward(re, im);
    for (let b = 0; b < bands; b++) {
      let sum = 0;
      const row = b * bins;
      for (let k = 0; k < bins; k++) {
        const w = fb[row + k] as number;
        if (w === 0) continue;
        const r = re[k] as number;
        const j = im[k] as number;
        sum += w * (r * r + j * j);
      }
      logMel[b] = Math.log(Math.max(sum, LOG_FLOOR));
    }
    for (let c = dropC0 ? 1 : 0, o = 0; c < ceps; c++, o++) {
      let sum = 0;
      for (let b = 0; b < bands; b++) sum += (dct[c * bands + b] as number) * (logMel[b] as number);
      cepstra[f * outDim + o] = sum;
    }
  }

  let all: FrameMatrix = { data: cepstra, count, dim: outDim };
  if (opts.deltas) all = hstack(all, deltas(all, opts.deltaWindow));
  const kept = opts.selectSpeech
    ? selectSpeechFrames(levelsDb, opts.selection)
    : new Uint8Array(count).fill(1);
  const features = selectRows(all, kept);
  if (opts.cmn) meanNormalize(features);
  return { features, totalFrames: count, levelsDb, kept };
}
