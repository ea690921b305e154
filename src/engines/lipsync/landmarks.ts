/**
 * Pure geometry and pixel helpers of the face tracker (face-track.ts): which of the 468 MediaPipe
 * face-mesh points are kept, affine fits between point sets, temporal smoothing, the yuv420p samplers
 * that feed the detector and the mesh model, and the teeth measure. No I/O, no models.
 */
import type { Pose, YuvFrame } from './types.ts';

/**
 * The mouth landmarks kept per frame, as MediaPipe face-mesh indices: the outer lip contour (20 points)
 * then the inner lip contour (20 points), each starting at the image-left mouth corner and running
 * clockwise on screen (x right, y down): along the upper lip to the image-right corner, back along the
 * lower lip. So point 0 / 10 are the outer corners, 5 / 15 the outer upper / lower lip centre, 20 / 30
 * the inner corners, 25 / 35 the inner upper / lower lip centre (mesh points 13 / 14).
 */
export const MOUTH_POINTS: readonly number[] = [
  // outer: left corner, upper lip left to right, right corner, lower lip right to left
  61, 185, 40, 39, 37, 0, 267, 269, 270, 409, 291, 375, 321, 405, 314, 17, 84, 181, 91, 146,
  // inner: left corner, upper lip left to right, right corner, lower lip right to left
  78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308, 324, 318, 402, 317, 14, 87, 178, 88, 95,
];
/** Positions in MOUTH_POINTS (not mesh indices) of the named points. */
export const MOUTH = {
  outerCount: 20,
  innerStart: 20,
  outerLeft: 0,
  outerUpper: 5,
  outerRight: 10,
  outerLower: 15,
  innerLeft: 20,
  innerUpper: 25,
  innerRight: 30,
  innerLower: 35,
} as const;

/**
 * Stable landmarks (they do not move with the jaw or lips), MediaPipe face-mesh indices. The first four
 * are the eye corners (image-left eye outer, inner; image-right eye inner, outer): an eye centre is the
 * midpoint of its two corners (blinks do not move it). Then the nose bridge (168 6 197 195 5), the
 * forehead midline (9 151) and, weighted less, the temples (127 356) and cheekbones (116 345).
 */
export const STABLE_POINTS: readonly number[] = [
  33, 133, 362, 263, 168, 6, 197, 195, 5, 9, 151, 127, 356, 116, 345,
];
/** Least-squares weight of each STABLE_POINTS entry in the pose fit. */
export const STABLE_WEIGHTS: readonly number[] = [2, 2, 2, 2, 1, 1, 1, 1, 1, 1, 1, 0.5, 0.5, 0.5, 0.5];

/** Every point the tracker keeps per frame, in this order: STABLE_POINTS then MOUTH_POINTS. */
export const TRACKED_POINTS: readonly number[] = [...STABLE_POINTS, ...MOUTH_POINTS];
/** Offset (in points) of the mouth within TRACKED_POINTS. */
export const MOUTH_OFFSET = STABLE_POINTS.length;

/** Eye centres (image-left eye first) of a point array in TRACKED_POINTS order (or STABLE_POINTS order). */
export function eyeCentres(pts: ArrayLike<number>): [number, number, number, number] {
  return [(pts[0]! + pts[2]!) / 2, (pts[1]! + pts[3]!) / 2, (pts[4]! + pts[6]!) / 2, (pts[5]! + pts[7]!) / 2];
}

export const IDENTITY_POSE: Pose = [1, 0, 0, 1, 0, 0];

/** Maps canonical (u, v) to image (x, y). */
export function applyPose(p: Pose, u: number, v: number): [number, number] {
  return [p[0] * u + p[1] * v + p[4], p[2] * u + p[3] * v + p[5]];
}

/** The inverse map (image -> canonical), as a Pose; a degenerate pose gives the identity. */
export function invertPose(p: Pose): Pose {
  const [a, b, c, d, tx, ty] = p;
  const det = a * d - b * c;
  if (!Number.isFinite(det) || Math.abs(det) < 1e-12) return IDENTITY_POSE;
  const ia = d / det;
  const ib = -b / det;
  const ic = -c / det;
  const id = a / det;
  return [ia, ib, ic, id, -(ia * tx + ib * ty), -(ic * tx + id * ty)];
}

/** Applies `p` to every (x, y) pair of `pts`, into a new Float32Array. */
export function mapPoints(p: Pose, pts: ArrayLike<number>): Float32Array {
  const out = new Float32Array(pts.length);
  for (let i = 0; i + 1 < pts.length; i += 2) {
    const u = pts[i]!;
    const v = pts[i + 1]!;
    out[i] = p[0] * u + p[1] * v + p[4];
    out[i + 1] = p[2] * u + p[3] * v + p[5];
  }
  return out;
}

/** Solves the 3x3 system m * x = r (row-major m) by Cramer's rule; null when singular. */
function solve3(m: number[], r: number[]): [number, number, number] | null {
  const [a, b, c, d, e, f, g, h, i] = m as [
    number,
    number,
    number,
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const det = a * (e * i - f * h) - b * (d * i - f * g) + c * (d * h - e * g);
  if (!Number.isFinite(det) || Math.abs(det) < 1e-12) return null;
  const [r0, r1, r2] = r as [number, number, number];
  return [
    (r0 * (e * i - f * h) - b * (r1 * i - f * r2) + c * (r1 * h - e * r2)) / det,
    (a * (r1 * i - f * r2) - r0 * (d * i - f * g) + c * (d * r2 - r1 * g)) / det,
    (a * (e * r2 - r1 * h) - b * (d * r2 - r1 * g) + r0 * (d * h - e * g)) / det,
  ];
}

/**
 * Weighted least-squares affine map from `src` points to `dst` points ([x0, y0, x1, y1, ...], same
 * length, at least 3 points not on one line): minimises sum w_i |A src_i + t - dst_i|^2. Null when the
 * problem is degenerate.
 */
export function fitAffine(
  src: ArrayLike<number>,
  dst: ArrayLike<number>,
  weights?: readonly number[],
): Pose | null {
  const n = Math.min(src.length, dst.length) >> 1;
  // Normal equations in (u, v, 1): M = sum w [u v 1]^T [u v 1], rx = sum w [u v 1] x, ry likewise.
  let suu = 0;
  let suv = 0;
  let su = 0;
  let svv = 0;
  let sv = 0;
  let sw = 0;
  let sxu = 0;
  let sxv = 0;
  let sx = 0;
  let syu = 0;
  let syv = 0;
  let sy = 0;
  for (let k = 0; k < n; k++) {
    const w = weights?.[k] ?? 1;
    const u = src[2 * k]!;
    const v = src[2 * k + 1]!;
    const x = dst[2 * k]!;
    const y = dst[2 * k + 1]!;
    suu += w * u * u;
    suv += w * u * v;
    su += w * u;
    svv += w * v * v;
    sv += w * v;
    sw += w;
    sxu += w * x * u;
    sxv += w * x * v;
    sx += w * x;
    syu += w * y * u;
    syv += w * y * v;
    sy += w * y;
  }
  const m = [suu, suv, su, suv, svv, sv, su, sv, sw];
  const px = solve3(m, [sxu, sxv, sx]);
  const py = solve3(m, [syu, syv, sy]);
  if (!px || !py) return null;
  return [px[0], px[1], py[0], py[1], px[2], py[2]];
}

/**
 * The similarity (rotation + uniform scale + translation) image -> eye-normalised coordinates that takes
 * the eye centres (lx, ly) and (rx, ry) to (-0.5, 0) and (0.5, 0).
 */
export function eyeNormalizer(lx: number, ly: number, rx: number, ry: number): Pose {
  const dx = rx - lx;
  const dy = ry - ly;
  const d2 = dx * dx + dy * dy;
  if (!(d2 > 1e-12)) return IDENTITY_POSE;
  // Canonical -> image similarity: (u, v) -> mid + u * (dx, dy) + v * (-dy, dx).
  const mx = (lx + rx) / 2;
  const my = (ly + ry) / 2;
  return invertPose([dx, -dy, dy, dx, mx, my]);
}

/**
 * Centred Gaussian smoothing of `count` interleaved channels of `series` (frame-major:
 * series[f * count + c]) within runs of frames where `ok[f]`; near a run's ends the kernel is cut and
 * renormalised. Frames outside runs are copied unchanged. sigma <= 0 copies everything.
 */
export function smoothRuns(
  series: Float64Array,
  count: number,
  ok: readonly boolean[],
  sigma: number,
): Float64Array {
  const out = Float64Array.from(series);
  if (!(sigma > 0)) return out;
  const radius = Math.max(1, Math.ceil(3 * sigma));
  const kernel: number[] = [];
  for (let k = -radius; k <= radius; k++) kernel.push(Math.exp(-(k * k) / (2 * sigma * sigma)));
  const frames = ok.length;
  let f = 0;
  while (f < frames) {
    if (!ok[f]) {
      f++;
      continue;
    }
    let end = f;
    while (end < frames && ok[end]) end++;
    for (let i = f; i < end; i++) {
      for (let c = 0; c < count; c++) {
        let acc = 0;
        let wsum = 0;
        for (let k = -radius; k <= radius; k++) {
          const j = i + k;
          if (j < f || j >= end) continue;
          const w = kernel[k + radius]!;
          acc += w * series[j * count + c]!;
          wsum += w;
        }
        out[i * count + c] = acc / wsum;
      }
    }
    f = end;
  }
  return out;
}

/** Even-odd point-in-polygon test; `poly` is [x0, y0, x1, y1, ...] read from `offset` for `n` points. */
export function insidePolygon(
  poly: ArrayLike<number>,
  offset: number,
  n: number,
  x: number,
  y: number,
): boolean {
  let inside = false;
  for (let i = 0, j = n - 1; i < n; j = i++) {
    const xi = poly[2 * (offset + i)]!;
    const yi = poly[2 * (offset + i) + 1]!;
    const xj = poly[2 * (offset + j)]!;
    const yj = poly[2 * (offset + j) + 1]!;
    if (yi > y !== yj > y && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}

/** A teeth pixel's luma is at least this many times the mean luma of the lips around it. */
export const TEETH_LUMA_RATIO = 1.12;
/** Largest |U - 128| and |V - 128| of a teeth pixel (teeth are near grey; lips and skin are not). */
export const TEETH_CHROMA_MAX = 22;

/**
 * Teeth showing in one frame: the share of pixels inside the inner-lip polygon whose luma is at least
 * TEETH_LUMA_RATIO times the mean luma of the lip ring (inside the outer contour, outside the inner one) and
 * whose chroma is within TEETH_CHROMA_MAX of neutral. `mouth` holds the 40 MOUTH_POINTS in image pixels
 * of `frame`. 0 when the inner polygon covers less than 4 pixels (a closed mouth).
 */
export function teethShare(frame: YuvFrame, mouth: ArrayLike<number>): number {
  const { width: w, height: h, data } = frame;
  const cw = w >> 1;
  const uOff = w * h;
  const vOff = uOff + cw * (h >> 1);
  let x0 = Infinity;
  let y0 = Infinity;
  let x1 = -Infinity;
  let y1 = -Infinity;
  for (let k = 0; k < MOUTH.outerCount; k++) {
    x0 = Math.min(x0, mouth[2 * k]!);
    x1 = Math.max(x1, mouth[2 * k]!);
    y0 = Math.min(y0, mouth[2 * k + 1]!);
    y1 = Math.max(y1, mouth[2 * k + 1]!);
  }
  const xa = Math.max(0, Math.floor(x0));
  const xb = Math.min(w - 1, Math.ceil(x1));
  const ya = Math.max(0, Math.floor(y0));
  const yb = Math.min(h - 1, Math.ceil(y1));
  if (!(xb > xa && yb > ya)) return 0;
  // Pass 1: classify pixels (0 outside, 1 lip ring, 2 inner) and get the lip ring's mean luma.
  const bw = xb - xa + 1;
  const cls = new Uint8Array(bw * (yb - ya + 1));
  let ringSum = 0;
  let ringCount = 0;
  let innerCount = 0;
  for (let y = ya; y <= yb; y++) {
    for (let x = xa; x <= xb; x++) {
      const px = x + 0.5;
      const py = y + 0.5;
      if (!insidePolygon(mouth, 0, MOUTH.outerCount, px, py)) continue;
      const idx = (y - ya) * bw + (x - xa);
      if (insidePolygon(mouth, MOUTH.innerStart, MOUTH.outerCount, px, py)) {
        cls[idx] = 2;
        innerCount++;
      } else {
        cls[idx] = 1;
        ringSum += data[y * w + x]!;
        ringCount++;
      }
    }
  }
  if (innerCount < 4 || ringCount === 0) return 0;
  const threshold = (ringSum / ringCount) * TEETH_LUMA_RATIO;
  let teeth = 0;
  for (let y = ya; y <= yb; y++) {
    for (let x = xa; x <= xb; x++) {
      if (cls[(y - ya) * bw + (x - xa)] !== 2) continue;
      if (data[y * w + x]! < threshold) continue;
      const ci = (y >> 1) * cw + (x >> 1);
      if (Math.abs(data[uOff + ci]! - 128) > TEETH_CHROMA_MAX) continue;
      if (Math.abs(data[vOff + ci]! - 128) > TEETH_CHROMA_MAX) continue;
      teeth++;
    }
  }
  return teeth / innerCount;
}

/** Checks that `frame` is a well-formed yuv420p frame (even sides, right byte count). */
export function checkYuvFrame(frame: YuvFrame): void {
  const { width: w, height: h, data } = frame;
  if (!Number.isInteger(w) || !Number.isInteger(h) || w < 2 || h < 2 || w % 2 || h % 2) {
    throw new RangeError(`bad yuv420p frame size ${w}x${h} (sides must be even and >= 2)`);
  }
  const need = w * h + 2 * (w / 2) * (h / 2);
  if (data.length !== need) throw new RangeError(`yuv420p ${w}x${h} needs ${need} bytes, got ${data.length}`);
}

const clamp255 = (v: number): number => (v < 0 ? 0 : v > 255 ? 255 : v);

/**
 * yuv420p -> packed RGB24 at dw x dh, area-averaged (each output pixel averages the source luma block it
 * covers and the matching chroma block). BT.601 limited range, as ffmpeg converts yuv420p by default.
 */
export function yuvToRgbBox(frame: YuvFrame, dw: number, dh: number): Uint8Array {
  const { width: w, height: h, data } = frame;
  const cw = w >> 1;
  const ch = h >> 1;
  const uOff = w * h;
  const vOff = uOff + cw * ch;
  const out = new Uint8Array(dw * dh * 3);
  const xs = new Int32Array(dw + 1);
  const cxs = new Int32Array(dw + 1);
  for (let x = 0; x <= dw; x++) {
    xs[x] = Math.floor((x * w) / dw);
    cxs[x] = Math.floor((x * cw) / dw);
  }
  for (let y = 0; y < dh; y++) {
    const ya = Math.floor((y * h) / dh);
    const yb = Math.max(ya + 1, Math.floor(((y + 1) * h) / dh));
    const cya = Math.floor((y * ch) / dh);
    const cyb = Math.max(cya + 1, Math.floor(((y + 1) * ch) / dh));
    for (let x = 0; x < dw; x++) {
      const xa = xs[x]!;
      const xb = Math.max(xa + 1, xs[x + 1]!);
      let ys = 0;
      for (let yy = ya; yy < yb; yy++) {
        const row = yy * w;
        for (let xx = xa; xx < xb; xx++) ys += data[row + xx]!;
      }
      const cxa = cxs[x]!;
      const cxb = Math.max(cxa + 1, cxs[x + 1]!);
      let us = 0;
      let vs = 0;
      for (let yy = cya; yy < cyb; yy++) {
        const row = yy * cw;
        for (let xx = cxa; xx < cxb; xx++) {
          us += data[uOff + row + xx]!;
          vs += data[vOff + row + xx]!;
        }
      }
      const yv = 1.164 * (ys / ((yb - ya) * (xb - xa)) - 16);
      const cn = (cyb - cya) * (cxb - cxa);
      const u = us / cn - 128;
      const v = vs / cn - 128;
      const o = (y * dw + x) * 3;
      out[o] = clamp255(yv + 1.596 * v + 0.5);
      out[o + 1] = clamp255(yv - 0.392 * u - 0.813 * v + 0.5);
      out[o + 2] = clamp255(yv + 2.017 * u + 0.5);
    }
  }
  return out;
}

/** A square, rotated region of a frame: centre (cx, cy), side `size` px, rotated by `angle` radians. */
export interface Roi {
  cx: number;
  cy: number;
  size: number;
  angle: number;
}

/** Image point of crop coordinates (px, py) in [0, n] of an n x n crop of `roi`. */
export function roiToImage(roi: Roi, n: number, px: number, py: number): [number, number] {
  const du = (px / n - 0.5) * roi.size;
  const dv = (py / n - 0.5) * roi.size;
  const c = Math.cos(roi.angle);
  const s = Math.sin(roi.angle);
  return [roi.cx + du * c - dv * s, roi.cy + du * s + dv * c];
}

/**
 * Samples `roi` of a yuv420p frame into an n x n RGB crop as float32 in [0, 1] (row-major, 3 channels),
 * bilinear, with k x k taps per output pixel when the crop is more than 2x smaller than the source
 * (k = round(scale / 2), so every source pixel counts). Outside the frame is black.
 */
export function sampleRoi(frame: YuvFrame, roi: Roi, n: number): Float32Array {
  const { width: w, height: h, data } = frame;
  const cw = w >> 1;
  const ch = h >> 1;
  const uOff = w * h;
  const vOff = uOff + cw * ch;
  const out = new Float32Array(n * n * 3);
  const step = roi.size / n;
  const taps = Math.max(1, Math.round(step / 2));
  const c = Math.cos(roi.angle);
  const s = Math.sin(roi.angle);
  // Per output step: image delta along crop x (c, s) and crop y (-s, c), in source pixels.
  const ux = c * step;
  const uy = s * step;
  const vx = -s * step;
  const vy = c * step;
  const half = n / 2;
  const k255 = 1 / 255;
  const inv = 1 / (taps * taps);
  for (let j = 0; j < n; j++) {
    for (let i = 0; i < n; i++) {
      let ys = 0;
      let us = 0;
      let vs = 0;
      for (let tj = 0; tj < taps; tj++) {
        const fj = j - half + (tj + 0.5) / taps;
        for (let ti = 0; ti < taps; ti++) {
          const fi = i - half + (ti + 0.5) / taps;
          // Continuous image coordinate (pixel k covers [k, k+1)), then sample-centre index space.
          const x = roi.cx + fi * ux + fj * vx;
          const y = roi.cy + fi * uy + fj * vy;
          const lx = x - 0.5;
          const ly = y - 0.5;
          if (lx < 0 || ly < 0 || lx > w - 1 || ly > h - 1) {
            ys += 16;
            continue;
          }
          const x0 = Math.floor(lx);
          const y0 = Math.floor(ly);
          const x1 = x0 + 1 < w ? x0 + 1 : x0;
          const y1 = y0 + 1 < h ? y0 + 1 : y0;
          const ax = lx - x0;
          const ay = ly - y0;
          const r0 = y0 * w;
          const r1 = y1 * w;
          const top = data[r0 + x0]! + ax * (data[r0 + x1]! - data[r0 + x0]!);
          const bot = data[r1 + x0]! + ax * (data[r1 + x1]! - data[r1 + x0]!);
          ys += top + ay * (bot - top);
          let cxf = x * 0.5 - 0.5;
          let cyf = y * 0.5 - 0.5;
          if (cxf < 0) cxf = 0;
          else if (cxf > cw - 1) cxf = cw - 1;
          if (cyf < 0) cyf = 0;
          else if (cyf > ch - 1) cyf = ch - 1;
          const cx0 = Math.floor(cxf);
          const cy0 = Math.floor(cyf);
          const cx1 = cx0 + 1 < cw ? cx0 + 1 : cx0;
          const cy1 = cy0 + 1 < ch ? cy0 + 1 : cy0;
          const bx = cxf - cx0;
          const by = cyf - cy0;
          const q0 = cy0 * cw;
          const q1 = cy1 * cw;
          const ut = data[uOff + q0 + cx0]! + bx * (data[uOff + q0 + cx1]! - data[uOff + q0 + cx0]!);
          const ub = data[uOff + q1 + cx0]! + bx * (data[uOff + q1 + cx1]! - data[uOff + q1 + cx0]!);
          us += ut + by * (ub - ut) - 128;
          const vt = data[vOff + q0 + cx0]! + bx * (data[vOff + q0 + cx1]! - data[vOff + q0 + cx0]!);
          const vb = data[vOff + q1 + cx0]! + bx * (data[vOff + q1 + cx1]! - data[vOff + q1 + cx0]!);
          vs += vt + by * (vb - vt) - 128;
        }
      }
      const yv = 1.164 * (ys * inv - 16);
      const u = us * inv;
      const v = vs * inv;
      const o = (j * n + i) * 3;
      out[o] = clamp255(yv + 1.596 * v) * k255;
      out[o + 1] = clamp255(yv - 0.392 * u - 0.813 * v) * k255;
      out[o + 2] = clamp255(yv + 2.017 * u) * k255;
    }
  }
  return out;
}
