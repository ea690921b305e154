/**
 * Speaker conversion as a post-process on synthesized speech. An STFT (square-root Hann analysis and
 * synthesis windows, 512 points up to 24 kHz, hop 1/2, overlap-add) keeps every frame's fine structure
 * (the synthesizer's pitch and excitation) and gives it a new spectral envelope. The envelope is read
 * on a 40-band mel filterbank as cepstra c0..c19 (envelope.ts). Per frame:
 * 1. standardise c1..c19 with the source's statistics (the input's own speech frames when no source
 *    envelope is given) and give them the target's long-term mean and standard deviation;
 * 2. when the target has a codebook (512 entries for PRO, 128 for LITE), find the nearest entries to
 *    the standardised frame (c0 included, as relative loudness), and move the frame toward their
 *    softmax-weighted blend (the tiers use the single nearest) by `codebookWeight`; PRO instead picks
 *    one of each frame's 8 nearest entries by Viterbi so that the entries move as the input frames do
 *    (`trajectory`);
 * 3. the change (target minus source cepstra), averaged over +-smoothFrames, becomes smooth per-band
 *    log gains (truncated inverse DCT), interpolated to FFT bins and applied as gain = target / source;
 *    `refine` rounds re-measure the envelope after the gains and add what the filterbank smoothed away.
 * The loudness (c0) contour of the input is kept, and the output is scaled back to the input's RMS
 * (and under full scale by a plain gain).
 */
import type { VoiceTier } from '../../domain/voice.ts';
import { MelAnalyzer, speechFrameFilter } from './envelope.ts';
import type { SpeakerEnvelope } from './envelope.ts';

export interface ConvertOptions {
  /** PRO: weight of the codebook blend against the LITE mapping (0..1). */
  codebookWeight?: number;
  /** PRO: nearest codebook entries blended. */
  nearest?: number;
  /** PRO: softmax temperature over squared standardised distances (per dimension). */
  temperature?: number;
  /** Frames each side over which the envelope change is averaged. */
  smoothFrames?: number;
  /** Largest per-band change, dB (either way). */
  maxGainDb?: number;
  /** 0..1: how far the long-term mean envelope moves to the target's (the rest keeps the source's). */
  meanShift?: number;
  /** Scale on the target/source spread ratio (1 = match the target's spread). */
  spreadScale?: number;
  /** Correction rounds: re-measure the envelope after the gains and apply the remaining change. */
  refine?: number;
  /**
   * Match-confidence exponent (0: off). A frame whose nearest codebook distance d exceeds the piece's
   * reference distance (its `confidenceQuantile` over frames) moves only codebookWeight * (ref / d)^this
   * of the way: frames the codebook has a close analogue for take the speaker's envelope, frames it has
   * none for (another phone) keep more of their own.
   */
  confidence?: number;
  /** Quantile of the nearest-entry distances over the piece's frames used as the reference. */
  confidenceQuantile?: number;
  /**
   * Trajectory cost (0: off): each frame takes one of its `candidates` nearest entries, chosen by Viterbi
   * so that the entries move from frame to frame as the input does (squared standardised difference,
   * times this), not each frame's nearest on its own.
   */
  trajectory?: number;
  /** Candidates per frame for the trajectory search. */
  candidates?: number;
}

const DEFAULTS: Required<ConvertOptions> = {
  codebookWeight: 0.8,
  nearest: 3,
  temperature: 0.5,
  smoothFrames: 1,
  maxGainDb: 24,
  meanShift: 1,
  spreadScale: 1,
  refine: 1,
  confidence: 0,
  confidenceQuantile: 0.5,
  trajectory: 0,
  candidates: 8,
};

/**
 * Per-tier settings chosen on the voice eval (`npm run eval:voice`: 14 speakers, English by flite,
 * GMM-UBM identifier, pocketsphinx WER; 2026-12-07): each frame takes its single nearest codebook entry
 * (a blend of the 3 nearest keeps the words better but averages the speaker away: LITE 0.60 at WER 0.15)
 * and moves part of the way to it. How far trades similarity for intelligibility:
 *   LITE (128 entries): 0.7 -> identification 0.63 at WER 0.18; 0.75 -> 0.70 at 0.22; 0.8 -> 0.76 at 0.26.
 *   PRO (512 entries):  0.8 -> 0.77 at 0.24; 0.85 -> 0.82 at 0.27; 0.9 -> 0.82 at 0.30; 1 -> 0.82 at 0.36-0.41.
 * LITE takes the most similar setting within the WER target, PRO the least intelligibility lost for its
 * identification target. Also tried for PRO: a blend of the 2 nearest entries at 0.9 (0.69 at 0.33) and
 * smoothing the change over +-3 frames instead of +-2 (0.67 at 0.21). Tried and dropped: smoothing the entry choice over time (Viterbi, switch cost
 * 20: WER 0.55), a vocal-tract warp by the centroid ratio (identification down to 0.71), keeping c1..c4
 * unconverted (0.68).
 * 2026-12-08 (13 tuning speakers, PRO variants against PRO as before: id 0.736, LLR 0.152, WER 0.224):
 * trajectory 0.3 -> 0.769, LLR 0.186, WER 0.232 (kept); trajectory 1 -> 0.747 at WER 0.304; confidence 1
 * at weight 0.95 -> 0.648 at 0.205; both -> 0.659 at 0.223 (confidence dropped: below LITE's 0.670).
 */
export const TIER_DEFAULTS: Record<VoiceTier, ConvertOptions> = {
  LITE: { codebookWeight: 0.75, nearest: 1, smoothFrames: 2 },
  PRO: { codebookWeight: 0.85, nearest: 1, smoothFrames: 2, trajectory: 0.3, candidates: 8 },
};

/** Source statistics the conversion needs (from an envelope, or measured on the input). */
interface Stats {
  mean: Float64Array;
  std: Float64Array;
}

function statsOf(env: SpeakerEnvelope): Stats {
  return { mean: Float64Array.from(env.cepMean), std: Float64Array.from(env.cepStd) };
}

export function convertVoice(
  pcm: Float32Array,
  sampleRate: number,
  source: SpeakerEnvelope | null,
  target: SpeakerEnvelope,
  tier: VoiceTier,
  options: ConvertOptions = {},
): Float32Array {
  const o = { ...DEFAULTS, ...TIER_DEFAULTS[tier], ...options };
  const fftSize = sampleRate <= 24_000 ? 512 : 1024;
  const hop = fftSize / 2;
  const an = new MelAnalyzer(sampleRate, fftSize, fftSize, undefined, undefined, 'sqrt-hann');
  const C = an.ceps;
  const B = an.bands;
  const bins = an.bins;
  if (target.ceps !== C || target.bands !== B) throw new RangeError('convertVoice: envelope shape differs');
  const out = new Float32Array(pcm.length);
  if (pcm.length === 0) return out;

  // Frames start at -fftSize + hop so that every sample is covered by two frames.
  const first = -fftSize + hop;
  const frameCount = Math.ceil((pcm.length - first) / hop);
  const re = new Float64Array(fftSize);
  const im = new Float64Array(fftSize);
  const power = new Float64Array(bins);
  const lm = new Float64Array(B);
  const ceps = new Float64Array(frameCount * C);
  /** Half spectra of every frame (re, im interleaved), kept for resynthesis. */
  const spectra = new Float32Array(frameCount * bins * 2);
  const padded = new Float32Array(pcm.length + 2 * fftSize);
  padded.set(pcm, fftSize);
  const offset = fftSize; // padded index of pcm[0]

  // Pass 1: spectrum and envelope of every frame.
  for (let f = 0; f < frameCount; f++) {
    an.spectrum(padded, offset + first + f * hop, re, im);
    const base = f * bins * 2;
    for (let k = 0; k < bins; k++) {
      const r = re[k] as number;
      const j = im[k] as number;
      spectra[base + 2 * k] = r;
      spectra[base + 2 * k + 1] = j;
      power[k] = r * r + j * j;
    }
    an.logMel(power, lm);
    an.toCeps(lm, ceps.subarray(f * C, (f + 1) * C));
  }
  let src: Stats;
  if (source) src = statsOf(source);
  else {
    const isSpeech = speechFrameFilter(pcm, sampleRate);
    const mean = new Float64Array(C);
    const sq = new Float64Array(C);
    let n = 0;
    for (let f = 0; f < frameCount; f++) {
      const start = first + f * hop;
      if (start < 0 || start + fftSize > pcm.length || !isSpeech(start, fftSize)) continue;
      n++;
      for (let d = 0; d < C; d++) {
        const v = ceps[f * C + d] as number;
        mean[d] = (mean[d] as number) + v;
        sq[d] = (sq[d] as number) + v * v;
      }
    }
    if (n < 10) return pcm.slice();
    const std = new Float64Array(C);
    for (let d = 0; d < C; d++) {
      mean[d] = (mean[d] as number) / n;
      std[d] = Math.sqrt(Math.max(1e-6, (sq[d] as number) / n - (mean[d] as number) ** 2));
    }
    src = { mean, std };
  }
  const tgt = statsOf(target);

  // Codebook in standardised units.
  const book = target.codebook;
  const useBook = book !== undefined && book.centroids.length > 0 && o.codebookWeight > 0;
  const K = useBook ? book.centroids.length : 0;
  const zBook = new Float64Array(K * C);
  const rawBook = new Float64Array(K * C);
  for (let k = 0; k < K; k++) {
    const row = book?.centroids[k] ?? [];
    for (let d = 0; d < C; d++) {
      const v = row[d] ?? 0;
      rawBook[k * C + d] = v;
      zBook[k * C + d] = v / (tgt.std[d] as number);
    }
  }

  // Pass 2 (on cepstra): the change per frame, c1..c(C-1).
  const delta = new Float64Array(frameCount * C);
  const zAll = new Float64Array(frameCount * C);
  for (let f = 0; f < frameCount; f++) {
    for (let d = 0; d < C; d++) {
      zAll[f * C + d] = ((ceps[f * C + d] as number) - (src.mean[d] as number)) / (src.std[d] as number);
    }
  }
  // Candidates: every frame's N nearest entries (standardised squared distance), nearest first.
  const N = useBook ? Math.min(K, Math.max(1, o.nearest, o.trajectory > 0 ? o.candidates : 1)) : 0;
  const candIdx = new Int32Array(frameCount * N);
  const candD = new Float64Array(frameCount * N).fill(Number.POSITIVE_INFINITY);
  for (let f = 0; f < frameCount && N > 0; f++) {
    const at = f * N;
    const last = at + N - 1;
    for (let k = 0; k < K; k++) {
      let s = 0;
      for (let d = 0; d < C; d++) {
        const x = (zAll[f * C + d] as number) - (zBook[k * C + d] as number);
        s += x * x;
      }
      if (s >= (candD[last] as number)) continue;
      let j = last;
      while (j > at && (candD[j - 1] as number) > s) {
        candD[j] = candD[j - 1] as number;
        candIdx[j] = candIdx[j - 1] as number;
        j--;
      }
      candD[j] = s;
      candIdx[j] = k;
    }
  }
  // How far each frame moves toward the codebook: codebookWeight, less for poorly matched frames.
  const frameWeight = new Float64Array(frameCount).fill(o.codebookWeight);
  if (N > 0 && o.confidence > 0 && frameCount > 0) {
    const sorted = new Float64Array(frameCount);
    for (let f = 0; f < frameCount; f++) sorted[f] = candD[f * N] as number;
    sorted.sort();
    const ref = sorted[Math.min(frameCount - 1, Math.floor(o.confidenceQuantile * frameCount))] as number;
    for (let f = 0; f < frameCount; f++) {
      const d = candD[f * N] as number;
      if (d > ref && d > 0) frameWeight[f] = o.codebookWeight * (ref / d) ** o.confidence;
    }
  }
  // Trajectory: one entry per frame by Viterbi over the candidates, the cost of a step being how far
  // the entries' movement differs from the input's own (so the input's transitions survive).
  const chosen = new Int32Array(frameCount);
  if (N > 1 && o.trajectory > 0 && frameCount > 1) {
    const cost = new Float64Array(frameCount * N);
    const back = new Int32Array(frameCount * N);
    for (let j = 0; j < N; j++) cost[j] = candD[j] as number;
    for (let f = 1; f < frameCount; f++) {
      for (let j = 0; j < N; j++) {
        const ej = candIdx[f * N + j] as number;
        let best = Number.POSITIVE_INFINITY;
        let arg = 0;
        for (let i = 0; i < N; i++) {
          const prev = cost[(f - 1) * N + i] as number;
          if (!(prev < best)) continue;
          const ei = candIdx[(f - 1) * N + i] as number;
          let t = 0;
          for (let d = 0; d < C; d++) {
            const x =
              (zBook[ej * C + d] as number) -
              (zBook[ei * C + d] as number) -
              ((zAll[f * C + d] as number) - (zAll[(f - 1) * C + d] as number));
            t += x * x;
          }
          const c = prev + o.trajectory * t;
          if (c < best) {
            best = c;
            arg = i;
          }
        }
        cost[f * N + j] = (candD[f * N + j] as number) + best;
        back[f * N + j] = arg;
      }
    }
    let j = 0;
    for (let i = 1; i < N; i++) {
      if ((cost[(frameCount - 1) * N + i] as number) < (cost[(frameCount - 1) * N + j] as number)) j = i;
    }
    for (let f = frameCount - 1; f >= 0; f--) {
      chosen[f] = j;
      j = back[f * N + j] as number;
    }
  }
  const weights: number[] = [];
  const entries: number[] = [];
  for (let f = 0; f < frameCount; f++) {
    weights.length = 0;
    entries.length = 0;
    let wSum = 0;
    if (N > 0 && o.trajectory > 0) {
      entries.push(candIdx[f * N + (chosen[f] as number)] as number);
      weights.push(1);
      wSum = 1;
    } else if (N > 0) {
      const d0 = candD[f * N] as number;
      for (let j = 0; j < Math.min(N, Math.max(1, o.nearest)); j++) {
        const dj = candD[f * N + j] as number;
        const w = Number.isFinite(dj) ? Math.exp(-(dj - d0) / (o.temperature * C)) : 0;
        entries.push(candIdx[f * N + j] as number);
        weights.push(w);
        wSum += w;
      }
    }
    for (let d = 1; d < C; d++) {
      const mean =
        (src.mean[d] as number) + o.meanShift * ((tgt.mean[d] as number) - (src.mean[d] as number));
      const ratio = 1 + o.spreadScale * ((tgt.std[d] as number) / (src.std[d] as number) - 1);
      let y = mean + ratio * (src.std[d] as number) * (zAll[f * C + d] as number);
      if (wSum > 0) {
        let cb = 0;
        for (let j = 0; j < weights.length; j++)
          cb += (weights[j] as number) * (rawBook[(entries[j] as number) * C + d] as number);
        cb = mean + cb / wSum;
        y += (frameWeight[f] as number) * (cb - y);
      }
      delta[f * C + d] = y - (ceps[f * C + d] as number);
    }
  }

  // Pass 3: smooth the change over time, apply it per bin, overlap-add.
  const maxLog = (o.maxGainDb / 10) * Math.LN10;
  const sm = new Float64Array(C);
  const bandGain = new Float64Array(B);
  const binGain = new Float64Array(an.bins);
  const got = new Float64Array(C);
  const residual = new Float64Array(C);
  const fix = new Float64Array(B);
  const win = an.window;
  const acc = new Float64Array(padded.length);
  for (let f = 0; f < frameCount; f++) {
    sm.fill(0);
    let n = 0;
    for (let g = Math.max(0, f - o.smoothFrames); g <= Math.min(frameCount - 1, f + o.smoothFrames); g++) {
      n++;
      for (let d = 1; d < C; d++) sm[d] = (sm[d] as number) + (delta[g * C + d] as number);
    }
    for (let d = 1; d < C; d++) sm[d] = (sm[d] as number) / n;
    an.fromCeps(sm, bandGain);
    for (let b = 0; b < B; b++) bandGain[b] = Math.max(-maxLog, Math.min(maxLog, bandGain[b] as number));
    an.binGains(bandGain, binGain);
    const start = offset + first + f * hop;
    const base = f * bins * 2;
    // The applied gains are smoothed by the filterbank: measure what they achieved, correct the rest.
    for (let it = 0; it < o.refine; it++) {
      for (let k = 0; k < bins; k++) {
        const r = spectra[base + 2 * k] as number;
        const j = spectra[base + 2 * k + 1] as number;
        const g = binGain[k] as number;
        power[k] = (r * r + j * j) * g * g;
      }
      an.logMel(power, lm);
      an.toCeps(lm, got);
      residual[0] = 0;
      for (let d = 1; d < C; d++) {
        residual[d] = (ceps[f * C + d] as number) + (sm[d] as number) - (got[d] as number);
      }
      an.fromCeps(residual, fix);
      for (let b = 0; b < B; b++) {
        bandGain[b] = Math.max(-maxLog, Math.min(maxLog, (bandGain[b] as number) + (fix[b] as number)));
      }
      an.binGains(bandGain, binGain);
    }
    for (let k = 0; k < bins; k++) {
      const g = binGain[k] as number;
      const r = (spectra[base + 2 * k] as number) * g;
      const j = (spectra[base + 2 * k + 1] as number) * g;
      re[k] = r;
      im[k] = j;
      if (k > 0 && k < fftSize / 2) {
        re[fftSize - k] = r;
        im[fftSize - k] = -j;
      }
    }
    an.fft.inverse(re, im);
    for (let i = 0; i < fftSize; i++)
      acc[start + i] = (acc[start + i] as number) + (re[i] as number) * (win[i] as number);
  }
  // sqrt-Hann analysis x sqrt-Hann synthesis at hop N/2 sums to 1.
  let inSq = 0;
  let outSq = 0;
  for (let i = 0; i < pcm.length; i++) {
    const y = acc[offset + i] as number;
    out[i] = y;
    inSq += (pcm[i] as number) ** 2;
    outSq += y * y;
  }
  const level = outSq > 0 ? Math.sqrt(inSq / outSq) : 1;
  let peak = 0;
  for (let i = 0; i < out.length; i++) {
    const y = (out[i] as number) * level;
    out[i] = y;
    peak = Math.max(peak, Math.abs(y));
  }
  // Keep the peak under full scale (a plain gain: no clipping, no distortion).
  if (peak > 0.99) {
    const g = 0.99 / peak;
    for (let i = 0; i < out.length; i++) out[i] = (out[i] as number) * g;
  }
  return out;
}
