/**
 * Mouth samples in, mouth samples out: cutting the lower face of a tracked frame into a canonical-pose
 * sample (yuv444 at the video's own face scale), and pasting a sample back onto a frame through that
 * frame's pose with a feathered lower-face mask, a per-channel colour match and a blend weight.
 *
 * Conventions. A sample pixel (i, j) is centred on canonical (u0 + (i + 0.5) / sx, v0 + (j + 0.5) / sy),
 * sx = width / (u1 - u0), sy = height / (v1 - v0) (equal up to the rounding of the sizes to even numbers).
 * Image pixel (x, y) is centred on image coordinates (x, y). yuv420p chroma uses the H.264 / MPEG-2
 * default siting ("left"): chroma pixel (cx, cy) sits at luma (2 cx, 2 cy + 0.5).
 */
import { invertAffine } from './geometry.ts';
import { CROP_EXTENT } from './types.ts';
import type { CropGeometry, MouthSample, Pose, YuvFrame } from './types.ts';

// ---------------------------------------------------------------------------------------------------------
// Crop geometry

export interface CropGeometryOptions {
  /** Lower clamp of the sample scale, pixels per canonical unit (default 24). */
  minPixelsPerUnit?: number;
  /** Upper clamp of the sample scale (default 160). */
  maxPixelsPerUnit?: number;
  /** Canonical region the samples cover (default CROP_EXTENT). */
  extent?: { u0: number; u1: number; v0: number; v1: number };
}

/**
 * The sample geometry for a video whose median inter-ocular distance is `iodPixels` source pixels:
 * samples at the face's own scale (clamped to [24, 160] px per unit), sizes rounded to even numbers.
 */
export function cropGeometry(iodPixels: number, opts: CropGeometryOptions = {}): CropGeometry {
  if (!Number.isFinite(iodPixels) || iodPixels <= 0) {
    throw new RangeError(`inter-ocular distance must be a positive number, got ${iodPixels}`);
  }
  const lo = opts.minPixelsPerUnit ?? 24;
  const hi = opts.maxPixelsPerUnit ?? 160;
  const { u0, u1, v0, v1 } = opts.extent ?? CROP_EXTENT;
  const ppu = Math.min(hi, Math.max(lo, iodPixels));
  const width = Math.max(2, 2 * Math.round(((u1 - u0) * ppu) / 2));
  const height = Math.max(2, 2 * Math.round(((v1 - v0) * ppu) / 2));
  return { u0, u1, v0, v1, width, height, pixelsPerUnit: width / (u1 - u0) };
}

/** Bytes of one yuv444 planar sample of `geom`. */
export function sampleBytes(geom: CropGeometry): number {
  return geom.width * geom.height * 3;
}

function chromaSize(frame: YuvFrame): { cw: number; ch: number } {
  const cw = (frame.width + 1) >> 1;
  const ch = (frame.height + 1) >> 1;
  const need = frame.width * frame.height + 2 * cw * ch;
  if (frame.data.length < need) {
    throw new RangeError(
      `yuv420p frame ${frame.width}x${frame.height} needs ${need} bytes, has ${frame.data.length}`,
    );
  }
  return { cw, ch };
}

function checkSample(sample: MouthSample, geom: CropGeometry): void {
  if (sample.length < sampleBytes(geom)) {
    throw new RangeError(`sample has ${sample.length} bytes, geometry needs ${sampleBytes(geom)}`);
  }
}

/** Bilinear read of an 8-bit plane at (x, y), clamped to the plane's edge. */
function bilinearClamped(
  plane: Uint8Array,
  offset: number,
  w: number,
  h: number,
  x: number,
  y: number,
): number {
  if (x < 0) x = 0;
  else if (x > w - 1) x = w - 1;
  if (y < 0) y = 0;
  else if (y > h - 1) y = h - 1;
  const x0 = Math.floor(x);
  const y0 = Math.floor(y);
  const ax = x - x0;
  const ay = y - y0;
  const dx = x0 < w - 1 ? 1 : 0;
  const dy = y0 < h - 1 ? w : 0;
  const k = offset + y0 * w + x0;
  const p00 = plane[k]!;
  const p01 = plane[k + dx]!;
  const p10 = plane[k + dy]!;
  const p11 = plane[k + dy + dx]!;
  const top = p00 + ax * (p01 - p00);
  const bottom = p10 + ax * (p11 - p10);
  return top + ay * (bottom - top);
}

// ---------------------------------------------------------------------------------------------------------
// Extraction

/**
 * Cuts the canonical crop `geom` out of `frame` through `pose` (canonical -> image): each sample pixel's
 * canonical point mapped into the frame and read bilinearly from Y and from the half-resolution U / V
 * planes; points outside the frame clamp to its edge. Writes into `out` when given (>= 3 w h bytes).
 */
export function extractSample(
  frame: YuvFrame,
  pose: Pose,
  geom: CropGeometry,
  out?: MouthSample,
): MouthSample {
  const { width: W, height: H, data } = frame;
  const { cw, ch } = chromaSize(frame);
  const sw = geom.width;
  const sh = geom.height;
  const n = sw * sh;
  const sample = out ?? new Uint8Array(3 * n);
  checkSample(sample, geom);
  const [a, b, c, d, tx, ty] = pose;
  const du = (geom.u1 - geom.u0) / sw;
  const dv = (geom.v1 - geom.v0) / sh;
  const uOff = W * H;
  const vOff = uOff + cw * ch;
  const Wm = W - 1;
  const Hm = H - 1;
  const cWm = cw - 1;
  const cHm = ch - 1;
  // Image position steps per sample column.
  const stepX = a * du;
  const stepY = c * du;
  for (let j = 0; j < sh; j++) {
    const v = geom.v0 + (j + 0.5) * dv;
    const u = geom.u0 + 0.5 * du;
    let x = a * u + b * v + tx;
    let y = c * u + d * v + ty;
    let k = j * sw;
    for (let i = 0; i < sw; i++, k++, x += stepX, y += stepY) {
      // Luma.
      let px = x < 0 ? 0 : x > Wm ? Wm : x;
      let py = y < 0 ? 0 : y > Hm ? Hm : y;
      let x0 = px | 0;
      let y0 = py | 0;
      let ax = px - x0;
      let ay = py - y0;
      let dx = x0 < Wm ? 1 : 0;
      let dy = y0 < Hm ? W : 0;
      let q = y0 * W + x0;
      let p00 = data[q]!;
      let p01 = data[q + dx]!;
      let p10 = data[q + dy]!;
      let p11 = data[q + dy + dx]!;
      let top = p00 + ax * (p01 - p00);
      let bottom = p10 + ax * (p11 - p10);
      sample[k] = (top + ay * (bottom - top) + 0.5) | 0;
      // Chroma: chroma (cx, cy) sits at luma (2 cx, 2 cy + 0.5).
      px = x * 0.5;
      py = (y - 0.5) * 0.5;
      px = px < 0 ? 0 : px > cWm ? cWm : px;
      py = py < 0 ? 0 : py > cHm ? cHm : py;
      x0 = px | 0;
      y0 = py | 0;
      ax = px - x0;
      ay = py - y0;
      dx = x0 < cWm ? 1 : 0;
      dy = y0 < cHm ? cw : 0;
      q = uOff + y0 * cw + x0;
      p00 = data[q]!;
      p01 = data[q + dx]!;
      p10 = data[q + dy]!;
      p11 = data[q + dy + dx]!;
      top = p00 + ax * (p01 - p00);
      bottom = p10 + ax * (p11 - p10);
      sample[n + k] = (top + ay * (bottom - top) + 0.5) | 0;
      q += vOff - uOff;
      p00 = data[q]!;
      p01 = data[q + dx]!;
      p10 = data[q + dy]!;
      p11 = data[q + dy + dx]!;
      top = p00 + ax * (p01 - p00);
      bottom = p10 + ax * (p11 - p10);
      sample[2 * n + k] = (top + ay * (bottom - top) + 0.5) | 0;
    }
  }
  return sample;
}

// ---------------------------------------------------------------------------------------------------------
// The lower-face mask

/**
 * A feathered lower-face region in canonical coordinates: an ellipse around mouth and chin, clipped
 * above at `topV` (the nose base). The mask is 1 deep inside and falls to 0 at the boundary over
 * `feather` canonical units (smoothstep), so nothing outside the ellipse / below `topV` is touched.
 */
export interface MaskSpec {
  centerU: number;
  centerV: number;
  radiusU: number;
  radiusV: number;
  topV: number;
  feather: number;
}

export const DEFAULT_MASK: MaskSpec = Object.freeze({
  centerU: 0,
  centerV: 1.2,
  radiusU: 0.62,
  radiusV: 0.62,
  topV: 0.62,
  feather: 0.15,
});

/** A MaskSpec rendered at sample resolution, with what compositing needs precomputed. */
export interface LowerFaceMask {
  geom: CropGeometry;
  spec: MaskSpec;
  /** Blend alpha per sample pixel, 0..1 (width * height); 0 on the sample's 1-pixel border. */
  alpha: Float32Array;
  /** Sample-pixel bounds (inclusive) of the alpha > 0 support, widened by one pixel for the bilinear read. */
  i0: number;
  i1: number;
  j0: number;
  j1: number;
  /** Sample-pixel indices of (up to ~4096 of) the feather ring, 0 < alpha < 1, for the colour match. */
  ring: Int32Array;
  /** Canonical centres of the ring pixels. */
  ringU: Float32Array;
  ringV: Float32Array;
}

const MAX_RING = 4096;

/** Renders `spec` at the resolution of `geom`. Throws when the region leaves the crop. */
export function buildMask(geom: CropGeometry, spec: MaskSpec = DEFAULT_MASK): LowerFaceMask {
  const { centerU: cu, centerV: cv, radiusU: ru, radiusV: rv, topV, feather } = spec;
  if (!(ru > 0 && rv > 0 && feather > 0)) throw new RangeError('mask radii and feather must be positive');
  if (cu - ru < geom.u0 || cu + ru > geom.u1 || cv + rv > geom.v1 || topV < geom.v0 || topV >= cv + rv) {
    throw new RangeError('mask region must lie inside the crop extent');
  }
  const sw = geom.width;
  const sh = geom.height;
  const du = (geom.u1 - geom.u0) / sw;
  const dv = (geom.v1 - geom.v0) / sh;
  const alpha = new Float32Array(sw * sh);
  let i0 = sw;
  let i1 = -1;
  let j0 = sh;
  let j1 = -1;
  const ringAll: number[] = [];
  // Only the ellipse's bounding box (and a pixel) can be inside: the rest of the crop stays 0.
  const jLo = Math.max(1, Math.floor((Math.max(topV, cv - rv) - geom.v0) / dv - 1));
  const jHi = Math.min(sh - 2, Math.ceil((cv + rv - geom.v0) / dv));
  const iLo = Math.max(1, Math.floor((cu - ru - geom.u0) / du - 1));
  const iHi = Math.min(sw - 2, Math.ceil((cu + ru - geom.u0) / du));
  for (let j = jLo; j <= jHi; j++) {
    const v = geom.v0 + (j + 0.5) * dv;
    for (let i = iLo; i <= iHi; i++) {
      const u = geom.u0 + (i + 0.5) * du;
      const qx = (u - cu) / ru;
      const qy = (v - cv) / rv;
      const r = Math.hypot(qx, qy);
      // First-order distance to the ellipse (exact for a circle): (1 - r) / |grad r|.
      const grad = Math.hypot(qx / ru, qy / rv);
      const dEllipse = r < 1e-9 ? Math.min(ru, rv) : ((1 - r) * r) / grad;
      const dist = Math.min(dEllipse, v - topV);
      if (dist <= 0) continue;
      const t = Math.min(1, dist / feather);
      const a = t * t * (3 - 2 * t);
      const k = j * sw + i;
      alpha[k] = a;
      if (a > 0) {
        if (i < i0) i0 = i;
        if (i > i1) i1 = i;
        if (j < j0) j0 = j;
        if (j > j1) j1 = j;
        if (a < 1) ringAll.push(k);
      }
    }
  }
  if (i1 < 0) throw new RangeError('mask is empty at this sample resolution');
  const stride = Math.max(1, Math.ceil(ringAll.length / MAX_RING));
  const count = Math.ceil(ringAll.length / stride);
  const ring = new Int32Array(count);
  const ringU = new Float32Array(count);
  const ringV = new Float32Array(count);
  for (let n = 0; n < count; n++) {
    const k = ringAll[n * stride]!;
    ring[n] = k;
    ringU[n] = geom.u0 + ((k % sw) + 0.5) * du;
    ringV[n] = geom.v0 + (Math.floor(k / sw) + 0.5) * dv;
  }
  return {
    geom,
    spec,
    alpha,
    i0: Math.max(0, i0 - 1),
    i1: Math.min(sw - 1, i1 + 1),
    j0: Math.max(0, j0 - 1),
    j1: Math.min(sh - 1, j1 + 1),
    ring,
    ringU,
    ringV,
  };
}

/** A mouth's outer-lip extent in canonical units (a sample's own coordinates). */
export interface MouthBox {
  u0: number;
  u1: number;
  v0: number;
  v1: number;
}

export interface MouthMaskOptions {
  /** Full-alpha margin beside the mouth corners, canonical units (default 0.06). */
  marginU?: number;
  /** Full-alpha margin above and below the lips (default 0.14). */
  marginV?: number;
  /** Feather width (default 0.12). */
  feather?: number;
  /** Smallest half-width / half-height of the lips the mask assumes (default 0.4 / 0.12). */
  minHalfU?: number;
  minHalfV?: number;
}

/**
 * The per-frame mask against ghost lips (issue 15): an ellipse around the UNION of the mouths given (the
 * sample's and the base frame's, both in the sample's coordinates) that holds every lip at full alpha
 * with a margin, and feathers out beyond it. With the fixed lower-face mask, a base mouth that the head's
 * tilt, a turn or an open jaw put apart from the sample's reached into the feather and showed through
 * as a lighter second lip, and the feather ran across the chin contour (a second jaw line). Here both
 * mouths are replaced whole and the feather lies on the skin between them and the chin. Clamped to the
 * crop, above at DEFAULT_MASK.topV (the nose base); values rounded to 1/100 unit so masks can be cached.
 */
export function mouthMaskSpec(
  boxes: readonly MouthBox[],
  geom: CropGeometry,
  opts: MouthMaskOptions = {},
): MaskSpec {
  const marginU = opts.marginU ?? 0.06;
  const marginV = opts.marginV ?? 0.14;
  const feather = opts.feather ?? 0.12;
  let u0 = Infinity;
  let u1 = -Infinity;
  let v0 = Infinity;
  let v1 = -Infinity;
  for (const b of boxes) {
    if (![b.u0, b.u1, b.v0, b.v1].every(Number.isFinite)) continue;
    u0 = Math.min(u0, b.u0);
    u1 = Math.max(u1, b.u1);
    v0 = Math.min(v0, b.v0);
    v1 = Math.max(v1, b.v1);
  }
  if (!(u1 > u0 && v1 > v0)) return DEFAULT_MASK;
  const q = (x: number): number => Math.round(x * 100) / 100;
  const cu = (u0 + u1) / 2;
  const cv = (v0 + v1) / 2;
  const halfU = Math.max(opts.minHalfU ?? 0.4, (u1 - u0) / 2);
  const halfV = Math.max(opts.minHalfV ?? 0.12, (v1 - v0) / 2);
  // Inside the crop with a pixel to spare (buildMask keeps the border at 0).
  const pad = 2 / geom.pixelsPerUnit;
  const centerU = q(Math.min(geom.u1 - 0.3, Math.max(geom.u0 + 0.3, cu)));
  const centerV = q(Math.min(geom.v1 - 0.2, Math.max(geom.v0 + 0.2, cv)));
  const radiusU = q(Math.min(halfU + marginU + feather, centerU - geom.u0 - pad, geom.u1 - pad - centerU));
  const radiusV = q(Math.min(halfV + marginV + feather, geom.v1 - pad - centerV));
  const topV = q(Math.max(geom.v0 + pad, Math.min(DEFAULT_MASK.topV, centerV)));
  return { centerU, centerV, radiusU, radiusV, topV, feather };
}

/** Built masks by spec value (per-frame mouth masks repeat: their values are rounded). */
export class MaskCache {
  private readonly built = new Map<string, LowerFaceMask>();
  constructor(
    private readonly geom: CropGeometry,
    private readonly limit = 512,
  ) {}

  get(spec: MaskSpec): LowerFaceMask {
    const key = `${spec.centerU},${spec.centerV},${spec.radiusU},${spec.radiusV},${spec.topV},${spec.feather}`;
    let mask = this.built.get(key);
    if (!mask) {
      if (this.built.size >= this.limit) this.built.clear();
      mask = buildMask(this.geom, spec);
      this.built.set(key, mask);
    }
    return mask;
  }
}

function sameGeometry(a: CropGeometry, b: CropGeometry): boolean {
  return (
    a.width === b.width &&
    a.height === b.height &&
    a.u0 === b.u0 &&
    a.u1 === b.u1 &&
    a.v0 === b.v0 &&
    a.v1 === b.v1
  );
}

const maskCache = new WeakMap<MaskSpec, LowerFaceMask>();

function resolveMask(mask: LowerFaceMask | MaskSpec, geom: CropGeometry): LowerFaceMask {
  if ('alpha' in mask) {
    if (!sameGeometry(mask.geom, geom)) throw new RangeError('mask was built for another crop geometry');
    return mask;
  }
  const cached = maskCache.get(mask);
  if (cached && sameGeometry(cached.geom, geom)) return cached;
  const built = buildMask(geom, mask);
  maskCache.set(mask, built);
  return built;
}

// ---------------------------------------------------------------------------------------------------------
// Compositing

export interface CompositeOptions {
  /** Blend weight 0..1 (TrackedFrame.weight); 0 leaves the frame untouched. */
  weight: number;
  /** The lower-face mask (a prebuilt LowerFaceMask, or a MaskSpec built and cached on first use). */
  mask: LowerFaceMask | MaskSpec;
  /** Match the sample's colour to the frame over the feather ring (default true). */
  colorMatch?: boolean;
  /** Largest luma correction, code values (default 40). */
  maxLumaCorrection?: number;
  /** Largest chroma correction, code values (default 16). */
  maxChromaCorrection?: number;
}

/** The per-channel offsets (Y, U, V) colour matching would add to `sample` before blending it onto `frame`. */
export function colorOffsets(
  frame: YuvFrame,
  pose: Pose,
  sample: MouthSample,
  mask: LowerFaceMask,
  maxLuma = 40,
  maxChroma = 16,
): [number, number, number] {
  const { width: W, height: H, data } = frame;
  const { cw, ch } = chromaSize(frame);
  const n = mask.geom.width * mask.geom.height;
  const [a, b, c, d, tx, ty] = pose;
  const uOff = W * H;
  const vOff = uOff + cw * ch;
  let sy = 0;
  let su = 0;
  let sv = 0;
  const count = mask.ring.length;
  if (count === 0) return [0, 0, 0];
  for (let r = 0; r < count; r++) {
    const k = mask.ring[r]!;
    const u = mask.ringU[r]!;
    const v = mask.ringV[r]!;
    const x = a * u + b * v + tx;
    const y = c * u + d * v + ty;
    sy += bilinearClamped(data, 0, W, H, x, y) - sample[k]!;
    su += bilinearClamped(data, uOff, cw, ch, x * 0.5, (y - 0.5) * 0.5) - sample[n + k]!;
    sv += bilinearClamped(data, vOff, cw, ch, x * 0.5, (y - 0.5) * 0.5) - sample[2 * n + k]!;
  }
  const clamp = (value: number, limit: number): number => Math.max(-limit, Math.min(limit, value));
  return [clamp(sy / count, maxLuma), clamp(su / count, maxChroma), clamp(sv / count, maxChroma)];
}

/**
 * Intersects `range` (an x interval) with the x where lo <= p + q x <= hi.
 */
function clipRange(range: [number, number], p: number, q: number, lo: number, hi: number): void {
  if (Math.abs(q) < 1e-12) {
    if (p < lo || p > hi) {
      range[0] = 1;
      range[1] = 0;
    }
    return;
  }
  let a = (lo - p) / q;
  let b = (hi - p) / q;
  if (a > b) [a, b] = [b, a];
  if (a > range[0]) range[0] = a;
  if (b < range[1]) range[1] = b;
}

/**
 * Pastes `sample` (canonical crop `geom`) onto `frame` in place through `pose`: over the mask's bounding
 * region mapped into the frame, each pixel's canonical point (inverse pose) is read bilinearly from the
 * sample, shifted by the colour-match offsets and blended with alpha = weight * mask. Y at full and U / V
 * at half resolution. Pixels where the mask is 0 (and every pixel when weight is 0) stay byte-identical.
 */
export function compositeSample(
  frame: YuvFrame,
  pose: Pose,
  sample: MouthSample,
  geom: CropGeometry,
  opts: CompositeOptions,
): void {
  const weight = Math.min(1, Math.max(0, opts.weight));
  if (!(weight > 0)) return;
  const mask = resolveMask(opts.mask, geom);
  checkSample(sample, geom);
  const { width: W, height: H } = frame;
  const { cw, ch } = chromaSize(frame);
  const [offY, offU, offV] =
    opts.colorMatch === false
      ? [0, 0, 0]
      : colorOffsets(frame, pose, sample, mask, opts.maxLumaCorrection, opts.maxChromaCorrection);
  const inv = invertAffine(pose);
  const sw = geom.width;
  const n = sw * geom.height;
  const sx = sw / (geom.u1 - geom.u0);
  const sy = geom.height / (geom.v1 - geom.v0);
  // Image -> sample-pixel affine: fx = A x + B y + C, fy = D x + E y + F.
  const A = inv[0] * sx;
  const B = inv[1] * sx;
  const C = (inv[4] - geom.u0) * sx - 0.5;
  const D = inv[2] * sy;
  const E = inv[3] * sy;
  const F = (inv[5] - geom.v0) * sy - 0.5;
  const alpha = mask.alpha;
  // Support in sample pixels; the bilinear read needs fx in [i0, i1] with i1 < sw - 1 guaranteed below.
  const fi0 = mask.i0;
  const fi1 = Math.min(mask.i1, sw - 1.000001);
  const fj0 = mask.j0;
  const fj1 = Math.min(mask.j1, geom.height - 1.000001);
  const out = new Uint8ClampedArray(frame.data.buffer, frame.data.byteOffset, frame.data.byteLength);
  const range: [number, number] = [0, 0];

  // Image bounding box of the support (its corners mapped through the pose).
  const [a, b, c, d, tx, ty] = pose;
  let xMin = Infinity;
  let xMax = -Infinity;
  let yMin = Infinity;
  let yMax = -Infinity;
  for (const fi of [fi0, fi1]) {
    for (const fj of [fj0, fj1]) {
      const u = geom.u0 + (fi + 0.5) / sx;
      const v = geom.v0 + (fj + 0.5) / sy;
      const x = a * u + b * v + tx;
      const y = c * u + d * v + ty;
      if (x < xMin) xMin = x;
      if (x > xMax) xMax = x;
      if (y < yMin) yMin = y;
      if (y > yMax) yMax = y;
    }
  }

  // Luma, full resolution.
  {
    const y0 = Math.max(0, Math.floor(yMin));
    const y1 = Math.min(H - 1, Math.ceil(yMax));
    for (let y = y0; y <= y1; y++) {
      const px = B * y + C;
      const py = E * y + F;
      range[0] = Math.max(0, Math.floor(xMin));
      range[1] = Math.min(W - 1, Math.ceil(xMax));
      clipRange(range, px, A, fi0, fi1);
      clipRange(range, py, D, fj0, fj1);
      const xs = Math.ceil(range[0]);
      const xe = Math.floor(range[1]);
      let fx = px + A * xs;
      let fy = py + D * xs;
      let q = y * W + xs;
      for (let x = xs; x <= xe; x++, q++, fx += A, fy += D) {
        const ix = fx | 0;
        const iy = fy | 0;
        if (ix < 0 || iy < 0) continue; // float drift at the range ends
        const k = iy * sw + ix;
        const m00 = alpha[k]!;
        const m01 = alpha[k + 1]!;
        const m10 = alpha[k + sw]!;
        const m11 = alpha[k + sw + 1]!;
        if (m00 + m01 + m10 + m11 === 0) continue;
        const ax = fx - ix;
        const ay = fy - iy;
        const mt = m00 + ax * (m01 - m00);
        const m = mt + ay * (m10 + ax * (m11 - m10) - mt);
        const s00 = sample[k]!;
        const s01 = sample[k + 1]!;
        const s10 = sample[k + sw]!;
        const s11 = sample[k + sw + 1]!;
        const st = s00 + ax * (s01 - s00);
        const s = st + ay * (s10 + ax * (s11 - s10) - st) + offY;
        const f = out[q]!;
        out[q] = f + weight * m * (s - f);
      }
    }
  }

  // Chroma, half resolution: chroma (cx, cy) sits at luma (2 cx, 2 cy + 0.5).
  {
    const uOff = W * H;
    const vOff = uOff + cw * ch;
    const cy0 = Math.max(0, Math.floor((yMin - 0.5) / 2));
    const cy1 = Math.min(ch - 1, Math.ceil((yMax - 0.5) / 2));
    const A2 = 2 * A;
    const D2 = 2 * D;
    for (let cy = cy0; cy <= cy1; cy++) {
      const ly = 2 * cy + 0.5;
      const px = B * ly + C;
      const py = E * ly + F;
      range[0] = Math.max(0, Math.floor(xMin / 2));
      range[1] = Math.min(cw - 1, Math.ceil(xMax / 2));
      clipRange(range, px, A2, fi0, fi1);
      clipRange(range, py, D2, fj0, fj1);
      const xs = Math.ceil(range[0]);
      const xe = Math.floor(range[1]);
      let fx = px + A2 * xs;
      let fy = py + D2 * xs;
      let q = cy * cw + xs;
      for (let cx = xs; cx <= xe; cx++, q++, fx += A2, fy += D2) {
        const ix = fx | 0;
        const iy = fy | 0;
        if (ix < 0 || iy < 0) continue;
        const k = iy * sw + ix;
        const m00 = alpha[k]!;
        const m01 = alpha[k + 1]!;
        const m10 = alpha[k + sw]!;
        const m11 = alpha[k + sw + 1]!;
        if (m00 + m01 + m10 + m11 === 0) continue;
        const ax = fx - ix;
        const ay = fy - iy;
        const mt = m00 + ax * (m01 - m00);
        const wm = weight * (mt + ay * (m10 + ax * (m11 - m10) - mt));
        let kk = n + k;
        let s00 = sample[kk]!;
        let s01 = sample[kk + 1]!;
        let s10 = sample[kk + sw]!;
        let s11 = sample[kk + sw + 1]!;
        let st = s00 + ax * (s01 - s00);
        let s = st + ay * (s10 + ax * (s11 - s10) - st) + offU;
        let f = out[uOff + q]!;
        out[uOff + q] = f + wm * (s - f);
        kk += n;
        s00 = sample[kk]!;
        s01 = sample[kk + 1]!;
        s10 = sample[kk + sw]!;
        s11 = sample[kk + sw + 1]!;
        st = s00 + ax * (s01 - s00);
        s = st + ay * (s10 + ax * (s11 - s10) - st) + offV;
        f = out[vOff + q]!;
        out[vOff + q] = f + wm * (s - f);
      }
    }
  }
}
