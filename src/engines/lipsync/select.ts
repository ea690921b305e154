/**
 * Sample selection for the sample-based lip-sync engine: for every output frame, which tracked source
 * frame's mouth to show, by a Viterbi search over a pruned lattice ("Video Rewrite", Bregler et al. 1997,
 * with source frames in place of triphone videos).
 *
 * Cost of a choice s_1..s_T:
 *   sum_t target(t, s_t) + sum_t join(s_{t-1}, s_t)
 *   target(t, s) = sum_d w_d ((x_td - y_sd) / sigma_d)^2 (sigma_d: the avatar's spread of dimension d)
 *   join = 0 for a natural run (s_t = s_{t-1} + 1); holdCost for a repeat (s_t = s_{t-1}), plus
 *          longHoldCost for every repeat after the first maxFreeHolds in a row (a frozen mouth); otherwise
 *          jumpCost + jumpShapeWeight * dist^2(shape of s_{t-1} + 1, shape of s_t) (how visible the cut is).
 * The state is (source frame, repeats so far capped at maxFreeHolds + 1), so the hold penalty is exact.
 *
 * Pruning: per output frame the K candidates nearest the target (k-d tree) plus the natural continuation
 * and the repeat of each of the B cheapest states of the previous frame. Jump predecessors are scanned in
 * cost order and cut off exactly once no cheaper path is possible, so a step costs well under O(K^2).
 *
 * Streaming: frames are decided in windows once `lag` more frames have been searched. A decision is
 * exact (equal to the full Viterbi over the same lattice) whenever all surviving paths share it, which
 * is checked; otherwise it is forced, paths not through it are dropped, and `forcedDecisions` counts it.
 */
import { SHAPE_KEYS } from './types.ts';
import type { MouthShape, TrackedFrame } from './types.ts';

/** Shapes as MouthShape objects or a flat Float32Array of n x 4 values in SHAPE_KEYS order. */
export type ShapeSeries = readonly MouthShape[] | Float32Array;

export interface SelectCandidates {
  /** Shape of every source frame (index = source frame number). */
  shapes: ShapeSeries;
  /** Which source frames may be shown (default: all). A track's frames are usable when ok with weight 1. */
  usable?: ArrayLike<boolean | number>;
}

export interface SelectOptions {
  /** Weights of opening, width, rounding, teeth (default [1, 0.5, 0.5, 0.25]). */
  weights?: readonly number[];
  /** Spread of each dimension to normalize by (default: standard deviation over the usable candidates). */
  scale?: readonly number[];
  /** Floor of the spreads (default 0.02). */
  minScale?: number;
  /** Candidates per output frame nearest its target (default 24). */
  candidatesPerFrame?: number;
  /** Cheapest previous states whose continuation and repeat are kept (default 24). */
  beam?: number;
  /** Cost of showing the previous frame again (default 0.15). */
  holdCost?: number;
  /** Repeats in a row that cost only holdCost (default 3, at most 200). */
  maxFreeHolds?: number;
  /** Extra cost of each further repeat (default 0.6). */
  longHoldCost?: number;
  /** Constant cost of a jump (default 0.5). */
  jumpCost?: number;
  /** Weight of the shape distance across a jump (default 1). */
  jumpShapeWeight?: number;
  /** Output frames decided at once (default 250). Infinity: the whole clip at the end (full Viterbi). */
  window?: number;
  /** Frames searched past a window before it is decided (default 250). */
  lag?: number;
}

export interface SelectStats {
  frames: number;
  /** Total cost of the chosen path under the model. */
  totalCost: number;
  meanTargetCost: number;
  /** Share of frame-to-frame steps that are natural continuations (s_t = s_{t-1} + 1). */
  naturalShare: number;
  /** Share of steps that repeat the previous frame. */
  holdShare: number;
  jumps: number;
  /** Longest stretch showing one source frame, in output frames. */
  longestHold: number;
  /** Windows decided before all surviving paths agreed (0: identical to the full Viterbi). */
  forcedDecisions: number;
}

/** The candidates of a tracked video: every frame, usable when tracked (ok) at full weight. */
export function candidatesFromTrack(frames: readonly TrackedFrame[]): SelectCandidates {
  const shapes = new Float32Array(frames.length * 4);
  const usable = new Uint8Array(frames.length);
  frames.forEach((f, i) => {
    SHAPE_KEYS.forEach((key, d) => (shapes[i * 4 + d] = f.shape[key]));
    usable[i] = f.ok && f.weight >= 1 ? 1 : 0;
  });
  return { shapes, usable };
}

function seriesLength(series: ShapeSeries): number {
  return series instanceof Float32Array ? Math.floor(series.length / 4) : series.length;
}

function seriesValue(series: ShapeSeries, i: number, d: number): number {
  if (series instanceof Float32Array) return series[i * 4 + d]!;
  return series[i]![SHAPE_KEYS[d]!];
}

interface Model {
  n: number;
  /** Normalized, weighted features, n x 4: squared distances are target costs. */
  feat: Float64Array;
  /** Features of the frame after each source frame (itself when that one is unusable or past the end). */
  next: Float64Array;
  usable: Uint8Array;
  /** Per-dimension factor: feature = value * factor. */
  factor: Float64Array;
  holdCost: number;
  longHoldCost: number;
  /** Hold levels 0..H; H = maxFreeHolds + 1. */
  H: number;
  jumpCost: number;
  jumpShapeWeight: number;
}

function buildModel(candidates: SelectCandidates, opts: SelectOptions): Model {
  const n = seriesLength(candidates.shapes);
  const usable = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    usable[i] = candidates.usable === undefined || candidates.usable[i] ? 1 : 0;
    for (let d = 0; d < 4 && usable[i]; d++) {
      if (!Number.isFinite(seriesValue(candidates.shapes, i, d))) usable[i] = 0;
    }
  }
  const weights = opts.weights ?? [1, 0.5, 0.5, 0.25];
  const minScale = opts.minScale ?? 0.02;
  const factor = new Float64Array(4);
  for (let d = 0; d < 4; d++) {
    let sigma = opts.scale?.[d];
    if (sigma === undefined) {
      let sum = 0;
      let sum2 = 0;
      let count = 0;
      for (let i = 0; i < n; i++) {
        if (!usable[i]) continue;
        const x = seriesValue(candidates.shapes, i, d);
        sum += x;
        sum2 += x * x;
        count++;
      }
      const mean = count ? sum / count : 0;
      sigma = count ? Math.sqrt(Math.max(0, sum2 / count - mean * mean)) : 1;
    }
    factor[d] = Math.sqrt(Math.max(0, weights[d] ?? 0)) / Math.max(minScale, sigma);
  }
  const feat = new Float64Array(n * 4);
  for (let i = 0; i < n; i++) {
    if (!usable[i]) continue;
    for (let d = 0; d < 4; d++) feat[i * 4 + d] = seriesValue(candidates.shapes, i, d) * factor[d]!;
  }
  const next = new Float64Array(n * 4);
  for (let i = 0; i < n; i++) {
    const src = i + 1 < n && usable[i + 1] ? i + 1 : i;
    for (let d = 0; d < 4; d++) next[i * 4 + d] = feat[src * 4 + d]!;
  }
  const maxFreeHolds = Math.min(200, Math.max(0, Math.floor(opts.maxFreeHolds ?? 3)));
  return {
    n,
    feat,
    next,
    usable,
    factor,
    holdCost: opts.holdCost ?? 0.15,
    longHoldCost: opts.longHoldCost ?? 0.6,
    H: maxFreeHolds + 1,
    jumpCost: opts.jumpCost ?? 0.5,
    jumpShapeWeight: opts.jumpShapeWeight ?? 1,
  };
}

// ---------------------------------------------------------------------------------------------------------
// k nearest neighbours in the 4-d feature space

const LEAF = 8;

class KdTree {
  private readonly idx: Int32Array;
  // Node arrays (node 0 = root). Leaves have dim = -1 and cover idx[lo, hi).
  private readonly lo: number[] = [];
  private readonly hi: number[] = [];
  private readonly dim: number[] = [];
  private readonly split: number[] = [];
  private readonly left: number[] = [];
  private readonly right: number[] = [];
  private readonly heapD: Float64Array;
  private readonly heapI: Int32Array;
  private heapSize = 0;
  private k = 0;
  private readonly q = new Float64Array(4);

  constructor(
    private readonly feat: Float64Array,
    points: Int32Array,
    maxK: number,
  ) {
    this.idx = points;
    this.heapD = new Float64Array(maxK);
    this.heapI = new Int32Array(maxK);
    if (points.length > 0) this.build(0, points.length);
  }

  private build(lo: number, hi: number): number {
    const node = this.lo.length;
    this.lo.push(lo);
    this.hi.push(hi);
    this.dim.push(-1);
    this.split.push(0);
    this.left.push(-1);
    this.right.push(-1);
    if (hi - lo <= LEAF) return node;
    let bestDim = 0;
    let bestSpread = -1;
    for (let d = 0; d < 4; d++) {
      let mn = Infinity;
      let mx = -Infinity;
      for (let i = lo; i < hi; i++) {
        const v = this.feat[this.idx[i]! * 4 + d]!;
        if (v < mn) mn = v;
        if (v > mx) mx = v;
      }
      if (mx - mn > bestSpread) {
        bestSpread = mx - mn;
        bestDim = d;
      }
    }
    if (bestSpread <= 0) return node; // all points equal: keep as one leaf
    const sorted = Array.from(this.idx.subarray(lo, hi)).sort(
      (a, b) => this.feat[a * 4 + bestDim]! - this.feat[b * 4 + bestDim]!,
    );
    this.idx.set(sorted, lo);
    const mid = (lo + hi) >> 1;
    this.dim[node] = bestDim;
    this.split[node] = this.feat[this.idx[mid]! * 4 + bestDim]!;
    const l = this.build(lo, mid);
    const r = this.build(mid, hi);
    this.left[node] = l;
    this.right[node] = r;
    return node;
  }

  /** Writes the indices of the (up to) k points nearest `z` into `out`; returns how many. */
  nearest(z: Float64Array, k: number, out: Int32Array): number {
    this.k = Math.min(k, this.idx.length, this.heapD.length);
    this.heapSize = 0;
    if (this.k === 0) return 0;
    this.q.set(z);
    this.visit(0);
    const count = this.heapSize;
    for (let i = 0; i < count; i++) out[i] = this.heapI[i]!;
    return count;
  }

  private visit(node: number): void {
    const dim = this.dim[node]!;
    if (dim < 0) {
      const q = this.q;
      for (let i = this.lo[node]!; i < this.hi[node]!; i++) {
        const p = this.idx[i]!;
        const o = p * 4;
        const d0 = q[0]! - this.feat[o]!;
        const d1 = q[1]! - this.feat[o + 1]!;
        const d2 = q[2]! - this.feat[o + 2]!;
        const d3 = q[3]! - this.feat[o + 3]!;
        this.offer(d0 * d0 + d1 * d1 + d2 * d2 + d3 * d3, p);
      }
      return;
    }
    const diff = this.q[dim]! - this.split[node]!;
    const first = diff < 0 ? this.left[node]! : this.right[node]!;
    const second = diff < 0 ? this.right[node]! : this.left[node]!;
    this.visit(first);
    if (this.heapSize < this.k || diff * diff < this.heapD[0]!) this.visit(second);
  }

  /** Max-heap of the k best (largest distance at the root). */
  private offer(dist: number, p: number): void {
    const hd = this.heapD;
    const hi = this.heapI;
    if (this.heapSize < this.k) {
      let i = this.heapSize++;
      while (i > 0) {
        const parent = (i - 1) >> 1;
        if (hd[parent]! >= dist) break;
        hd[i] = hd[parent]!;
        hi[i] = hi[parent]!;
        i = parent;
      }
      hd[i] = dist;
      hi[i] = p;
      return;
    }
    if (dist >= hd[0]!) return;
    let i = 0;
    const size = this.heapSize;
    while (true) {
      const l = 2 * i + 1;
      if (l >= size) break;
      const r = l + 1;
      const c = r < size && hd[r]! > hd[l]! ? r : l;
      if (hd[c]! <= dist) break;
      hd[i] = hd[c]!;
      hi[i] = hi[c]!;
      i = c;
    }
    hd[i] = dist;
    hi[i] = p;
  }
}

// ---------------------------------------------------------------------------------------------------------
// Costs of a given path (for the stats, and to check the search)

/** Join cost and the hold level after a step prev (at hold level prevHold) -> s. */
function join(m: Model, prev: number, prevHold: number, s: number): { cost: number; hold: number } {
  if (s === prev + 1) return { cost: 0, hold: 0 };
  if (s === prev) {
    return {
      cost: m.holdCost + (prevHold + 1 >= m.H ? m.longHoldCost : 0),
      hold: Math.min(prevHold + 1, m.H),
    };
  }
  let d2 = 0;
  for (let d = 0; d < 4; d++) {
    const diff = m.next[prev * 4 + d]! - m.feat[s * 4 + d]!;
    d2 += diff * diff;
  }
  return { cost: m.jumpCost + m.jumpShapeWeight * d2, hold: 0 };
}

function targetCost(m: Model, z: Float64Array, s: number): number {
  let d2 = 0;
  for (let d = 0; d < 4; d++) {
    const diff = z[d]! - m.feat[s * 4 + d]!;
    d2 += diff * diff;
  }
  return d2;
}

function normalizeTarget(m: Model, series: ShapeSeries, t: number, z: Float64Array): void {
  for (let d = 0; d < 4; d++) {
    const value = seriesValue(series, t, d);
    if (!Number.isFinite(value)) throw new RangeError(`target shape ${t} is not finite (${SHAPE_KEYS[d]})`);
    z[d] = value * m.factor[d]!;
  }
}

class StatsAccumulator {
  frames = 0;
  totalCost = 0;
  targetSum = 0;
  natural = 0;
  holds = 0;
  jumps = 0;
  longestHold = 0;
  forcedDecisions = 0;
  private prev = -1;
  private prevHold = 0;
  private run = 0;

  constructor(private readonly m: Model) {}

  add(s: number, tc: number): void {
    this.frames++;
    this.targetSum += tc;
    this.totalCost += tc;
    if (this.prev >= 0) {
      const j = join(this.m, this.prev, this.prevHold, s);
      this.totalCost += j.cost;
      this.prevHold = j.hold;
      if (s === this.prev + 1) this.natural++;
      else if (s === this.prev) this.holds++;
      else this.jumps++;
    }
    this.run = s === this.prev ? this.run + 1 : 1;
    if (this.run > this.longestHold) this.longestHold = this.run;
    this.prev = s;
  }

  snapshot(): SelectStats {
    const steps = Math.max(1, this.frames - 1);
    return {
      frames: this.frames,
      totalCost: this.totalCost,
      meanTargetCost: this.frames ? this.targetSum / this.frames : 0,
      naturalShare: this.frames > 1 ? this.natural / steps : 0,
      holdShare: this.frames > 1 ? this.holds / steps : 0,
      jumps: this.jumps,
      longestHold: this.longestHold,
      forcedDecisions: this.forcedDecisions,
    };
  }
}

/** Stats (cost under the model, run shares) of a given choice of source frames for `targets`. */
export function selectionStats(
  indices: ArrayLike<number>,
  targets: ShapeSeries,
  candidates: SelectCandidates,
  opts: SelectOptions = {},
): SelectStats {
  const m = buildModel(candidates, opts);
  const acc = new StatsAccumulator(m);
  const z = new Float64Array(4);
  for (let t = 0; t < indices.length; t++) {
    normalizeTarget(m, targets, t, z);
    acc.add(indices[t]!, targetCost(m, z, indices[t]!));
  }
  return acc.snapshot();
}

// ---------------------------------------------------------------------------------------------------------
// The search

/**
 * Streaming Viterbi: push target shapes as they come, collect decided source frames; `finish` decides
 * the rest. Memory is bounded by window + lag frames of lattice.
 */
export class SampleSelector {
  private readonly m: Model;
  private readonly tree: KdTree;
  private readonly K: number;
  private readonly B: number;
  private readonly window: number;
  private readonly lag: number;
  /** Lattice steps kept in a ring buffer of `cap` steps, `M` state slots each. */
  private cap: number;
  private readonly M: number;
  private src: Int32Array;
  private hold: Uint8Array;
  private bp: Int32Array;
  private tcost: Float64Array;
  private count: Int32Array;
  private cost: Float64Array;
  private prevCost: Float64Array;
  /** Global index of the oldest undecided step, and of the next step to search. */
  private base = 0;
  private t = 0;
  private finished = false;
  // Scratch.
  private readonly z = new Float64Array(4);
  private readonly knn: Int32Array;
  private readonly order: Int32Array;
  private readonly stamp: [Int32Array, Int32Array];
  private readonly slot: [Int32Array, Int32Array];
  private readonly seen: Int32Array;
  private readonly jumpSrc: Int32Array;
  private readonly jumpIdx: Int32Array;
  private readonly jumpCost: Float64Array;
  private markA: Uint8Array;
  private markB: Uint8Array;
  private readonly acc: StatsAccumulator;

  constructor(candidates: SelectCandidates, opts: SelectOptions = {}) {
    this.m = buildModel(candidates, opts);
    const { n, usable, H } = this.m;
    let usableCount = 0;
    for (let i = 0; i < n; i++) usableCount += usable[i]!;
    if (usableCount === 0) throw new RangeError('no usable source frame to select from');
    const points = new Int32Array(usableCount);
    for (let i = 0, j = 0; i < n; i++) if (usable[i]) points[j++] = i;
    this.K = Math.max(1, Math.floor(opts.candidatesPerFrame ?? 24));
    this.B = Math.max(1, Math.floor(opts.beam ?? 24));
    this.tree = new KdTree(this.m.feat, points, this.K);
    const window = opts.window ?? 250;
    this.window = Number.isFinite(window) ? Math.max(1, Math.floor(window)) : Infinity;
    this.lag = Math.max(0, Math.floor(opts.lag ?? 250));
    this.cap = Number.isFinite(this.window) ? this.window + this.lag + 1 : 1024;
    this.M = this.K + 2 * this.B;
    this.src = new Int32Array(this.cap * this.M);
    this.hold = new Uint8Array(this.cap * this.M);
    this.bp = new Int32Array(this.cap * this.M);
    this.tcost = new Float64Array(this.cap * this.M);
    this.count = new Int32Array(this.cap);
    this.cost = new Float64Array(this.M);
    this.prevCost = new Float64Array(this.M);
    this.knn = new Int32Array(this.K);
    this.order = new Int32Array(this.M);
    const keys = n * (H + 1);
    this.stamp = [new Int32Array(keys), new Int32Array(keys)];
    this.slot = [new Int32Array(keys), new Int32Array(keys)];
    this.seen = new Int32Array(n);
    this.jumpSrc = new Int32Array(this.M);
    this.jumpIdx = new Int32Array(this.M);
    this.jumpCost = new Float64Array(this.M);
    this.markA = new Uint8Array(this.M);
    this.markB = new Uint8Array(this.M);
    this.acc = new StatsAccumulator(this.m);
  }

  /** Searches the given target frames; returns the source frames decided meanwhile (maybe none). */
  push(targets: ShapeSeries): Int32Array {
    if (this.finished) throw new Error('SampleSelector.push after finish');
    const len = seriesLength(targets);
    const decided: Int32Array[] = [];
    for (let i = 0; i < len; i++) {
      normalizeTarget(this.m, targets, i, this.z);
      this.step();
      if (this.t - this.base >= this.window + this.lag) decided.push(this.commit(this.window));
    }
    return concat(decided);
  }

  /** Decides every remaining frame and ends the stream. */
  finish(): Int32Array {
    this.finished = true;
    if (this.t === this.base) return new Int32Array(0);
    return this.commit(this.t - this.base, true);
  }

  /** Stats over the frames decided so far. */
  stats(): SelectStats {
    return this.acc.snapshot();
  }

  /** One lattice step for the target in this.z. */
  private step(): void {
    if (this.t - this.base >= this.cap) this.growBuffer();
    const { m, K, B, M } = this;
    const { H, feat, next, usable } = m;
    const H1 = H + 1;
    const t = this.t;
    const row = (t % this.cap) * M;
    const par = t & 1;
    const stamp = this.stamp[par]!;
    const slot = this.slot[par]!;
    const prevStamp = this.stamp[par ^ 1]!;
    const prevSlot = this.slot[par ^ 1]!;
    const tag = t + 1;
    const src = this.src;
    const hold = this.hold;
    [this.prevCost, this.cost] = [this.cost, this.prevCost];
    const prevCost = this.prevCost;
    const cost = this.cost;
    let count = 0;
    const add = (s: number, h: number): void => {
      const key = s * H1 + h;
      if (stamp[key] === tag) return;
      stamp[key] = tag;
      slot[key] = count;
      src[row + count] = s;
      hold[row + count] = h;
      count++;
    };

    // Candidates: the K nearest the target ...
    const nk = this.tree.nearest(this.z, K, this.knn);
    for (let i = 0; i < nk; i++) add(this.knn[i]!, 0);

    let prevCount = 0;
    let prevRow = 0;
    let jumps = 0;
    if (t > 0) {
      prevRow = ((t - 1) % this.cap) * M;
      prevCount = this.count[(t - 1) % this.cap]!;
      // Previous states by cost (insertion sort; a few dozen states).
      const order = this.order;
      for (let i = 0; i < prevCount; i++) {
        const c = prevCost[i]!;
        let j = i;
        while (j > 0 && prevCost[order[j - 1]!]! > c) {
          order[j] = order[j - 1]!;
          j--;
        }
        order[j] = i;
      }
      // ... plus the continuation and the repeat of the B cheapest previous states.
      for (let r = 0; r < prevCount && r < B; r++) {
        const i = order[r]!;
        if (!(prevCost[i]! < Infinity)) break;
        const s = src[prevRow + i]!;
        if (s + 1 < m.n && usable[s + 1]) add(s + 1, 0);
        add(s, Math.min(hold[prevRow + i]! + 1, H));
      }
      // Jump predecessors: the cheapest state of each previous source frame, in cost order.
      const seen = this.seen;
      for (let r = 0; r < prevCount; r++) {
        const i = order[r]!;
        const c = prevCost[i]!;
        if (!(c < Infinity)) break;
        const s = src[prevRow + i]!;
        if (seen[s] === tag) continue;
        seen[s] = tag;
        this.jumpSrc[jumps] = s;
        this.jumpIdx[jumps] = i;
        this.jumpCost[jumps] = c + m.jumpCost;
        jumps++;
      }
    }
    if (count > M) throw new Error('lattice overflow');

    // Best predecessor of every state.
    const z = this.z;
    const jw = m.jumpShapeWeight;
    const first = prevCount > 0;
    for (let j = 0; j < count; j++) {
      const s = src[row + j]!;
      const h = hold[row + j]!;
      const o = s * 4;
      const f0 = feat[o]!;
      const f1 = feat[o + 1]!;
      const f2 = feat[o + 2]!;
      const f3 = feat[o + 3]!;
      const e0 = z[0]! - f0;
      const e1 = z[1]! - f1;
      const e2 = z[2]! - f2;
      const e3 = z[3]! - f3;
      const tc = e0 * e0 + e1 * e1 + e2 * e2 + e3 * e3;
      this.tcost[row + j] = tc;
      if (!first) {
        cost[j] = h === 0 ? tc : Infinity;
        this.bp[row + j] = -1;
        continue;
      }
      let best = Infinity;
      let arg = -1;
      if (h > 0) {
        // A repeat: from (s, h - 1), or from (s, H) staying at the cap.
        const hc = m.holdCost + (h >= H ? m.longHoldCost : 0);
        const k1 = s * H1 + h - 1;
        if (prevStamp[k1] === t) {
          const i = prevSlot[k1]!;
          const c = prevCost[i]! + hc;
          if (c < best) {
            best = c;
            arg = i;
          }
        }
        if (h === H) {
          const k2 = s * H1 + H;
          if (prevStamp[k2] === t) {
            const i = prevSlot[k2]!;
            const c = prevCost[i]! + hc;
            if (c < best) {
              best = c;
              arg = i;
            }
          }
        }
      } else {
        // A natural continuation from s - 1 at any hold level.
        if (s > 0) {
          const k0 = (s - 1) * H1;
          for (let hh = 0; hh <= H; hh++) {
            if (prevStamp[k0 + hh] !== t) continue;
            const i = prevSlot[k0 + hh]!;
            const c = prevCost[i]!;
            if (c < best) {
              best = c;
              arg = i;
            }
          }
        }
        // A jump, cheapest predecessors first; stop once the jump's constant alone cannot win.
        for (let p = 0; p < jumps; p++) {
          const base = this.jumpCost[p]!;
          if (base >= best) break;
          const ps = this.jumpSrc[p]!;
          if (ps === s || ps === s - 1) continue;
          const q = ps * 4;
          const d0 = next[q]! - f0;
          const d1 = next[q + 1]! - f1;
          const d2 = next[q + 2]! - f2;
          const d3 = next[q + 3]! - f3;
          const c = base + jw * (d0 * d0 + d1 * d1 + d2 * d2 + d3 * d3);
          if (c < best) {
            best = c;
            arg = this.jumpIdx[p]!;
          }
        }
      }
      cost[j] = best + tc;
      this.bp[row + j] = arg;
    }
    this.count[t % this.cap] = count;
    this.t++;
  }

  /**
   * Full mode only (window = Infinity, so nothing is decided before `finish` and base = 0): twice the
   * buffer. Step g sits at g % cap = g in both, so the contents copy as they are.
   */
  private growBuffer(): void {
    if (this.base !== 0) throw new Error('lattice buffer overflow');
    const cap = this.cap * 2;
    const grow = <T extends Int32Array | Uint8Array | Float64Array>(a: T, make: (n: number) => T): T => {
      const b = make(cap * (a.length / this.cap));
      b.set(a);
      return b;
    };
    this.src = grow(this.src, (n) => new Int32Array(n));
    this.hold = grow(this.hold, (n) => new Uint8Array(n));
    this.bp = grow(this.bp, (n) => new Int32Array(n));
    this.tcost = grow(this.tcost, (n) => new Float64Array(n));
    this.count = grow(this.count, (n) => new Int32Array(n));
    this.cap = cap;
  }

  /** Decides the oldest `frames` undecided steps from the best path ending at the newest step. */
  private commit(frames: number, final = false): Int32Array {
    const { M, cap } = this;
    const last = this.t - 1;
    const lastCount = this.count[last % cap]!;
    let bestIdx = -1;
    let bestCost = Infinity;
    for (let j = 0; j < lastCount; j++) {
      if (this.cost[j]! < bestCost) {
        bestCost = this.cost[j]!;
        bestIdx = j;
      }
    }
    if (bestIdx < 0) throw new Error('no finite path through the lattice');
    // Trace back to the oldest undecided step.
    const span = this.t - this.base;
    const path = new Int32Array(span); // state slot per step
    let idx = bestIdx;
    for (let k = span - 1; k >= 0; k--) {
      path[k] = idx;
      idx = this.bp[((this.base + k) % cap) * M + idx]!;
    }
    const out = new Int32Array(frames);
    for (let k = 0; k < frames; k++) {
      const row = ((this.base + k) % cap) * M;
      const s = this.src[row + path[k]!]!;
      out[k] = s;
      this.acc.add(s, this.tcost[row + path[k]!]!);
    }
    if (!final) {
      // Keep only paths through the last decided state; count it when some had to be dropped.
      const tau = this.base + frames - 1;
      let mark = this.markA;
      let nextMark = this.markB;
      mark.fill(0);
      mark[path[frames - 1]!] = 1;
      for (let g = tau + 1; g <= last; g++) {
        const row = (g % cap) * M;
        const cnt = this.count[g % cap]!;
        for (let j = 0; j < cnt; j++) {
          const b = this.bp[row + j]!;
          nextMark[j] = b >= 0 && mark[b] ? 1 : 0;
        }
        [mark, nextMark] = [nextMark, mark];
      }
      let forced = false;
      for (let j = 0; j < lastCount; j++) {
        if (!mark[j] && this.cost[j]! < Infinity) {
          this.cost[j] = Infinity;
          forced = true;
        }
      }
      if (forced) this.acc.forcedDecisions++;
      this.markA = mark;
      this.markB = nextMark;
    }
    this.base += frames;
    return out;
  }
}

function concat(parts: Int32Array[]): Int32Array {
  if (parts.length === 1) return parts[0]!;
  let total = 0;
  for (const p of parts) total += p.length;
  const out = new Int32Array(total);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** The source frame to show for every target frame (see the module comment for the model). */
export function selectSamples(
  targets: ShapeSeries,
  candidates: SelectCandidates,
  opts: SelectOptions = {},
): Int32Array {
  return selectSamplesWithStats(targets, candidates, opts).indices;
}

/** selectSamples, with the stats of the choice. */
export function selectSamplesWithStats(
  targets: ShapeSeries,
  candidates: SelectCandidates,
  opts: SelectOptions = {},
): { indices: Int32Array; stats: SelectStats } {
  const selector = new SampleSelector(candidates, opts);
  const head = selector.push(targets);
  const tail = selector.finish();
  return { indices: concat([head, tail]), stats: selector.stats() };
}
