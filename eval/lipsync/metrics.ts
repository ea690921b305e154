/**
 * The lip-sync eval's numbers, as pure functions over per-frame series (no I/O): correlation of mouth
 * opening with a lag search, mouth-landmark distance and jitter normalised by the inter-ocular distance,
 * PSNR outside the lower face, and the loudness envelope used as a signal-level baseline.
 *
 * Missing frames (tracker lost the face) are NaN / null and are left out pairwise.
 */
import { eyeCenters, interOcular, LANDMARKS, MOUTH_FIRST, MOUTH_POINTS, point } from './tracker.ts';
import type { Landmarks } from './tracker.ts';

/** Pearson correlation over the pairs where both values are finite; null with < 3 pairs or no variance. */
export function pearson(a: ArrayLike<number>, b: ArrayLike<number>): number | null {
  const n = Math.min(a.length, b.length);
  let count = 0;
  let sa = 0;
  let sb = 0;
  for (let i = 0; i < n; i++) {
    const x = a[i] as number;
    const y = b[i] as number;
    if (!Number.isFinite(x) || !Number.isFinite(y)) continue;
    count++;
    sa += x;
    sb += y;
  }
  if (count < 3) return null;
  const ma = sa / count;
  const mb = sb / count;
  let sab = 0;
  let saa = 0;
  let sbb = 0;
  for (let i = 0; i < n; i++) {
    const x = a[i] as number;
    const y = b[i] as number;
    if (!Number.isFinite(x) || !Number.isFinite(y)) continue;
    sab += (x - ma) * (y - mb);
    saa += (x - ma) ** 2;
    sbb += (y - mb) ** 2;
  }
  if (saa <= 0 || sbb <= 0) return null;
  return sab / Math.sqrt(saa * sbb);
}

export interface LagCorrelation {
  /** Correlation with no shift. */
  atZero: number | null;
  /** Highest correlation over the lags searched. */
  best: number | null;
  /** Lag of `best` in frames and milliseconds: positive = the output's mouth moves later than the truth's. */
  bestLagFrames: number | null;
  bestLagMs: number | null;
  /** Every lag searched: [lag in ms, correlation]. */
  curve: Array<[number, number | null]>;
}

/**
 * Correlation of `output[t + lag]` with `truth[t]` for whole-frame lags within ±maxLagMs (default 200).
 * A positive best lag means the output's mouth moves after the truth's (the sound leads the picture).
 */
export function lagCorrelation(
  truth: ArrayLike<number>,
  output: ArrayLike<number>,
  fps: number,
  maxLagMs = 200,
): LagCorrelation {
  const maxLag = Math.floor((maxLagMs * fps) / 1000 + 1e-9);
  const curve: Array<[number, number | null]> = [];
  let best: number | null = null;
  let bestLag: number | null = null;
  const n = Math.min(truth.length, output.length);
  for (let lag = -maxLag; lag <= maxLag; lag++) {
    const t: number[] = [];
    const o: number[] = [];
    for (let i = 0; i < n; i++) {
      const j = i + lag;
      if (j < 0 || j >= n) continue;
      t.push(truth[i] as number);
      o.push(output[j] as number);
    }
    const r = pearson(t, o);
    curve.push([(lag * 1000) / fps, r]);
    // Ties go to the lag nearest zero (the loop runs from negative to positive lags).
    if (
      r !== null &&
      (best === null ||
        r > best + 1e-12 ||
        (Math.abs(r - best) <= 1e-12 && Math.abs(lag) < Math.abs(bestLag ?? 0)))
    ) {
      best = r;
      bestLag = lag;
    }
  }
  const atZero = curve.find(([ms]) => ms === 0)?.[1] ?? null;
  return {
    atZero,
    best,
    bestLagFrames: bestLag,
    bestLagMs: bestLag === null ? null : (bestLag * 1000) / fps,
    curve,
  };
}

/**
 * Pools lag curves of clips with different frame rates: each curve is interpolated linearly on a common
 * grid (every `stepMs` within ±maxLagMs, lags beyond a curve's ends take its end value) and averaged;
 * returns the mean curve and its peak. Null entries are skipped.
 */
export function pooledLag(
  curves: ReadonlyArray<ReadonlyArray<[number, number | null]>>,
  maxLagMs = 200,
  stepMs = 5,
): { best: number | null; bestLagMs: number | null; curve: Array<[number, number | null]> } {
  const curve: Array<[number, number | null]> = [];
  let best: number | null = null;
  let bestLagMs: number | null = null;
  for (let ms = -maxLagMs; ms <= maxLagMs + 1e-9; ms += stepMs) {
    const values: number[] = [];
    for (const c of curves) {
      const pts = c.filter((p): p is [number, number] => p[1] !== null);
      const first = pts[0];
      const last = pts[pts.length - 1];
      if (!first || !last) continue;
      if (ms <= first[0]) values.push(first[1]);
      else if (ms >= last[0]) values.push(last[1]);
      else {
        const k = pts.findIndex((p) => p[0] >= ms);
        const [x1, y1] = pts[k] as [number, number];
        const [x0, y0] = pts[k - 1] as [number, number];
        values.push(y0 + ((y1 - y0) * (ms - x0)) / (x1 - x0));
      }
    }
    const m = values.length === 0 ? null : values.reduce((a, b) => a + b, 0) / values.length;
    curve.push([ms, m]);
    if (
      m !== null &&
      (best === null ||
        m > best + 1e-12 ||
        (Math.abs(m - best) <= 1e-12 && Math.abs(ms) < Math.abs(bestLagMs ?? 0)))
    ) {
      best = m;
      bestLagMs = ms;
    }
  }
  return { best, bestLagMs, curve };
}

/**
 * The 20 mouth points in face coordinates: origin at the midpoint of the eye centres, x along the eye
 * line, unit = inter-ocular distance. Head translation, roll and scale drop out; mouth shape remains.
 */
export function alignedMouth(lm: Landmarks): Float64Array {
  const [[lx, ly], [rx, ry]] = eyeCenters(lm);
  const cx = (lx + rx) / 2;
  const cy = (ly + ry) / 2;
  const iod = Math.hypot(rx - lx, ry - ly);
  const cos = (rx - lx) / iod;
  const sin = (ry - ly) / iod;
  const out = new Float64Array(2 * MOUTH_POINTS);
  for (let k = 0; k < MOUTH_POINTS; k++) {
    const [x, y] = point(lm, MOUTH_FIRST + k);
    const dx = x - cx;
    const dy = y - cy;
    out[2 * k] = (dx * cos + dy * sin) / iod;
    out[2 * k + 1] = (-dx * sin + dy * cos) / iod;
  }
  return out;
}

export interface LandmarkDistance {
  /** Mean over frames of the mean point-to-point distance of the 20 aligned mouth points, in IODs. */
  aligned: number | null;
  /** The same on raw image positions divided by the truth frame's IOD (includes head pose differences). */
  raw: number | null;
  frames: number;
}

/** Mouth-landmark distance between output and truth, frame by frame (frame i with frame i). */
export function landmarkDistance(
  truth: ReadonlyArray<Landmarks | null>,
  output: ReadonlyArray<Landmarks | null>,
): LandmarkDistance {
  let aligned = 0;
  let raw = 0;
  let frames = 0;
  const n = Math.min(truth.length, output.length);
  for (let i = 0; i < n; i++) {
    const t = truth[i];
    const o = output[i];
    if (!t || !o) continue;
    const at = alignedMouth(t);
    const ao = alignedMouth(o);
    const iod = interOcular(t);
    let sa = 0;
    let sr = 0;
    for (let k = 0; k < MOUTH_POINTS; k++) {
      sa += Math.hypot(
        (ao[2 * k] as number) - (at[2 * k] as number),
        (ao[2 * k + 1] as number) - (at[2 * k + 1] as number),
      );
      const [tx, ty] = point(t, MOUTH_FIRST + k);
      const [ox, oy] = point(o, MOUTH_FIRST + k);
      sr += Math.hypot(ox - tx, oy - ty) / iod;
    }
    aligned += sa / MOUTH_POINTS;
    raw += sr / MOUTH_POINTS;
    frames++;
  }
  return frames === 0
    ? { aligned: null, raw: null, frames }
    : { aligned: aligned / frames, raw: raw / frames, frames };
}

/**
 * Frame-to-frame jitter: mean over frames t (with t-1, t, t+1 all tracked) and the 20 mouth points of
 * |p[t+1] - 2 p[t] + p[t-1]| (image positions), divided by that frame's inter-ocular distance.
 */
export function jitter(series: ReadonlyArray<Landmarks | null>): number | null {
  let sum = 0;
  let count = 0;
  for (let t = 1; t + 1 < series.length; t++) {
    const a = series[t - 1];
    const b = series[t];
    const c = series[t + 1];
    if (!a || !b || !c) continue;
    const iod = interOcular(b);
    for (let k = MOUTH_FIRST; k < MOUTH_FIRST + MOUTH_POINTS; k++) {
      const [ax, ay] = point(a, k);
      const [bx, by] = point(b, k);
      const [cx, cy] = point(c, k);
      sum += Math.hypot(cx - 2 * bx + ax, cy - 2 * by + ay) / iod;
      count++;
    }
  }
  return count === 0 ? null : sum / count;
}

export interface Rect {
  x0: number;
  y0: number;
  x1: number;
  y1: number;
}

/**
 * The lower face: bounding box of the jaw from ear level down (points 1-15), the nose base (31-35) and
 * the mouth (48-67), padded by `pad` inter-ocular distances on every side (default 0.25), in pixels.
 */
export function lowerFaceBox(lm: Landmarks, pad = 0.25): Rect {
  const idx: number[] = [];
  for (let i = 1; i <= 15; i++) idx.push(i);
  for (let i = 31; i <= 35; i++) idx.push(i);
  for (let i = MOUTH_FIRST; i < LANDMARKS; i++) idx.push(i);
  let x0 = Infinity;
  let y0 = Infinity;
  let x1 = -Infinity;
  let y1 = -Infinity;
  for (const i of idx) {
    const [x, y] = point(lm, i);
    x0 = Math.min(x0, x);
    x1 = Math.max(x1, x);
    y0 = Math.min(y0, y);
    y1 = Math.max(y1, y);
  }
  const p = pad * interOcular(lm);
  return { x0: x0 - p, y0: y0 - p, x1: x1 + p, y1: y1 + p };
}

/** The smallest rectangle holding every given one. */
export function unionRect(rects: readonly Rect[]): Rect | null {
  if (rects.length === 0) return null;
  return {
    x0: Math.min(...rects.map((r) => r.x0)),
    y0: Math.min(...rects.map((r) => r.y0)),
    x1: Math.max(...rects.map((r) => r.x1)),
    y1: Math.max(...rects.map((r) => r.y1)),
  };
}

export interface MaskedSe {
  /** Sum of squared differences over the counted samples (8-bit units). */
  sse: number;
  /** Samples counted (pixels x 3 channels). */
  samples: number;
}

/** Squared error of two rgb24 frames over the pixels outside `exclude` (or all pixels when null). */
export function maskedSquaredError(
  a: Uint8Array,
  b: Uint8Array,
  width: number,
  height: number,
  exclude: Rect | null,
): MaskedSe {
  if (a.length !== width * height * 3 || b.length !== a.length) {
    throw new RangeError(`frames must both be ${width}x${height} rgb24`);
  }
  let sse = 0;
  let samples = 0;
  const ex0 = exclude ? Math.floor(exclude.x0) : 0;
  const ex1 = exclude ? Math.ceil(exclude.x1) : -1;
  const ey0 = exclude ? Math.floor(exclude.y0) : 0;
  const ey1 = exclude ? Math.ceil(exclude.y1) : -1;
  for (let y = 0; y < height; y++) {
    const rowInside = exclude !== null && y >= ey0 && y <= ey1;
    const row = y * width * 3;
    for (let x = 0; x < width; x++) {
      if (rowInside && x >= ex0 && x <= ex1) continue;
      const i = row + x * 3;
      const d0 = (a[i] as number) - (b[i] as number);
      const d1 = (a[i + 1] as number) - (b[i + 1] as number);
      const d2 = (a[i + 2] as number) - (b[i + 2] as number);
      sse += d0 * d0 + d1 * d1 + d2 * d2;
      samples += 3;
    }
  }
  return { sse, samples };
}

/** PSNR in dB of an accumulated squared error (8-bit peak 255); Infinity when identical, null when empty. */
export function psnr(se: MaskedSe): number | null {
  if (se.samples === 0) return null;
  const mse = se.sse / se.samples;
  return mse === 0 ? Infinity : 10 * Math.log10((255 * 255) / mse);
}

/**
 * Loudness per video frame: RMS of the samples in each frame's window [i / fps, (i + 1) / fps), as many
 * frames as asked (windows past the end are 0).
 */
export function rmsEnvelope(
  samples: Float32Array,
  sampleRate: number,
  fps: number,
  frames: number,
): Float64Array {
  const out = new Float64Array(frames);
  for (let i = 0; i < frames; i++) {
    const s0 = Math.round((i * sampleRate) / fps);
    const s1 = Math.min(samples.length, Math.round(((i + 1) * sampleRate) / fps));
    let sum = 0;
    for (let s = s0; s < s1; s++) sum += (samples[s] as number) ** 2;
    out[i] = s1 > s0 ? Math.sqrt(sum / (s1 - s0)) : 0;
  }
  return out;
}

/** Min-max normalisation to 0..1 (all zeros when constant). */
export function normalize01(v: ArrayLike<number>): Float64Array {
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < v.length; i++) {
    const x = v[i] as number;
    if (!Number.isFinite(x)) continue;
    lo = Math.min(lo, x);
    hi = Math.max(hi, x);
  }
  const out = new Float64Array(v.length);
  for (let i = 0; i < v.length; i++) out[i] = hi > lo ? ((v[i] as number) - lo) / (hi - lo) : 0;
  return out;
}

/** Mean of the finite values; null when there are none. */
export function mean(v: ArrayLike<number>): number | null {
  let s = 0;
  let n = 0;
  for (let i = 0; i < v.length; i++) {
    const x = v[i] as number;
    if (Number.isFinite(x)) {
      s += x;
      n++;
    }
  }
  return n === 0 ? null : s / n;
}

/** A seeded pseudo-random generator (mulberry32): the same seed gives the same sequence in [0, 1). */
export function seededRandom(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface BootstrapInterval {
  /** The statistic on the items as given. */
  estimate: number | null;
  /** Percentile interval of the statistic over the resamples (null when no resample gave a value). */
  lo: number | null;
  hi: number | null;
  /** Resamples whose statistic was a number. */
  resamples: number;
}

/**
 * Percentile bootstrap: `iterations` resamples of the items with replacement (as many as given), the
 * statistic on each, and the central `level` interval of those values (default 2000 resamples, 90%,
 * seed 1: the same input always gives the same interval). Resamples whose statistic is null are left out.
 */
export function bootstrapInterval<T>(
  items: readonly T[],
  statistic: (sample: readonly T[]) => number | null,
  opts: { iterations?: number; level?: number; seed?: number } = {},
): BootstrapInterval {
  const { iterations = 2000, level = 0.9, seed = 1 } = opts;
  const estimate = items.length === 0 ? null : statistic(items);
  const random = seededRandom(seed);
  const values: number[] = [];
  if (items.length > 0) {
    for (let b = 0; b < iterations; b++) {
      const sample: T[] = [];
      for (let i = 0; i < items.length; i++) sample.push(items[Math.floor(random() * items.length)] as T);
      const v = statistic(sample);
      if (v !== null && Number.isFinite(v)) values.push(v);
    }
  }
  if (values.length === 0) return { estimate, lo: null, hi: null, resamples: 0 };
  values.sort((a, b) => a - b);
  const q = (p: number): number => {
    // Linear interpolation between order statistics (type 7).
    const h = (values.length - 1) * p;
    const k = Math.floor(h);
    const a = values[k] as number;
    const b = values[Math.min(values.length - 1, k + 1)] as number;
    return a + (b - a) * (h - k);
  };
  const tail = (1 - level) / 2;
  return { estimate, lo: q(tail), hi: q(1 - tail), resamples: values.length };
}

/** A lag curve's value at `ms`, interpolated linearly between its points (ends held); null if empty. */
export function curveAt(curve: ReadonlyArray<[number, number | null]>, ms: number): number | null {
  const pts = curve.filter((p): p is [number, number] => p[1] !== null);
  const first = pts[0];
  const last = pts[pts.length - 1];
  if (!first || !last) return null;
  if (ms <= first[0]) return first[1];
  if (ms >= last[0]) return last[1];
  const k = pts.findIndex((p) => p[0] >= ms);
  const [x1, y1] = pts[k] as [number, number];
  const [x0, y0] = pts[k - 1] as [number, number];
  return x1 === x0 ? y1 : y0 + ((y1 - y0) * (ms - x0)) / (x1 - x0);
}

/** The highest point of a lag curve with lo <= lag <= hi (ties: the lag nearest zero). */
export function peakInWindow(
  curve: ReadonlyArray<[number, number | null]>,
  window: readonly [number, number],
): { best: number | null; lagMs: number | null } {
  let best: number | null = null;
  let lagMs: number | null = null;
  for (const [ms, r] of curve) {
    if (r === null || ms < window[0] - 1e-9 || ms > window[1] + 1e-9) continue;
    if (
      best === null ||
      r > best + 1e-12 ||
      (Math.abs(r - best) <= 1e-12 && Math.abs(ms) < Math.abs(lagMs ?? 0))
    ) {
      best = r;
      lagMs = ms;
    }
  }
  return { best, lagMs };
}

/**
 * The sync figure the targets are checked on: the clips' lag curves pooled (pooledLag, 5 ms grid) and
 * the pooled curve's peak inside the lag window (default −125..+45 ms). Null when no clip has a curve.
 */
export function pooledWindowPeak(
  curves: ReadonlyArray<ReadonlyArray<[number, number | null]>>,
  window: readonly [number, number] = [-125, 45],
): { best: number | null; lagMs: number | null } {
  if (curves.length === 0) return { best: null, lagMs: null };
  return peakInWindow(pooledLag(curves).curve, window);
}
