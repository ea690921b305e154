/**
 * The per-avatar audio -> mouth-shape model of the sample-based lip-sync engine: for every output video
 * frame, the mouth shape (types.ts MouthShape) the new speech calls for, in the avatar's own units.
 *
 * Targets are the four shape dimensions z-scored per avatar (mean and standard deviation over its own
 * trustworthy frames), so weights transfer between people. Inputs are the audio features
 * (audio-features.ts: clip-normalized MFCCs with +-150 ms context and a bias) plus one nonlinearity,
 * max(0, c0) of each context tap (`extras: 'c0relu'`: the opening follows loudness only above the
 * clip's mean level). The map is fitted by ridge regression centred on a prior:
 *
 *   W = (X'X + lambda I)^-1 (X'Y + lambda W0)
 *
 * over the avatar's trustworthy frames inside its (widened) speech mask; W0 is a generic prior fitted on
 * other speakers (fitPrior; mouth-prior.json) or 0 without one. With little avatar speech W stays near
 * the prior, with much it becomes the avatar's own. lambda is in frames' worth of evidence (the inputs
 * have unit variance): a fixed 300 below 400 training frames (on short halves the avatar's own
 * cross-validation is too noisy), chosen per shape dimension among 30..3000 by 5-fold cross-validation
 * over contiguous blocks from 400 frames (16 s) on. An avatar without any speech
 * frames gets the prior's more regularized stand-alone map. The held-out predictions of the
 * cross-validation give a per-dimension gain that undoes part of the ridge shrinkage (the sample
 * selection needs full-size mouth motion), clamped to [1, maxGain].
 *
 * Prediction: X W (z units), a zero-phase Gaussian low-pass for coarticulation (sigma 40 ms), moved
 * 40 ms earlier (the mouth leads the sound; this took the study's mean best lag from +45 ms to about 0),
 * times the gain, back to the avatar's units; then silence closes the mouth: outside the speech mask
 * widened by 80 ms before each onset and 120 ms after each end, every dimension goes to the avatar's
 * rest value (opening: 10th percentile of its opening on its own silent frames; teeth, width, rounding:
 * their median there; without 8 silent frames, the same statistics over all its frames) over a 3-frame
 * linear ramp.
 *
 * Leave-one-speaker-out study on the grown set (eval/lipsync/mouth-model-study.ts, 26 clips, the
 * engine's own tracker, prior fitted on the other speakers' first halves; pooled correlation with the
 * eval tracker's opening inside -125..+45 ms): avatar lambda 300 gives 0.32 for the predicted opening
 * and 0.31 for the opening of the frames the selection then shows, against 0.29 / 0.26 with the earlier
 * 30 (on 18 clips: 0.39 / 0.34 against 0.34 / 0.28; 100 and 1000 were between, 500 gave 0.32 / 0.26:
 * the selection figure moves by about 0.03 with any change). A prior with a 17-25 speaker pool wants a
 * stronger pull. No gain from: a neural prior (one tanh layer of 8 or 32 units over the same inputs,
 * the avatar fitting a linear correction of its output: 0.30-0.38 against 0.39 on 18 clips), wider
 * context (+-250 ms taps: 0.392 against 0.391), CMVN over speech frames only (0.32 either way),
 * balancing clips in the prior's fit, a stronger prior lambda (300-3000), smoothing 60 ms, no advance
 * (same peak, at 0 ms instead of -40), and selection cost tweaks (within +-0.03).
 *
 * Earlier study (6 talking-face clips, fit on the first half, predict the
 * second; mean correlation with the true opening at lag 0): loudness 0.28, this model without prior
 * 0.52, the leave-one-out prior alone 0.39, with the prior 0.60. What mattered (gains measured along
 * the way, each against the settings of its time): the silence closure (+0.11), the prior with a weak
 * own lambda (+0.09 over no prior), training on speech frames only (+0.07), the 40 ms advance (+0.02),
 * c0relu (+0.01). No effect or worse: c0 squared (-0.03), smoothing 20/60/80 ms, hangover 60-200 ms,
 * ramps of 1-5 frames, a stronger prior lambda (300: -0.01), lambda 10 (-0.03), gain 1 vs 1.5 (+-0.01),
 * training on all frames incl. silence (-0.04), and a two-layer model as random ReLU features
 * (32 or 64 units of a fixed projection appended to the inputs, prior and avatar fitted on them: -0.02).
 */
import { FEATURE_CONFIG, FEATURE_DIM, sameFeatureConfig } from './audio-features.ts';
import type { AudioFeatures, FeatureConfig } from './audio-features.ts';
import { gaussianSmooth, percentile } from '../audio/dsp.ts';
import { SHAPE_KEYS } from './types.ts';
import type { MouthShape } from './types.ts';

const OUT = SHAPE_KEYS.length;

export interface FitOptions {
  /**
   * Candidate ridge strengths of avatar fits (in frames' worth of evidence: the features have unit
   * variance), chosen among by cross-validation from `lambdaCvFrames` training frames on.
   */
  lambdas: number[];
  /** Lambda below that many frames (on the study's 2.5-5 s halves it beat their own CV's choice). */
  defaultLambda: number;
  lambdaCvFrames: number;
  /** Ridge strength candidates of the prior's pooled fit that centres avatar fits. */
  priorLambdas: number[];
  /** ...and of its stand-alone weights, used when the avatar has no speech frames to fit. */
  aloneLambdas: number[];
  /** Contiguous blocks for the cross-validation. */
  folds: number;
  /** Fewest training frames for cross-validation at all (its held-out predictions give the gain). */
  minCvFrames: number;
  /** Which frames train the map: all trustworthy ones, or only those in (widened) speech. */
  trainOn: 'all' | 'speech';
  /** Upper bound of the variance-restoring gain (1 = none). */
  maxGain: number;
  /** Coarticulation low-pass: Gaussian sigma, ms (0 = none). */
  smoothMs: number;
  /** Speech mask widening before onsets and after ends, ms. */
  prerollMs: number;
  hangoverMs: number;
  /** Frames of the ramp to and from the rest shape. */
  rampFrames: number;
  /** Shift of the predicted motion earlier in time, ms (the mouth leads the sound). */
  advanceMs: number;
  /** Extra, nonlinear inputs appended to the audio features (see designMatrix). */
  extras: Extras;
}

/**
 * Nonlinear inputs: 'none'; 'c0sq' = the square of each context tap's c0 (loudness) minus 1;
 * 'c0relu' = max(0, c0) of each tap.
 */
export type Extras = 'none' | 'c0sq' | 'c0relu';
const EXTRAS: readonly Extras[] = ['none', 'c0sq', 'c0relu'];

function extraCount(extras: Extras): number {
  return extras === 'none' ? 0 : FEATURE_CONFIG.tapsMs.length;
}

/** Input dimension of the linear map for the given extras. */
export function designDim(extras: Extras): number {
  return FEATURE_DIM + extraCount(extras);
}

/** The audio features with the extra inputs appended (the features themselves when there are none). */
function designMatrix(features: AudioFeatures, extras: Extras): { x: Float32Array; d: number } {
  if (extras === 'none') return { x: features.x, d: features.dim };
  const d0 = features.dim;
  const taps = FEATURE_CONFIG.tapsMs.length;
  const d = d0 + taps;
  const cep = FEATURE_CONFIG.cepstra;
  const x = new Float32Array(features.frames * d);
  for (let k = 0; k < features.frames; k++) {
    x.set(features.x.subarray(k * d0, k * d0 + d0), k * d);
    for (let t = 0; t < taps; t++) {
      const c0 = features.x[k * d0 + t * cep] as number;
      x[k * d + d0 + t] = extras === 'c0sq' ? c0 * c0 - 1 : Math.max(0, c0);
    }
  }
  return { x, d };
}

export const DEFAULT_FIT_OPTIONS: Readonly<FitOptions> = Object.freeze({
  lambdas: [30, 100, 300, 1000, 3000],
  defaultLambda: 300,
  lambdaCvFrames: 400,
  priorLambdas: [100],
  aloneLambdas: [30, 100, 300, 1000, 3000, 10000],
  folds: 5,
  minCvFrames: 40,
  trainOn: 'speech',
  maxGain: 1.5,
  smoothMs: 40,
  prerollMs: 80,
  hangoverMs: 120,
  rampFrames: 3,
  advanceMs: 40,
  extras: 'c0relu',
});

/** Rest (silent-mouth) shape, in z units of the speaker (what the prior stores) or own units (models). */
type ShapeVec = [number, number, number, number];

export interface MouthPrior {
  version: 1;
  kind: 'mouth-prior';
  featureConfig: FeatureConfig;
  extras: Extras;
  /** Inputs of the linear map: the feature dim plus the extras. */
  dim: number;
  /** dim x 4, row-major (feature i, output j at i * 4 + j), z units: the centre of avatar fits. */
  weights: number[];
  /** Same layout, more regularized (lambda by cross-validation): the map for an avatar without speech. */
  weightsAlone: number[];
  /** Mean over the clips of each clip's shape mean and std (fallback units without avatar data). */
  shapeMean: number[];
  shapeStd: number[];
  /** Mean over the clips of the rest shape in each clip's z units. */
  restZ: number[];
  clips: number;
  frames: number;
}

export interface MouthModel {
  version: 1;
  kind: 'mouth-model';
  featureConfig: FeatureConfig;
  extras: Extras;
  /** Inputs of the linear map: the feature dim plus the extras. */
  dim: number;
  /** dim x 4 row-major, z units. */
  weights: number[];
  /** Avatar's shape mean / std per dimension (SHAPE_KEYS order). */
  shapeMean: number[];
  shapeStd: number[];
  /** Rest shape, avatar units. */
  rest: number[];
  /** Ridge strength chosen per dimension (0 where the prior was used as is). */
  lambdas: number[];
  /** Variance-restoring gain per dimension. */
  gain: number[];
  smoothMs: number;
  prerollMs: number;
  hangoverMs: number;
  rampFrames: number;
  advanceMs: number;
  /** Trustworthy frames the fit used, and whether a prior centred it. */
  frames: number;
  usedPrior: boolean;
}

export interface FitInput {
  features: AudioFeatures;
  shapes: MouthShape[];
  /** 1 where the shape is trustworthy. */
  valid: Uint8Array;
}

// ---------------------------------------------------------------------------------------------------
// Small linear algebra (float64, row-major)

/** In-place Cholesky of the symmetric positive definite n x n matrix `a` (lower triangle); false if not SPD. */
function cholesky(a: Float64Array, n: number): boolean {
  for (let j = 0; j < n; j++) {
    let d = a[j * n + j] as number;
    for (let k = 0; k < j; k++) d -= (a[j * n + k] as number) ** 2;
    if (!(d > 0)) return false;
    const l = Math.sqrt(d);
    a[j * n + j] = l;
    for (let i = j + 1; i < n; i++) {
      let s = a[i * n + j] as number;
      for (let k = 0; k < j; k++) s -= (a[i * n + k] as number) * (a[j * n + k] as number);
      a[i * n + j] = s / l;
    }
  }
  return true;
}

/** Solves L L' x = b for `m` right-hand sides (b: n x m row-major, overwritten with x). */
function cholSolve(l: Float64Array, n: number, b: Float64Array, m: number): void {
  for (let c = 0; c < m; c++) {
    for (let i = 0; i < n; i++) {
      let s = b[i * m + c] as number;
      for (let k = 0; k < i; k++) s -= (l[i * n + k] as number) * (b[k * m + c] as number);
      b[i * m + c] = s / (l[i * n + i] as number);
    }
    for (let i = n - 1; i >= 0; i--) {
      let s = b[i * m + c] as number;
      for (let k = i + 1; k < n; k++) s -= (l[k * n + i] as number) * (b[k * m + c] as number);
      b[i * m + c] = s / (l[i * n + i] as number);
    }
  }
}

/**
 * Ridge centred on w0: (G + lambda I)^-1 (B + lambda w0) for G = X'X (d x d) and B = X'Y (d x m).
 * Falls back to w0 when the system is not solvable.
 */
function ridge(
  g: Float64Array,
  b: Float64Array,
  d: number,
  m: number,
  lambda: number,
  w0: Float64Array,
): Float64Array {
  const a = Float64Array.from(g);
  for (let i = 0; i < d; i++) a[i * d + i] = (a[i * d + i] as number) + lambda;
  const rhs = new Float64Array(d * m);
  for (let i = 0; i < d * m; i++) rhs[i] = (b[i] as number) + lambda * (w0[i] as number);
  if (!cholesky(a, d)) return Float64Array.from(w0);
  cholSolve(a, d, rhs, m);
  return rhs;
}

/** Adds row `k` of the features to G (upper and lower) and y to B. */
function accumulate(
  x: Float32Array,
  d: number,
  k: number,
  y: ArrayLike<number>,
  g: Float64Array,
  b: Float64Array,
): void {
  const row = k * d;
  for (let i = 0; i < d; i++) {
    const xi = x[row + i] as number;
    if (xi === 0) continue;
    const gi = i * d;
    for (let j = 0; j <= i; j++) g[gi + j] = (g[gi + j] as number) + xi * (x[row + j] as number);
    for (let c = 0; c < OUT; c++) b[i * OUT + c] = (b[i * OUT + c] as number) + xi * (y[c] as number);
  }
}

function symmetrize(g: Float64Array, d: number): void {
  for (let i = 0; i < d; i++) for (let j = 0; j < i; j++) g[j * d + i] = g[i * d + j] as number;
}

function predictRowZ(x: Float32Array, d: number, k: number, w: ArrayLike<number>, out: Float64Array): void {
  out.fill(0);
  const row = k * d;
  for (let i = 0; i < d; i++) {
    const xi = x[row + i] as number;
    if (xi === 0) continue;
    for (let c = 0; c < OUT; c++) out[c] = (out[c] as number) + xi * (w[i * OUT + c] as number);
  }
}

// ---------------------------------------------------------------------------------------------------
// Per-avatar statistics

function shapeVec(s: MouthShape): ShapeVec {
  return [s.opening, s.width, s.rounding, s.teeth];
}

function finiteShape(s: MouthShape | undefined): s is MouthShape {
  return (
    !!s &&
    Number.isFinite(s.opening) &&
    Number.isFinite(s.width) &&
    Number.isFinite(s.rounding) &&
    Number.isFinite(s.teeth)
  );
}

function checkFeatures(features: AudioFeatures): void {
  if (features.dim !== FEATURE_DIM)
    throw new RangeError(`mouth model: feature dim ${features.dim}, expected ${FEATURE_DIM}`);
  if (features.x.length !== features.frames * features.dim)
    throw new RangeError('mouth model: feature array size');
}

/** Speech mask widened by `pre` frames before each speech frame and `post` after. */
function widenedSpeech(speech: Uint8Array, pre: number, post: number): Uint8Array {
  const n = speech.length;
  const out = new Uint8Array(n);
  for (let k = 0; k < n; k++) {
    if (speech[k] !== 1) continue;
    out.fill(1, Math.max(0, k - pre), Math.min(n, k + post + 1));
  }
  return out;
}

function msToFrames(ms: number, fps: number): number {
  return Math.max(0, Math.round((ms * fps) / 1000));
}

function featureFps(features: AudioFeatures): number {
  const fps = features.fps;
  return typeof fps === 'number' && fps > 0 ? fps : 25;
}

interface Stats {
  rows: number[];
  mean: ShapeVec;
  std: ShapeVec;
  z: Float64Array;
  rest: ShapeVec;
  /** Whether the rest shape came from the avatar's own silent frames. */
  restFromSilence: boolean;
  /** Trustworthy frames (before any speech-only selection). */
  trusted: number;
}

/** Trustworthy rows, per-dimension mean/std, z targets and the rest shape of one clip. */
function clipStats(input: FitInput, opts: FitOptions): Stats {
  const { features, shapes, valid } = input;
  const n = Math.min(features.frames, shapes.length, valid.length);
  const all: number[] = [];
  for (let k = 0; k < n; k++) if (valid[k] === 1 && finiteShape(shapes[k])) all.push(k);
  const mean: ShapeVec = [0, 0, 0, 0];
  const std: ShapeVec = [1, 1, 1, 1];
  const z = new Float64Array(n * OUT);
  if (all.length > 0) {
    for (let c = 0; c < OUT; c++) {
      let s = 0;
      for (const k of all) s += shapeVec(shapes[k] as MouthShape)[c] as number;
      const m = s / all.length;
      let v = 0;
      for (const k of all) v += ((shapeVec(shapes[k] as MouthShape)[c] as number) - m) ** 2;
      const sd = Math.sqrt(v / all.length);
      mean[c] = m;
      // A constant dimension (e.g. teeth unknown) keeps z = 0 and predictions at its mean.
      std[c] = sd > 1e-9 * Math.max(1, Math.abs(m)) ? sd : 0;
    }
    for (const k of all) {
      const v = shapeVec(shapes[k] as MouthShape);
      for (let c = 0; c < OUT; c++)
        z[k * OUT + c] = std[c] ? ((v[c] as number) - (mean[c] as number)) / (std[c] as number) : 0;
    }
  }
  // Rest shape from the avatar's silent frames (raw mask: no widening), else from all frames.
  const silent = all.filter((k) => features.speech[k] !== 1);
  const restFromSilence = silent.length >= 8;
  const pool = restFromSilence ? silent : all;
  const rest: ShapeVec = [...mean];
  if (pool.length > 0) {
    const col = (c: number): number[] => pool.map((k) => shapeVec(shapes[k] as MouthShape)[c] as number);
    rest[0] = percentile(col(0), 10);
    rest[1] = percentile(col(1), 50);
    rest[2] = percentile(col(2), 50);
    rest[3] = restFromSilence ? percentile(col(3), 50) : percentile(col(3), 10);
  }
  let rows = all;
  if (opts.trainOn === 'speech') {
    const fps = featureFps(features);
    const wide = widenedSpeech(
      features.speech,
      msToFrames(opts.prerollMs, fps),
      msToFrames(opts.hangoverMs, fps),
    );
    rows = all.filter((k) => wide[k] === 1);
  }
  return { rows, mean, std, z, rest, restFromSilence, trusted: all.length };
}

// ---------------------------------------------------------------------------------------------------
// Fitting

interface RidgeFit {
  weights: Float64Array;
  lambdas: number[];
  gain: number[];
}

/**
 * Ridge centred on `w0` over the given rows, lambda per output by contiguous-block cross-validation,
 * and the variance-restoring gain from the held-out predictions.
 */
function fitRidge(
  x: Float32Array,
  d: number,
  z: Float64Array,
  rows: number[],
  w0: Float64Array,
  opts: FitOptions,
): RidgeFit {
  const n = rows.length;
  const g = new Float64Array(d * d);
  const b = new Float64Array(d * OUT);
  const lambdas = new Array<number>(OUT).fill(opts.defaultLambda);
  const gain = new Array<number>(OUT).fill(1);
  const folds = Math.max(2, Math.floor(opts.folds));
  const candidates =
    n >= opts.lambdaCvFrames && opts.lambdas.length > 0 ? opts.lambdas : [opts.defaultLambda];
  if (n >= opts.minCvFrames) {
    // Per-fold Gram matrices; the training Gram of a fold is the total minus its own.
    const fg: Float64Array[] = [];
    const fb: Float64Array[] = [];
    const bounds: number[] = [];
    for (let f = 0; f <= folds; f++) bounds.push(Math.round((f * n) / folds));
    for (let f = 0; f < folds; f++) {
      const gf = new Float64Array(d * d);
      const bf = new Float64Array(d * OUT);
      for (let r = bounds[f] as number; r < (bounds[f + 1] as number); r++) {
        const k = rows[r] as number;
        accumulate(x, d, k, z.subarray(k * OUT, k * OUT + OUT), gf, bf);
      }
      symmetrize(gf, d);
      fg.push(gf);
      fb.push(bf);
      for (let i = 0; i < d * d; i++) g[i] = (g[i] as number) + (gf[i] as number);
      for (let i = 0; i < d * OUT; i++) b[i] = (b[i] as number) + (bf[i] as number);
    }
    // Held-out predictions per lambda.
    const held = candidates.map(() => new Float64Array(n * OUT));
    const gt = new Float64Array(d * d);
    const bt = new Float64Array(d * OUT);
    const p = new Float64Array(OUT);
    for (let f = 0; f < folds; f++) {
      const gf = fg[f] as Float64Array;
      const bf = fb[f] as Float64Array;
      for (let i = 0; i < d * d; i++) gt[i] = (g[i] as number) - (gf[i] as number);
      for (let i = 0; i < d * OUT; i++) bt[i] = (b[i] as number) - (bf[i] as number);
      candidates.forEach((lambda, li) => {
        const w = ridge(gt, bt, d, OUT, lambda, w0);
        const out = held[li] as Float64Array;
        for (let r = bounds[f] as number; r < (bounds[f + 1] as number); r++) {
          predictRowZ(x, d, rows[r] as number, w, p);
          for (let c = 0; c < OUT; c++) out[r * OUT + c] = p[c] as number;
        }
      });
    }
    for (let c = 0; c < OUT; c++) {
      let bestErr = Infinity;
      let bestLi = 0;
      candidates.forEach((_, li) => {
        const out = held[li] as Float64Array;
        let err = 0;
        for (let r = 0; r < n; r++)
          err += ((out[r * OUT + c] as number) - (z[(rows[r] as number) * OUT + c] as number)) ** 2;
        if (err < bestErr - 1e-12) {
          bestErr = err;
          bestLi = li;
        }
      });
      lambdas[c] = candidates[bestLi] as number;
      // Gain: std of the targets over std of the held-out predictions (ridge shrinks them).
      const out = held[bestLi] as Float64Array;
      let sp = 0;
      let spp = 0;
      let st = 0;
      let stt = 0;
      for (let r = 0; r < n; r++) {
        const v = out[r * OUT + c] as number;
        const t = z[(rows[r] as number) * OUT + c] as number;
        sp += v;
        spp += v * v;
        st += t;
        stt += t * t;
      }
      const vp = spp / n - (sp / n) ** 2;
      const vt = stt / n - (st / n) ** 2;
      gain[c] = vp > 1e-12 && vt > 0 ? Math.min(opts.maxGain, Math.max(1, Math.sqrt(vt / vp))) : 1;
    }
  } else {
    for (const k of rows) accumulate(x, d, k, z.subarray(k * OUT, k * OUT + OUT), g, b);
    symmetrize(g, d);
  }
  // Final weights, one solve per distinct lambda.
  const weights = new Float64Array(d * OUT);
  for (const lambda of new Set(lambdas)) {
    const w = ridge(g, b, d, OUT, lambda, w0);
    for (let c = 0; c < OUT; c++) {
      if (lambdas[c] !== lambda) continue;
      for (let i = 0; i < d; i++) weights[i * OUT + c] = w[i * OUT + c] as number;
    }
  }
  return { weights, lambdas, gain };
}

function priorWeights(prior: MouthPrior | null, d: number, extras: Extras): Float64Array {
  if (!prior) return new Float64Array(d * OUT);
  if (prior.dim !== d || prior.extras !== extras || !sameFeatureConfig(prior.featureConfig, FEATURE_CONFIG))
    throw new Error('mouth model: the prior was made for other features');
  return Float64Array.from(prior.weights);
}

/**
 * Fits the avatar's model from its own audio features and tracked shapes, centred on `prior` (or on
 * zero weights without one). With no trustworthy frames the weights are the prior's and the units
 * the prior's population averages.
 */
export function fitMouthModel(
  input: FitInput,
  prior: MouthPrior | null,
  options: Partial<FitOptions> = {},
): MouthModel {
  const opts: FitOptions = { ...DEFAULT_FIT_OPTIONS, ...options };
  checkFeatures(input.features);
  // A prior decides the extras (its weights need them); otherwise the options do.
  const extras: Extras = prior ? prior.extras : opts.extras;
  const { x, d } = designMatrix(input.features, extras);
  const w0 = priorWeights(prior, d, extras);
  const stats = clipStats(input, opts);
  let weights: Float64Array;
  let lambdas: number[];
  let gain: number[];
  if (stats.rows.length === 0) {
    weights = prior ? Float64Array.from(prior.weightsAlone) : w0;
    lambdas = [0, 0, 0, 0];
    gain = [1, 1, 1, 1];
  } else {
    ({ weights, lambdas, gain } = fitRidge(x, d, stats.z, stats.rows, w0, opts));
  }
  let mean: number[] = [...stats.mean];
  let std: number[] = [...stats.std];
  let rest: number[] = [...stats.rest];
  if (stats.trusted === 0 && prior) {
    mean = [...prior.shapeMean];
    std = [...prior.shapeStd];
    rest = prior.restZ.map((r, c) => (mean[c] as number) + r * (std[c] as number));
  }
  return {
    version: 1,
    kind: 'mouth-model',
    featureConfig: { ...FEATURE_CONFIG, tapsMs: [...FEATURE_CONFIG.tapsMs] },
    extras,
    dim: d,
    weights: Array.from(weights),
    shapeMean: mean,
    shapeStd: std,
    rest,
    lambdas,
    gain,
    smoothMs: opts.smoothMs,
    prerollMs: opts.prerollMs,
    hangoverMs: opts.hangoverMs,
    rampFrames: opts.rampFrames,
    advanceMs: opts.advanceMs,
    frames: stats.rows.length,
    usedPrior: prior !== null,
  };
}

/**
 * The generic prior: one ridge fit over the pooled frames of several clips, each z-scored on its own
 * (lambda by the same block cross-validation, blocks being whole clips when there are several).
 */
export function fitPrior(clips: FitInput[], options: Partial<FitOptions> = {}): MouthPrior {
  const opts: FitOptions = { ...DEFAULT_FIT_OPTIONS, ...options };
  const d = designDim(opts.extras);
  let total = 0;
  const parts: Array<{ x: Float32Array; z: Float64Array; rows: number[] }> = [];
  const means: ShapeVec[] = [];
  const stds: ShapeVec[] = [];
  const rests: ShapeVec[] = [];
  for (const clip of clips) {
    checkFeatures(clip.features);
    const s = clipStats(clip, opts);
    if (s.rows.length === 0) continue;
    parts.push({ x: designMatrix(clip.features, opts.extras).x, z: s.z, rows: s.rows });
    total += s.rows.length;
    means.push(s.mean);
    stds.push(s.std);
    rests.push(
      s.rest.map((r, c) => (s.std[c] ? (r - (s.mean[c] as number)) / (s.std[c] as number) : 0)) as ShapeVec,
    );
  }
  // Pool into one matrix (clips in order: the contiguous CV blocks fall roughly on clip boundaries).
  const x = new Float32Array(total * d);
  const z = new Float64Array(total * OUT);
  let r = 0;
  for (const p of parts) {
    for (const k of p.rows) {
      x.set(p.x.subarray(k * d, k * d + d), r * d);
      z.set(p.z.subarray(k * OUT, k * OUT + OUT), r * OUT);
      r++;
    }
  }
  const rows = Array.from({ length: total }, (_, i) => i);
  const fold = parts.length >= 2 ? parts.length : opts.folds;
  const zero = new Float64Array(d * OUT);
  const fit =
    total > 0
      ? fitRidge(x, d, z, rows, zero, { ...opts, lambdas: opts.priorLambdas, lambdaCvFrames: 0, folds: fold })
      : null;
  const alone =
    total > 0
      ? fitRidge(x, d, z, rows, zero, { ...opts, lambdas: opts.aloneLambdas, lambdaCvFrames: 0, folds: fold })
      : null;
  const avg = (vs: ShapeVec[], c: number, fallback: number): number =>
    vs.length === 0 ? fallback : vs.reduce((s, v) => s + (v[c] as number), 0) / vs.length;
  return {
    version: 1,
    kind: 'mouth-prior',
    featureConfig: { ...FEATURE_CONFIG, tapsMs: [...FEATURE_CONFIG.tapsMs] },
    extras: opts.extras,
    dim: d,
    weights: fit ? Array.from(fit.weights) : new Array<number>(d * OUT).fill(0),
    weightsAlone: alone ? Array.from(alone.weights) : new Array<number>(d * OUT).fill(0),
    shapeMean: [0, 1, 2, 3].map((c) => avg(means, c, 0)),
    shapeStd: [0, 1, 2, 3].map((c) => avg(stds, c, 0)),
    restZ: [0, 1, 2, 3].map((c) => avg(rests, c, 0)),
    clips: parts.length,
    frames: total,
  };
}

// ---------------------------------------------------------------------------------------------------
// Prediction

/** The series moved `frames` earlier (linear interpolation; the ends hold). */
function advance(v: Float64Array, frames: number): Float64Array {
  if (frames === 0 || v.length === 0) return v;
  const n = v.length;
  const out = new Float64Array(n);
  for (let k = 0; k < n; k++) {
    const t = Math.min(n - 1, Math.max(0, k + frames));
    const i = Math.floor(t);
    const f = t - i;
    out[k] = (v[i] as number) * (1 - f) + (v[Math.min(n - 1, i + 1)] as number) * f;
  }
  return out;
}

/** Raw model output in the avatar's z units per frame and dimension (no smoothing, gain or closure). */
export function predictZ(model: MouthModel, features: AudioFeatures): Float64Array {
  checkFeatures(features);
  const { x, d } = designMatrix(features, model.extras);
  if (d !== model.dim) throw new RangeError('mouth model: feature dim differs from the model');
  const n = features.frames;
  const out = new Float64Array(n * OUT);
  const p = new Float64Array(OUT);
  for (let k = 0; k < n; k++) {
    predictRowZ(x, d, k, model.weights, p);
    out.set(p, k * OUT);
  }
  return out;
}

/**
 * How much of the predicted (speaking) shape each frame shows, 0..1: 1 inside the widened speech mask,
 * falling linearly to 0 over `rampFrames` outside it.
 */
export function speechWeight(
  speech: Uint8Array,
  fps: number,
  prerollMs: number,
  hangoverMs: number,
  rampFrames: number,
): Float64Array {
  const n = speech.length;
  const wide = widenedSpeech(speech, msToFrames(prerollMs, fps), msToFrames(hangoverMs, fps));
  // Distance to the nearest widened-speech frame.
  const dist = new Float64Array(n).fill(Infinity);
  let last = -Infinity;
  for (let k = 0; k < n; k++) {
    if (wide[k] === 1) last = k;
    dist[k] = k - last;
  }
  last = Infinity;
  for (let k = n - 1; k >= 0; k--) {
    if (wide[k] === 1) last = k;
    dist[k] = Math.min(dist[k] as number, last - k);
  }
  const ramp = Math.max(0, Math.round(rampFrames));
  const out = new Float64Array(n);
  for (let k = 0; k < n; k++) out[k] = Math.max(0, 1 - (dist[k] as number) / (ramp + 1));
  return out;
}

/** Predicted mouth shape per video frame of `features`, in the avatar's units. */
export function predictShapes(model: MouthModel, features: AudioFeatures): MouthShape[] {
  const n = features.frames;
  const fps = featureFps(features);
  const z = predictZ(model, features);
  const sigma = (model.smoothMs * fps) / 1000;
  const weight = speechWeight(features.speech, fps, model.prerollMs, model.hangoverMs, model.rampFrames);
  const dims: Float64Array[] = [];
  for (let c = 0; c < OUT; c++) {
    const col = new Float64Array(n);
    for (let k = 0; k < n; k++) col[k] = z[k * OUT + c] as number;
    const sm = advance(gaussianSmooth(col, sigma), (model.advanceMs * fps) / 1000);
    const g = model.gain[c] ?? 1;
    const m = model.shapeMean[c] as number;
    const s = model.shapeStd[c] as number;
    const rest = model.rest[c] as number;
    for (let k = 0; k < n; k++) {
      const own = m + s * g * (sm[k] as number);
      const w = weight[k] as number;
      sm[k] = w * own + (1 - w) * rest;
    }
    dims.push(sm);
  }
  const out: MouthShape[] = [];
  const [o, wd, r, t] = dims as [Float64Array, Float64Array, Float64Array, Float64Array];
  for (let k = 0; k < n; k++) {
    out.push({
      opening: Math.max(0, o[k] as number),
      width: Math.max(0, wd[k] as number),
      rounding: Math.max(0, r[k] as number),
      teeth: Math.min(1, Math.max(0, t[k] as number)),
    });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------
// JSON

function round5(v: number): number {
  return Number.isFinite(v) ? Number(v.toPrecision(5)) : 0;
}

function isNumArray(v: unknown, len?: number): v is number[] {
  return (
    Array.isArray(v) &&
    (len === undefined || v.length === len) &&
    v.every((x) => typeof x === 'number' && Number.isFinite(x))
  );
}

function checkConfig(obj: Record<string, unknown>, what: string): void {
  const fc = obj.featureConfig as FeatureConfig | undefined;
  if (!fc || typeof fc !== 'object' || !sameFeatureConfig(fc, FEATURE_CONFIG))
    throw new Error(`${what}: made for another feature configuration`);
  const extras = obj.extras as Extras;
  if (!EXTRAS.includes(extras)) throw new Error(`${what}: unknown extras ${String(obj.extras)}`);
  const d = designDim(extras);
  if (obj.dim !== d) throw new Error(`${what}: dim ${String(obj.dim)}, expected ${d}`);
  if (!isNumArray(obj.weights, d * OUT)) throw new Error(`${what}: bad weights`);
}

export function serializePrior(prior: MouthPrior): string {
  return JSON.stringify({
    ...prior,
    weights: prior.weights.map(round5),
    weightsAlone: prior.weightsAlone.map(round5),
  });
}

/** Parses and validates a prior (JSON text or the parsed object); throws when malformed or made for another feature configuration. */
export function parsePrior(json: unknown): MouthPrior {
  const obj = (typeof json === 'string' ? JSON.parse(json) : json) as Record<string, unknown>;
  if (!obj || typeof obj !== 'object' || obj.kind !== 'mouth-prior' || obj.version !== 1)
    throw new Error('mouth prior: not a version 1 mouth prior');
  checkConfig(obj, 'mouth prior');
  for (const key of ['shapeMean', 'shapeStd', 'restZ'])
    if (!isNumArray(obj[key], OUT)) throw new Error(`mouth prior: bad ${key}`);
  if (!isNumArray(obj.weightsAlone, (obj.weights as number[]).length))
    throw new Error('mouth prior: bad weightsAlone');
  if (typeof obj.clips !== 'number' || typeof obj.frames !== 'number')
    throw new Error('mouth prior: bad counts');
  return obj as unknown as MouthPrior;
}

export function serializeModel(model: MouthModel): string {
  return JSON.stringify({ ...model, weights: model.weights.map(round5) });
}

/** Parses and validates a cached model (JSON text or the parsed object); throws when malformed or made for another feature configuration. */
export function parseModel(json: unknown): MouthModel {
  const obj = (typeof json === 'string' ? JSON.parse(json) : json) as Record<string, unknown>;
  if (!obj || typeof obj !== 'object' || obj.kind !== 'mouth-model' || obj.version !== 1)
    throw new Error('mouth model: not a version 1 mouth model');
  checkConfig(obj, 'mouth model');
  for (const key of ['shapeMean', 'shapeStd', 'rest', 'lambdas', 'gain'])
    if (!isNumArray(obj[key], OUT)) throw new Error(`mouth model: bad ${key}`);
  for (const key of ['smoothMs', 'prerollMs', 'hangoverMs', 'rampFrames', 'frames', 'advanceMs'])
    if (typeof obj[key] !== 'number' || !Number.isFinite(obj[key]) || (obj[key] as number) < 0)
      throw new Error(`mouth model: bad ${key}`);
  if (typeof obj.usedPrior !== 'boolean') throw new Error('mouth model: bad usedPrior');
  return obj as unknown as MouthModel;
}
