/**
 * Diagonal-covariance Gaussian mixtures for the eval's speaker identifier (GMM-UBM, Reynolds et al.
 * 2000): a universal background model trained by EM (k-means++ seeds, a few k-means passes, a variance
 * floor) on every enrolment speaker's pooled frames, each speaker's model a MAP adaptation of the UBM
 * means to that speaker's frames, and a test utterance scored by the average per-frame log-likelihood
 * ratio of each speaker model against the UBM. Deterministic: all randomness comes from an injectable
 * RNG (seeded mulberry32 by default).
 */
import type { FrameMatrix } from './mfcc.ts';

/** Uniform numbers in [0, 1). */
export type Rng = () => number;

/** Small, fast, seeded 32-bit PRNG (mulberry32). */
export function mulberry32(seed: number): Rng {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const LOG_2PI = Math.log(2 * Math.PI);

/** log(sum(exp(values[0..n)))) without overflow. */
function logSumExp(values: Float64Array, n: number): number {
  let max = -Infinity;
  for (let i = 0; i < n; i++) max = Math.max(max, values[i] as number);
  if (max === -Infinity) return -Infinity;
  let sum = 0;
  for (let i = 0; i < n; i++) sum += Math.exp((values[i] as number) - max);
  return max + Math.log(sum);
}

/** A diagonal-covariance GMM: K components over D dimensions, means and variances row-major (k * D + d). */
export class DiagGmm {
  readonly components: number;
  readonly dim: number;
  readonly weights: Float64Array;
  readonly means: Float64Array;
  readonly variances: Float64Array;
  /** log w_k - 0.5 * (D log 2pi + sum_d log var_kd), per component. */
  private readonly logConst: Float64Array;
  private readonly invVar: Float64Array;
  private readonly scratch: Float64Array;

  constructor(weights: Float64Array, means: Float64Array, variances: Float64Array) {
    this.components = weights.length;
    this.dim = this.components > 0 ? means.length / this.components : 0;
    if (!Number.isInteger(this.dim) || means.length !== variances.length) {
      throw new RangeError('DiagGmm: means and variances must be components x dim');
    }
    this.weights = weights;
    this.means = means;
    this.variances = variances;
    this.logConst = new Float64Array(this.components);
    this.invVar = new Float64Array(variances.length);
    for (let k = 0; k < this.components; k++) {
      let logDet = 0;
      for (let d = 0; d < this.dim; d++) {
        const v = variances[k * this.dim + d] as number;
        if (!(v > 0)) throw new RangeError('DiagGmm: variances must be positive');
        logDet += Math.log(v);
        this.invVar[k * this.dim + d] = 1 / v;
      }
      const w = weights[k] as number;
      this.logConst[k] = (w > 0 ? Math.log(w) : -Infinity) - 0.5 * (this.dim * LOG_2PI + logDet);
    }
    this.scratch = new Float64Array(this.components);
  }

  /**
   * Per-component log(w_k N(x | k)) of row `t` of `x` into `out` (length >= K); returns the frame's
   * log-likelihood (their log-sum-exp).
   */
  componentLogLikelihoods(x: FrameMatrix, t: number, out: Float64Array): number {
    const D = this.dim;
    const base = t * x.dim;
    const data = x.data;
    for (let k = 0; k < this.components; k++) {
      let q = 0;
      const row = k * D;
      for (let d = 0; d < D; d++) {
        const diff = (data[base + d] as number) - (this.means[row + d] as number);
        q += diff * diff * (this.invVar[row + d] as number);
      }
      out[k] = (this.logConst[k] as number) - 0.5 * q;
    }
    return logSumExp(out, this.components);
  }

  /** log p(x_t) of one row. */
  frameLogLikelihood(x: FrameMatrix, t: number): number {
    return this.componentLogLikelihoods(x, t, this.scratch);
  }

  /** Mean per-frame log-likelihood of every row (NaN for no rows). */
  averageLogLikelihood(x: FrameMatrix): number {
    if (x.dim !== this.dim) throw new RangeError(`expected ${this.dim}-dim frames, got ${x.dim}`);
    if (x.count === 0) return Number.NaN;
    let sum = 0;
    for (let t = 0; t < x.count; t++) sum += this.frameLogLikelihood(x, t);
    return sum / x.count;
  }
}

/** Per-dimension mean and (population) variance of the rows. */
export function columnStats(x: FrameMatrix): { mean: Float64Array; variance: Float64Array } {
  const { count, dim, data } = x;
  const mean = new Float64Array(dim);
  const variance = new Float64Array(dim);
  for (let t = 0; t < count; t++)
    for (let d = 0; d < dim; d++) mean[d] = (mean[d] as number) + (data[t * dim + d] as number);
  for (let d = 0; d < dim; d++) mean[d] = (mean[d] as number) / Math.max(1, count);
  for (let t = 0; t < count; t++) {
    for (let d = 0; d < dim; d++) {
      const diff = (data[t * dim + d] as number) - (mean[d] as number);
      variance[d] = (variance[d] as number) + diff * diff;
    }
  }
  for (let d = 0; d < dim; d++) variance[d] = (variance[d] as number) / Math.max(1, count);
  return { mean, variance };
}

function squaredDistance(x: FrameMatrix, t: number, centres: Float64Array, k: number): number {
  let sum = 0;
  const base = t * x.dim;
  const row = k * x.dim;
  for (let d = 0; d < x.dim; d++) {
    const diff = (x.data[base + d] as number) - (centres[row + d] as number);
    sum += diff * diff;
  }
  return sum;
}

/**
 * k-means++ seeding (Arthur & Vassilvitskii 2007): the first centre a random row, each next one a row
 * drawn with probability proportional to its squared distance from the nearest centre so far.
 * Returns k centres row-major (k * dim). Needs count >= 1.
 */
export function kmeansPlusPlus(x: FrameMatrix, k: number, rng: Rng): Float64Array {
  const { count, dim, data } = x;
  if (count === 0) throw new RangeError('kmeans++: no frames');
  const centres = new Float64Array(k * dim);
  const nearest = new Float64Array(count).fill(Infinity);
  let pick = Math.min(count - 1, Math.floor(rng() * count));
  for (let c = 0; c < k; c++) {
    centres.set(data.subarray(pick * dim, (pick + 1) * dim), c * dim);
    if (c === k - 1) break;
    let total = 0;
    for (let t = 0; t < count; t++) {
      const d2 = squaredDistance(x, t, centres, c);
      if (d2 < (nearest[t] as number)) nearest[t] = d2;
      total += nearest[t] as number;
    }
    if (!(total > 0)) {
      // Every row sits on a centre already: repeat rows at random.
      pick = Math.min(count - 1, Math.floor(rng() * count));
      continue;
    }
    let target = rng() * total;
    pick = count - 1;
    for (let t = 0; t < count; t++) {
      target -= nearest[t] as number;
      if (target < 0) {
        pick = t;
        break;
      }
    }
  }
  return centres;
}

/** Lloyd iterations in place on `centres`; returns each row's cluster. Empty clusters keep their centre. */
export function kmeans(x: FrameMatrix, centres: Float64Array, iterations: number): Int32Array {
  const { count, dim, data } = x;
  const k = centres.length / dim;
  const assign = new Int32Array(count);
  for (let it = 0; it < iterations; it++) {
    let changed = 0;
    for (let t = 0; t < count; t++) {
      let best = 0;
      let bestD = Infinity;
      for (let c = 0; c < k; c++) {
        const d2 = squaredDistance(x, t, centres, c);
        if (d2 < bestD) {
          bestD = d2;
          best = c;
        }
      }
      if (assign[t] !== best || it === 0) changed++;
      assign[t] = best;
    }
    const sums = new Float64Array(k * dim);
    const sizes = new Float64Array(k);
    for (let t = 0; t < count; t++) {
      const c = assign[t] as number;
      sizes[c] = (sizes[c] as number) + 1;
      for (let d = 0; d < dim; d++)
        sums[c * dim + d] = (sums[c * dim + d] as number) + (data[t * dim + d] as number);
    }
    for (let c = 0; c < k; c++) {
      const n = sizes[c] as number;
      if (n === 0) continue;
      for (let d = 0; d < dim; d++) centres[c * dim + d] = (sums[c * dim + d] as number) / n;
    }
    if (changed === 0) break;
  }
  return assign;
}

export interface GmmTrainOptions {
  components: number;
  /** EM iterations at most (default 30). */
  iterations?: number;
  /** Stop when the mean log-likelihood gains less than this per iteration (default 1e-4). */
  tolerance?: number;
  /** Variance floor as a fraction of the data's per-dimension variance (default 0.01). */
  varianceFloor?: number;
  /** k-means passes after the k-means++ seeding (default 5). */
  kmeansIterations?: number;
  /** Source of randomness (default mulberry32(1)). */
  rng?: Rng;
}

export interface GmmTrainResult {
  gmm: DiagGmm;
  /** Mean per-frame log-likelihood after each EM iteration. */
  history: number[];
}

/** Maximum-likelihood diagonal GMM by EM. Needs at least one frame. */
export function trainGmm(x: FrameMatrix, opts: GmmTrainOptions): GmmTrainResult {
  const { count, dim, data } = x;
  const K = opts.components;
  if (!(K >= 1)) throw new RangeError('components must be >= 1');
  if (count === 0) throw new RangeError('trainGmm: no frames');
  const rng = opts.rng ?? mulberry32(1);
  const iterations = opts.iterations ?? 30;
  const tolerance = opts.tolerance ?? 1e-4;
  const global = columnStats(x);
  const floor = new Float64Array(dim);
  for (let d = 0; d < dim; d++)
    floor[d] = Math.max(1e-8, (opts.varianceFloor ?? 0.01) * (global.variance[d] as number));

  // Initialisation: k-means++ seeds, a few k-means passes, per-cluster variances and weights.
  const means = kmeansPlusPlus(x, K, rng);
  const assign = kmeans(x, means, opts.kmeansIterations ?? 5);
  const variances = new Float64Array(K * dim);
  const weights = new Float64Array(K);
  for (let t = 0; t < count; t++) {
    const c = assign[t] as number;
    weights[c] = (weights[c] as number) + 1;
    for (let d = 0; d < dim; d++) {
      const diff = (data[t * dim + d] as number) - (means[c * dim + d] as number);
      variances[c * dim + d] = (variances[c * dim + d] as number) + diff * diff;
    }
  }
  for (let c = 0; c < K; c++) {
    const n = weights[c] as number;
    for (let d = 0; d < dim; d++) {
      const v = n > 1 ? (variances[c * dim + d] as number) / n : (global.variance[d] as number);
      variances[c * dim + d] = Math.max(floor[d] as number, v);
    }
    weights[c] = Math.max(n, 1) / count;
  }
  normalize(weights);

  let gmm = new DiagGmm(weights, means, variances);
  const history: number[] = [];
  const logp = new Float64Array(K);
  for (let it = 0; it < iterations; it++) {
    const nk = new Float64Array(K);
    const fk = new Float64Array(K * dim);
    const sk = new Float64Array(K * dim);
    let total = 0;
    for (let t = 0; t < count; t++) {
      const ll = gmm.componentLogLikelihoods(x, t, logp);
      total += ll;
      for (let k = 0; k < K; k++) {
        const g = Math.exp((logp[k] as number) - ll);
        if (g < 1e-12) continue;
        nk[k] = (nk[k] as number) + g;
        for (let d = 0; d < dim; d++) {
          const v = data[t * dim + d] as number;
          fk[k * dim + d] = (fk[k * dim + d] as number) + g * v;
          sk[k * dim + d] = (sk[k * dim + d] as number) + g * v * v;
        }
      }
    }
    history.push(total / count);
    const w = new Float64Array(K);
    const m = new Float64Array(K * dim);
    const v = new Float64Array(K * dim);
    for (let k = 0; k < K; k++) {
      const n = nk[k] as number;
      if (n < 1e-3) {
        // A dead component: restart it on a random frame with the data's variance.
        const t = Math.min(count - 1, Math.floor(rng() * count));
        m.set(data.subarray(t * dim, (t + 1) * dim), k * dim);
        v.set(global.variance, k * dim);
        for (let d = 0; d < dim; d++) v[k * dim + d] = Math.max(floor[d] as number, v[k * dim + d] as number);
        w[k] = 1 / count;
        continue;
      }
      w[k] = n / count;
      for (let d = 0; d < dim; d++) {
        const mean = (fk[k * dim + d] as number) / n;
        m[k * dim + d] = mean;
        v[k * dim + d] = Math.max(floor[d] as number, (sk[k * dim + d] as number) / n - mean * mean);
      }
    }
    normalize(w);
    gmm = new DiagGmm(w, m, v);
    const prev = history[history.length - 2];
    if (prev !== undefined && Math.abs(total / count - prev) < tolerance) break;
  }
  return { gmm, history };
}

function normalize(w: Float64Array): void {
  let sum = 0;
  for (const v of w) sum += v;
  for (let i = 0; i < w.length; i++) w[i] = (w[i] as number) / sum;
}

/**
 * MAP adaptation of the UBM's means to `x` (Reynolds 2000): per component, alpha = n / (n + r) mixes the
 * frames' soft mean with the prior mean. Weights and variances stay the UBM's.
 */
export function mapAdaptMeans(ubm: DiagGmm, x: FrameMatrix, relevance = 16): DiagGmm {
  const K = ubm.components;
  const dim = ubm.dim;
  if (x.dim !== dim) throw new RangeError(`expected ${dim}-dim frames, got ${x.dim}`);
  const nk = new Float64Array(K);
  const fk = new Float64Array(K * dim);
  const logp = new Float64Array(K);
  for (let t = 0; t < x.count; t++) {
    const ll = ubm.componentLogLikelihoods(x, t, logp);
    for (let k = 0; k < K; k++) {
      const g = Math.exp((logp[k] as number) - ll);
      if (g < 1e-12) continue;
      nk[k] = (nk[k] as number) + g;
      for (let d = 0; d < dim; d++)
        fk[k * dim + d] = (fk[k * dim + d] as number) + g * (x.data[t * dim + d] as number);
    }
  }
  const means = new Float64Array(K * dim);
  for (let k = 0; k < K; k++) {
    const n = nk[k] as number;
    const alpha = n / (n + relevance);
    for (let d = 0; d < dim; d++) {
      const prior = ubm.means[k * dim + d] as number;
      means[k * dim + d] = n > 0 ? alpha * ((fk[k * dim + d] as number) / n) + (1 - alpha) * prior : prior;
    }
  }
  return new DiagGmm(Float64Array.from(ubm.weights), means, Float64Array.from(ubm.variances));
}

export interface IdentifierOptions {
  /** UBM components (default 64). */
  components?: number;
  /** MAP relevance factor (default 16). */
  relevance?: number;
  iterations?: number;
  varianceFloor?: number;
  rng?: Rng;
}

export interface SpeakerScore {
  id: string;
  /** Average per-frame log-likelihood ratio, speaker model against the UBM. */
  llr: number;
}

/** Closed-set GMM-UBM speaker identifier. */
export class GmmUbmIdentifier {
  private constructor(
    readonly ubm: DiagGmm,
    readonly speakers: ReadonlyMap<string, DiagGmm>,
    /** Mean log-likelihood of the UBM on its training frames, after each EM iteration. */
    readonly ubmHistory: readonly number[],
  ) {}

  /** Trains the UBM on every speaker's frames pooled, then MAP-adapts one model per speaker. */
  static train(enrolment: ReadonlyMap<string, FrameMatrix>, opts: IdentifierOptions = {}): GmmUbmIdentifier {
    const parts = [...enrolment.values()];
    if (parts.length === 0) throw new RangeError('no enrolment speakers');
    const dim = parts[0]?.dim ?? 0;
    let count = 0;
    for (const p of parts) {
      if (p.dim !== dim) throw new RangeError('enrolment frames differ in width');
      count += p.count;
    }
    const pooled = new Float64Array(count * dim);
    let offset = 0;
    for (const p of parts) {
      pooled.set(p.data, offset);
      offset += p.data.length;
    }
    const { gmm: ubm, history } = trainGmm(
      { data: pooled, count, dim },
      {
        components: opts.components ?? 64,
        iterations: opts.iterations ?? 30,
        varianceFloor: opts.varianceFloor ?? 0.01,
        rng: opts.rng ?? mulberry32(1),
      },
    );
    const speakers = new Map<string, DiagGmm>();
    for (const [id, frames] of enrolment) speakers.set(id, mapAdaptMeans(ubm, frames, opts.relevance ?? 16));
    return new GmmUbmIdentifier(ubm, speakers, history);
  }

  /** Every speaker's average LLR on `x`, best first (ties keep enrolment order). */
  score(x: FrameMatrix): SpeakerScore[] {
    if (x.count === 0) throw new RangeError('no frames to score');
    const ubmLl = new Float64Array(x.count);
    for (let t = 0; t < x.count; t++) ubmLl[t] = this.ubm.frameLogLikelihood(x, t);
    const scores: SpeakerScore[] = [];
    for (const [id, model] of this.speakers) {
      let sum = 0;
      for (let t = 0; t < x.count; t++) sum += model.frameLogLikelihood(x, t) - (ubmLl[t] as number);
      scores.push({ id, llr: sum / x.count });
    }
    return scores.sort((a, b) => b.llr - a.llr);
  }
}
