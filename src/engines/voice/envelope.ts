/**
 * Speaker envelope analysis for voice conversion (convert.ts). Speech frames (energy VAD from dsp.ts)
 * are analysed on a mel filterbank (40 triangular bands, 60-7600 Hz, log power) and turned into
 * cepstra (orthonormal DCT-II, c0..c19). What is kept is small enough for VoiceProfile.extra as JSON:
 * - LITE and PRO: the long-term mean and standard deviation of every cepstrum and of every mel band
 *   (the speaker's average timbre and how much it moves), and a formant-scale estimate (the median
 *   spectral centroid of speech frames between 250 and 4000 Hz).
 * - a codebook of the speaker's own frame envelopes: k-means centroids of the mean-removed cepstra
 *   c0..c19 (c0 = the frame's log energy relative to the speaker's mean) with their share of the
 *   frames, for frame-wise conversion: up to 512 entries for PRO (about 70 KB of JSON), 128 for LITE
 *   (about 18 KB), at most one per 4 speech frames (the long-term statistics alone moved the eval's
 *   identification only from 0.09 to 0.17; 32 entries for LITE and 128 for PRO identified less).
 * The same analysis (MelAnalyzer) runs at conversion time at the synthesizer's sample rate.
 */
import type { VoiceTier } from '../../domain/voice.ts';
import { detectSpeech } from '../audio/dsp.ts';
import { Fft } from '../audio/fft.ts';

export const ENVELOPE_VERSION = 1;
export const MEL_BANDS = 40;
export const MEL_LOW_HZ = 60;
export const MEL_HIGH_HZ = 7600;
/** Cepstra kept per frame, c0 included. */
export const CEPS = 20;
/** Codebook size for PRO (fewer when the speech is short). */
export const PRO_CODEBOOK_SIZE = 512;
/** Codebook size for LITE (0: none): a few typical envelopes, a few KB of JSON. */
export const LITE_CODEBOOK_SIZE = 128;
/** Centroid range for the formant-scale estimate, Hz. */
const CENTROID_LOW_HZ = 250;
const CENTROID_HIGH_HZ = 4000;
/** Power floor so that log stays finite in digital silence. */
const POWER_FLOOR = 1e-12;

/** JSON-safe speaker description; stored as VoiceProfile.extra.envelope. */
export interface SpeakerEnvelope {
  version: number;
  tier: VoiceTier;
  bands: number;
  ceps: number;
  lowHz: number;
  highHz: number;
  /** Speech frames analysed. */
  frames: number;
  /** Mean and standard deviation of each cepstrum c0..c(ceps-1) over speech frames. */
  cepMean: number[];
  cepStd: number[];
  /** Mean and standard deviation of each mel band's log power. */
  bandMean: number[];
  bandStd: number[];
  /** Median spectral centroid (250-4000 Hz) of speech frames, Hz: a formant-scale estimate. */
  centroidHz: number;
  /** Frame codebook: k-means centroids of mean-removed cepstra c0.., and their share of the frames. */
  codebook?: { centroids: number[][]; weights: number[] };
}

export function hzToMel(hz: number): number {
  return 2595 * Math.log10(1 + hz / 700);
}

export function melToHz(mel: number): number {
  return 700 * (10 ** (mel / 2595) - 1);
}

/**
 * Short-time analysis on the mel filterbank at a given sample rate: Hann window of `winLen` samples
 * in an `fftSize` FFT; log band powers normalised for window and resolution so that two rates give
 * comparable values; cepstra by an orthonormal DCT; and the mapping of per-band log gains back to
 * FFT bins (linear interpolation between band centres).
 */
export class MelAnalyzer {
  readonly fft: Fft;
  readonly window: Float64Array;
  readonly bins: number;
  readonly binHz: number;
  /** Per band: first bin and weights. */
  private readonly bandStart: Int32Array;
  private readonly bandWeights: Float64Array[];
  /** Band centres, Hz. */
  readonly centresHz: Float64Array;
  /** DCT rows c over bands (row-major, ceps x bands). */
  private readonly dct: Float64Array;
  /** Per bin: lower band, upper band and weight of the upper one for gain interpolation. */
  private readonly gainLo: Int32Array;
  private readonly gainHi: Int32Array;
  private readonly gainW: Float64Array;
  private readonly scale: number;
  private readonly centroidLo: number;
  private readonly centroidHi: number;

  constructor(
    readonly sampleRate: number,
    readonly fftSize: number,
    readonly winLen: number = fftSize,
    readonly bands: number = MEL_BANDS,
    readonly ceps: number = CEPS,
    /** 'sqrt-hann': the square root of Hann, for analysis and resynthesis at hop fftSize / 2. */
    windowKind: 'hann' | 'sqrt-hann' = 'hann',
  ) {
    if (winLen > fftSize) throw new RangeError('window longer than the FFT');
    this.fft = new Fft(fftSize);
    this.bins = fftSize / 2 + 1;
    this.binHz = sampleRate / fftSize;
    this.window = new Float64Array(winLen);
    let sumSq = 0;
    for (let i = 0; i < winLen; i++) {
      const hann = 0.5 - 0.5 * Math.cos((2 * Math.PI * i) / winLen);
      const w = windowKind === 'hann' ? hann : Math.sqrt(hann);
      this.window[i] = w;
      sumSq += w * w;
    }
    // Power per bin as the signal's mean square, times the bin width: a density integral.
    this.scale = this.binHz / sumSq / 1000;
    const highHz = Math.min(MEL_HIGH_HZ, sampleRate / 2);
    const lowMel = hzToMel(MEL_LOW_HZ);
    const highMel = hzToMel(highHz);
    const edges: number[] = [];
    for (let i = 0; i < bands + 2; i++) edges.push(melToHz(lowMel + ((highMel - lowMel) * i) / (bands + 1)));
    this.bandStart = new Int32Array(bands);
    this.bandWeights = [];
    this.centresHz = new Float64Array(bands);
    for (let b = 0; b < bands; b++) {
      const left = edges[b] as number;
      const centre = edges[b + 1] as number;
      const right = edges[b + 2] as number;
      this.centresHz[b] = centre;
      const first = Math.floor(left / this.binHz) + 1;
      const last = Math.min(this.bins - 1, Math.ceil(right / this.binHz) - 1);
      const w: number[] = [];
      for (let k = first; k <= last; k++) {
        const hz = k * this.binHz;
        w.push(hz <= centre ? (hz - left) / (centre - left) : (right - hz) / (right - centre));
      }
      // A band narrower than one bin still reads its nearest bin.
      if (w.length === 0) {
        this.bandStart[b] = Math.min(this.bins - 1, Math.round(centre / this.binHz));
        this.bandWeights.push(Float64Array.of(1));
      } else {
        this.bandStart[b] = first;
        this.bandWeights.push(Float64Array.from(w.map((x) => Math.max(0, x))));
      }
    }
    this.dct = new Float64Array(ceps * bands);
    for (let c = 0; c < ceps; c++) {
      const s = c === 0 ? Math.sqrt(1 / bands) : Math.sqrt(2 / bands);
      for (let b = 0; b < bands; b++)
        this.dct[c * bands + b] = s * Math.cos((Math.PI * c * (b + 0.5)) / bands);
    }
    this.gainLo = new Int32Array(this.bins);
    this.gainHi = new Int32Array(this.bins);
    this.gainW = new Float64Array(this.bins);
    for (let k = 0; k < this.bins; k++) {
      const hz = k * this.binHz;
      let hi = 0;
      while (hi < bands && (this.centresHz[hi] as number) < hz) hi++;
      if (hi === 0) {
        this.gainLo[k] = 0;
        this.gainHi[k] = 0;
      } else if (hi === bands) {
        this.gainLo[k] = bands - 1;
        this.gainHi[k] = bands - 1;
      } else {
        const a = this.centresHz[hi - 1] as number;
        const c = this.centresHz[hi] as number;
        this.gainLo[k] = hi - 1;
        this.gainHi[k] = hi;
        this.gainW[k] = (hz - a) / (c - a);
      }
    }
    this.centroidLo = Math.max(1, Math.round(CENTROID_LOW_HZ / this.binHz));
    this.centroidHi = Math.min(this.bins - 1, Math.round(CENTROID_HIGH_HZ / this.binHz));
  }

  /** Windows pcm[start .. start + winLen) (zeros beyond the end) into re/im, FFT'd. */
  spectrum(pcm: Float32Array, start: number, re: Float64Array, im: Float64Array): void {
    re.fill(0);
    im.fill(0);
    const n = Math.min(this.winLen, pcm.length - start);
    for (let i = 0; i < n; i++) re[i] = (pcm[start + i] as number) * (this.window[i] as number);
    this.fft.forward(re, im);
  }

  /** Bin powers |X|^2 of a spectrum into `power` (length bins). */
  power(re: Float64Array, im: Float64Array, power: Float64Array): void {
    for (let k = 0; k < this.bins; k++) {
      const r = re[k] as number;
      const j = im[k] as number;
      power[k] = r * r + j * j;
    }
  }

  /** Log band powers of bin powers. */
  logMel(power: Float64Array, out: Float64Array): void {
    for (let b = 0; b < this.bands; b++) {
      const w = this.bandWeights[b] as Float64Array;
      const s0 = this.bandStart[b] as number;
      let sum = 0;
      for (let i = 0; i < w.length; i++) sum += (w[i] as number) * (power[s0 + i] as number);
      out[b] = Math.log(Math.max(sum * this.scale, POWER_FLOOR));
    }
  }

  /** Cepstra c0..c(ceps-1) of log band powers. */
  toCeps(logMel: Float64Array, out: Float64Array): void {
    const B = this.bands;
    for (let c = 0; c < this.ceps; c++) {
      let sum = 0;
      for (let b = 0; b < B; b++) sum += (this.dct[c * B + b] as number) * (logMel[b] as number);
      out[c] = sum;
    }
  }

  /** Log band values of cepstra (the smooth part: the truncated inverse DCT). */
  fromCeps(ceps: Float64Array, out: Float64Array): void {
    const B = this.bands;
    out.fill(0);
    for (let c = 0; c < this.ceps; c++) {
      const v = ceps[c] as number;
      if (v === 0) continue;
      for (let b = 0; b < B; b++) out[b] = (out[b] as number) + (this.dct[c * B + b] as number) * v;
    }
  }

  /** Per-bin amplitude gains of per-band log-power changes. */
  binGains(bandLogGain: Float64Array, out: Float64Array): void {
    for (let k = 0; k < this.bins; k++) {
      const lo = bandLogGain[this.gainLo[k] as number] as number;
      const hi = bandLogGain[this.gainHi[k] as number] as number;
      const w = this.gainW[k] as number;
      out[k] = Math.exp(0.5 * (lo + (hi - lo) * w));
    }
  }

  /** Power-weighted mean frequency between 250 and 4000 Hz, Hz; NaN for silence. */
  centroid(power: Float64Array): number {
    let num = 0;
    let den = 0;
    for (let k = this.centroidLo; k <= this.centroidHi; k++) {
      const p = power[k] as number;
      num += p * k;
      den += p;
    }
    return den > 0 ? (num / den) * this.binHz : Number.NaN;
  }
}

/** Deterministic RNG for k-means (mulberry32). */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * k-means (k-means++ start, Lloyd iterations) of `count` rows of `dim` values. Returns the centroids
 * (row-major) and the share of rows in each; empty clusters are dropped.
 */
export function kmeans(
  data: Float64Array,
  count: number,
  dim: number,
  k: number,
  iterations = 15,
  seed = 1,
): { centroids: Float64Array; weights: Float64Array; k: number } {
  const random = rng(seed);
  k = Math.max(1, Math.min(k, count));
  const cent = new Float64Array(k * dim);
  const d2 = new Float64Array(count).fill(Number.POSITIVE_INFINITY);
  const dist = (row: number, c: number): number => {
    let s = 0;
    for (let d = 0; d < dim; d++) {
      const x = (data[row * dim + d] as number) - (cent[c * dim + d] as number);
      s += x * x;
    }
    return s;
  };
  // k-means++.
  let first = Math.floor(random() * count);
  cent.set(data.subarray(first * dim, first * dim + dim), 0);
  for (let c = 1; c < k; c++) {
    let total = 0;
    for (let r = 0; r < count; r++) {
      const v = Math.min(d2[r] as number, dist(r, c - 1));
      d2[r] = v;
      total += v;
    }
    let pick = random() * total;
    first = count - 1;
    for (let r = 0; r < count; r++) {
      pick -= d2[r] as number;
      if (pick <= 0) {
        first = r;
        break;
      }
    }
    cent.set(data.subarray(first * dim, first * dim + dim), c * dim);
  }
  const assign = new Int32Array(count);
  const sums = new Float64Array(k * dim);
  const sizes = new Float64Array(k);
  for (let it = 0; it < iterations; it++) {
    let changed = 0;
    for (let r = 0; r < count; r++) {
      let best = 0;
      let bestD = Number.POSITIVE_INFINITY;
      for (let c = 0; c < k; c++) {
        const v = dist(r, c);
        if (v < bestD) {
          bestD = v;
          best = c;
        }
      }
      if (assign[r] !== best || it === 0) changed++;
      assign[r] = best;
    }
    sums.fill(0);
    sizes.fill(0);
    for (let r = 0; r < count; r++) {
      const c = assign[r] as number;
      sizes[c] = (sizes[c] as number) + 1;
      for (let d = 0; d < dim; d++)
        sums[c * dim + d] = (sums[c * dim + d] as number) + (data[r * dim + d] as number);
    }
    for (let c = 0; c < k; c++) {
      const n = sizes[c] as number;
      if (n === 0) continue;
      for (let d = 0; d < dim; d++) cent[c * dim + d] = (sums[c * dim + d] as number) / n;
    }
    if (changed === 0) break;
  }
  const keep: number[] = [];
  for (let c = 0; c < k; c++) if ((sizes[c] as number) > 0) keep.push(c);
  const centroids = new Float64Array(keep.length * dim);
  const weights = new Float64Array(keep.length);
  keep.forEach((c, i) => {
    centroids.set(cent.subarray(c * dim, c * dim + dim), i * dim);
    weights[i] = (sizes[c] as number) / count;
  });
  return { centroids, weights, k: keep.length };
}

/** Frame-wise log-mel and cepstra of a signal's frames; `mask` (per frame) picks frames, null = all. */
export interface FrameAnalysis {
  count: number;
  logMel: Float64Array;
  ceps: Float64Array;
  centroids: Float64Array;
}

/** Analysis frame and hop at 16 kHz (25 ms / 10 ms, like the identifier). */
const TRAIN_RATE = 16_000;
const TRAIN_WIN = 400;
const TRAIN_FFT = 512;
const TRAIN_HOP = 160;
/** At most this many frames go into k-means (evenly spaced). */
const MAX_KMEANS_FRAMES = 8000;

function analyseFrames(pcm: Float32Array, an: MelAnalyzer, hop: number, keep: (start: number) => boolean) {
  const starts: number[] = [];
  for (let s = 0; s + an.winLen <= pcm.length; s += hop) if (keep(s)) starts.push(s);
  const count = starts.length;
  const logMel = new Float64Array(count * an.bands);
  const ceps = new Float64Array(count * an.ceps);
  const centroids = new Float64Array(count);
  const re = new Float64Array(an.fftSize);
  const im = new Float64Array(an.fftSize);
  const power = new Float64Array(an.bins);
  starts.forEach((s, f) => {
    an.spectrum(pcm, s, re, im);
    an.power(re, im, power);
    const lm = logMel.subarray(f * an.bands, (f + 1) * an.bands);
    an.logMel(power, lm);
    an.toCeps(lm, ceps.subarray(f * an.ceps, (f + 1) * an.ceps));
    centroids[f] = an.centroid(power);
  });
  return { count, logMel, ceps, centroids };
}

function meanStd(data: Float64Array, count: number, dim: number): { mean: number[]; std: number[] } {
  const mean = new Array<number>(dim).fill(0);
  const sq = new Array<number>(dim).fill(0);
  for (let r = 0; r < count; r++) {
    for (let d = 0; d < dim; d++) {
      const v = data[r * dim + d] as number;
      mean[d] = (mean[d] as number) + v;
      sq[d] = (sq[d] as number) + v * v;
    }
  }
  const n = Math.max(1, count);
  const std = mean.map((m, d) => Math.sqrt(Math.max(1e-6, (sq[d] as number) / n - (m / n) ** 2)));
  return { mean: mean.map((m) => m / n), std };
}

const r4 = (x: number): number => Math.round(x * 1e4) / 1e4 + 0;
const r3 = (x: number): number => Math.round(x * 1e3) / 1e3 + 0;

/**
 * Frames of `pcm` inside speech: the VAD's speech frames, and among those the ones within 35 dB of the
 * loudest, so that pauses and breath do not shape the envelope.
 */
export function speechFrameFilter(
  pcm: Float32Array,
  sampleRate: number,
): (start: number, len: number) => boolean {
  const vad = detectSpeech(pcm, sampleRate);
  let max = -Infinity;
  vad.speech.forEach((s, f) => {
    if (s === 1) max = Math.max(max, vad.levelsDb[f] as number);
  });
  const floor = max - 35;
  return (start, len) => {
    const f = Math.floor((start + len / 2) / vad.frameLen);
    return vad.speech[f] === 1 && (vad.levelsDb[f] as number) >= floor;
  };
}

/** The speaker description of 16 kHz mono speech (see the module comment). */
export function analyzeSpeaker(
  pcm16k: Float32Array,
  tier: VoiceTier,
  opts: { codebookSize?: number } = {},
): SpeakerEnvelope {
  const an = new MelAnalyzer(TRAIN_RATE, TRAIN_FFT, TRAIN_WIN);
  const isSpeech = speechFrameFilter(pcm16k, TRAIN_RATE);
  const frames = analyseFrames(pcm16k, an, TRAIN_HOP, (s) => isSpeech(s, TRAIN_WIN));
  return envelopeOf(frames, an, tier, opts.codebookSize);
}

export function envelopeOf(
  frames: FrameAnalysis,
  an: MelAnalyzer,
  tier: VoiceTier,
  codebookSize?: number,
): SpeakerEnvelope {
  const { count } = frames;
  const cep = meanStd(frames.ceps, count, an.ceps);
  const band = meanStd(frames.logMel, count, an.bands);
  const cents = Array.from(frames.centroids)
    .filter((x) => Number.isFinite(x))
    .sort((a, b) => a - b);
  const envelope: SpeakerEnvelope = {
    version: ENVELOPE_VERSION,
    tier,
    bands: an.bands,
    ceps: an.ceps,
    lowHz: MEL_LOW_HZ,
    highHz: MEL_HIGH_HZ,
    frames: count,
    cepMean: cep.mean.map(r4),
    cepStd: cep.std.map(r4),
    bandMean: band.mean.map(r4),
    bandStd: band.std.map(r4),
    centroidHz: r3(cents[Math.floor(cents.length / 2)] ?? 0),
  };
  const size = codebookSize ?? (tier === 'PRO' ? PRO_CODEBOOK_SIZE : LITE_CODEBOOK_SIZE);
  if (size > 0 && count > 0) {
    const step = Math.max(1, count / MAX_KMEANS_FRAMES);
    const rows = Math.floor(count / step);
    const dim = an.ceps;
    const data = new Float64Array(rows * dim);
    for (let r = 0; r < rows; r++) {
      const src = Math.floor(r * step);
      for (let d = 0; d < dim; d++) {
        data[r * dim + d] = (frames.ceps[src * dim + d] as number) - (cep.mean[d] as number);
      }
    }
    const k = Math.min(size, Math.max(1, Math.floor(rows / 4)));
    const km = kmeans(data, rows, dim, k);
    const centroids: number[][] = [];
    for (let c = 0; c < km.k; c++)
      centroids.push(Array.from(km.centroids.subarray(c * dim, (c + 1) * dim), r3));
    envelope.codebook = { centroids, weights: Array.from(km.weights, r4) };
  }
  return envelope;
}

/** The envelope stored in a profile's extra, if it is one. */
export function envelopeOfProfile(extra: Record<string, unknown> | undefined): SpeakerEnvelope | null {
  const e = extra?.['envelope'] as SpeakerEnvelope | undefined;
  if (!e || typeof e !== 'object' || e.version !== ENVELOPE_VERSION) return null;
  if (!Array.isArray(e.cepMean) || e.cepMean.length !== CEPS || e.bands !== MEL_BANDS) return null;
  return e;
}
