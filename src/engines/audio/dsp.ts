/**
 * Small pure DSP helpers shared by the voice and lip-sync engines: frame energy, an energy
 * voice-activity detector, YIN pitch, and syllable-ish energy peaks. Mono float32 PCM in [-1, 1]
 * throughout.
 */

/** Level used for digital silence so dB values stay finite. */
export const SILENCE_DB = -120;

export function rms(pcm: Float32Array, start = 0, end = pcm.length): number {
  const n = end - start;
  if (n <= 0) return 0;
  let sum = 0;
  for (let i = start; i < end; i++) {
    const v = pcm[i] as number;
    sum += v * v;
  }
  return Math.sqrt(sum / n);
}

export function toDb(linear: number): number {
  return linear > 0 ? Math.max(SILENCE_DB, 20 * Math.log10(linear)) : SILENCE_DB;
}

/** Linear-interpolated percentile (p in 0..100) of the values; NaN for none. */
export function percentile(values: ArrayLike<number>, p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = Float64Array.from(values).sort();
  const pos = (Math.min(100, Math.max(0, p)) / 100) * (sorted.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  const a = sorted[lo] as number;
  const b = sorted[hi] as number;
  return a + (b - a) * (pos - lo);
}

export function median(values: ArrayLike<number>): number {
  return percentile(values, 50);
}

/** RMS level in dBFS of consecutive non-overlapping frames of `frameLen` samples (the last partial one dropped). */
export function frameLevelsDb(pcm: Float32Array, frameLen: number): Float32Array {
  const count = Math.floor(pcm.length / frameLen);
  const out = new Float32Array(count);
  for (let f = 0; f < count; f++) out[f] = toDb(rms(pcm, f * frameLen, (f + 1) * frameLen));
  return out;
}

export interface VadOptions {
  /** Frame length, seconds (default 0.02). */
  frameSec?: number;
  /** A frame is speech when this many dB above the noise floor (default 10). */
  marginDb?: number;
  /** ...and above this absolute level, dBFS (default -50). */
  minLevelDb?: number;
  /** Frames kept as speech after the level drops (default 10 = 200 ms at 20 ms frames). */
  hangoverFrames?: number;
  /** A run must last this many frames to count (default 3), so clicks are not speech. */
  minRunFrames?: number;
}

export interface VadResult {
  frameLen: number;
  frameSec: number;
  /** One entry per frame: 1 speech, 0 not. */
  speech: Uint8Array;
  /** Frame levels, dBFS. */
  levelsDb: Float32Array;
  speechSeconds: number;
}

/**
 * Energy voice-activity detector. The noise floor starts at the 10th percentile of frame levels and
 * then follows the signal: it drops at once to a quieter frame and rises slowly (about 0.05 dB per
 * frame) so that long speech does not lift it. Speech runs shorter than `minRunFrames` are dropped and
 * the rest extended by `hangoverFrames` to keep word endings and short pauses.
 */
export function detectSpeech(pcm: Float32Array, sampleRate: number, opts: VadOptions = {}): VadResult {
  const frameSec = opts.frameSec ?? 0.02;
  const marginDb = opts.marginDb ?? 10;
  const minLevelDb = opts.minLevelDb ?? -50;
  const hangover = opts.hangoverFrames ?? 10;
  const minRun = opts.minRunFrames ?? 3;
  const frameLen = Math.max(1, Math.round(frameSec * sampleRate));
  const levelsDb = frameLevelsDb(pcm, frameLen);
  const n = levelsDb.length;
  const raw = new Uint8Array(n);
  let floor = n > 0 ? percentile(levelsDb, 10) : SILENCE_DB;
  for (let f = 0; f < n; f++) {
    const level = levelsDb[f] as number;
    floor = level < floor ? level : floor + Math.min(0.05, level - floor);
    raw[f] = level > floor + marginDb && level > minLevelDb ? 1 : 0;
  }
  const speech = new Uint8Array(n);
  let f = 0;
  while (f < n) {
    if (raw[f] === 0) {
      f++;
      continue;
    }
    let end = f;
    while (end < n && raw[end] === 1) end++;
    if (end - f >= minRun) speech.fill(1, f, Math.min(n, end + hangover));
    f = end;
  }
  let count = 0;
  for (const s of speech) count += s;
  return {
    frameLen,
    frameSec: frameLen / sampleRate,
    speech,
    levelsDb,
    speechSeconds: (count * frameLen) / sampleRate,
  };
}

/** Summed linear energy (mean square) and number of the speech frames of a VAD result. */
export function speechEnergy(vad: VadResult): { energy: number; frames: number } {
  let energy = 0;
  let frames = 0;
  vad.speech.forEach((isSpeech, f) => {
    if (isSpeech !== 1) return;
    energy += 10 ** ((vad.levelsDb[f] as number) / 10);
    frames++;
  });
  return { energy, frames };
}

export interface PitchOptions {
  minHz?: number;
  maxHz?: number;
  /**
   * YIN absolute threshold on the cumulative-mean-normalized difference (default 0.25: looser than the
   * paper's 0.1-0.15, which leaves too few voiced frames on compressed or reverberant recordings).
   */
  threshold?: number;
}

/** Samples a YIN estimate at `start` reads: the window plus the longest lag. */
export function pitchWindow(sampleRate: number, opts: PitchOptions = {}): { window: number; maxLag: number } {
  const minHz = opts.minHz ?? 60;
  return { window: Math.round(0.025 * sampleRate), maxLag: Math.ceil(sampleRate / minHz) };
}

/**
 * YIN fundamental frequency (de Cheveigné & Kawahara 2002) of the frame starting at `start`, or null
 * when the frame is not clearly periodic within minHz..maxHz (default 60..400 Hz).
 */
export function yinPitch(
  pcm: Float32Array,
  start: number,
  sampleRate: number,
  opts: PitchOptions = {},
): number | null {
  const maxHz = opts.maxHz ?? 400;
  const threshold = opts.threshold ?? 0.25;
  const { window, maxLag } = pitchWindow(sampleRate, opts);
  const minLag = Math.max(2, Math.floor(sampleRate / maxHz));
  if (start < 0 || start + window + maxLag + 1 > pcm.length) return null;
  const d = new Float64Array(maxLag + 2);
  for (let tau = 1; tau <= maxLag + 1; tau++) {
    let sum = 0;
    for (let j = start; j < start + window; j++) {
      const diff = (pcm[j] as number) - (pcm[j + tau] as number);
      sum += diff * diff;
    }
    d[tau] = sum;
  }
  // Cumulative mean normalized difference, in place.
  let running = 0;
  d[0] = 1;
  for (let tau = 1; tau <= maxLag + 1; tau++) {
    running += d[tau] as number;
    d[tau] = running > 0 ? ((d[tau] as number) * tau) / running : 1;
  }
  let best = -1;
  for (let tau = minLag; tau <= maxLag; tau++) {
    if ((d[tau] as number) < threshold) {
      while (tau + 1 <= maxLag && (d[tau + 1] as number) < (d[tau] as number)) tau++;
      best = tau;
      break;
    }
  }
  if (best < 0) return null;
  // Parabolic interpolation around the minimum.
  const a = d[best - 1] as number;
  const b = d[best] as number;
  const c = d[best + 1] as number;
  const denom = a - 2 * b + c;
  const shift = denom !== 0 ? (0.5 * (a - c)) / denom : 0;
  const hz = sampleRate / (best + (Math.abs(shift) < 1 ? shift : 0));
  return hz >= (opts.minHz ?? 60) && hz <= maxHz ? hz : null;
}

/**
 * F0 of every frame the mask marks as speech (frames of `frameLen` samples, as from detectSpeech);
 * unvoiced speech frames are left out. Without a mask every frame is tried.
 */
export function pitchOfFrames(
  pcm: Float32Array,
  sampleRate: number,
  frameLen: number,
  mask: Uint8Array | null,
  opts: PitchOptions = {},
): number[] {
  const out: number[] = [];
  const count = mask ? mask.length : Math.floor(pcm.length / frameLen);
  for (let f = 0; f < count; f++) {
    if (mask && mask[f] !== 1) continue;
    const hz = yinPitch(pcm, f * frameLen, sampleRate, opts);
    if (hz !== null) out.push(hz);
  }
  return out;
}

/** Semitone distance from `lowHz` to `highHz`. */
export function semitones(lowHz: number, highHz: number): number {
  return 12 * Math.log2(highHz / lowHz);
}

/**
 * Syllable-ish nuclei: local maxima of the frame level (dB, smoothed over 3 frames) inside speech
 * frames that rise at least `prominenceDb` above the lowest level since the previous peak and stand at
 * least `minGapFrames` apart.
 */
export function countEnergyPeaks(
  levelsDb: Float32Array,
  speech: Uint8Array,
  prominenceDb = 4,
  minGapFrames = 5,
): number {
  const n = levelsDb.length;
  const smooth = new Float32Array(n);
  for (let f = 0; f < n; f++) {
    const a = levelsDb[Math.max(0, f - 1)] as number;
    const b = levelsDb[f] as number;
    const c = levelsDb[Math.min(n - 1, f + 1)] as number;
    smooth[f] = (a + b + c) / 3;
  }
  let peaks = 0;
  let valley = Number.POSITIVE_INFINITY;
  let lastPeak = -minGapFrames;
  for (let f = 0; f < n; f++) {
    const v = smooth[f] as number;
    if (speech[f] !== 1) {
      valley = Math.min(valley, v);
      continue;
    }
    valley = Math.min(valley, v);
    const prev = smooth[f - 1] ?? Number.NEGATIVE_INFINITY;
    const next = smooth[f + 1] ?? Number.NEGATIVE_INFINITY;
    if (v >= prev && v > next && v - valley >= prominenceDb && f - lastPeak >= minGapFrames) {
      peaks++;
      lastPeak = f;
      valley = v;
    }
  }
  return peaks;
}

/**
 * Zero-phase Gaussian smoothing of a series, the kernel cut at `radiusSigmas` sigmas (edges
 * renormalized); a copy when sigma is about 0.
 */
export function gaussianSmooth(v: Float64Array, sigmaFrames: number, radiusSigmas = 3): Float64Array {
  if (!(sigmaFrames > 0.05)) return Float64Array.from(v);
  const radius = Math.ceil(radiusSigmas * sigmaFrames);
  const kernel = new Float64Array(2 * radius + 1);
  for (let i = -radius; i <= radius; i++) kernel[i + radius] = Math.exp(-0.5 * (i / sigmaFrames) ** 2);
  const n = v.length;
  const out = new Float64Array(n);
  for (let k = 0; k < n; k++) {
    let s = 0;
    let w = 0;
    for (let i = -radius; i <= radius; i++) {
      const j = k + i;
      if (j < 0 || j >= n) continue;
      const kw = kernel[i + radius] as number;
      s += kw * (v[j] as number);
      w += kw;
    }
    out[k] = s / w;
  }
  return out;
}
