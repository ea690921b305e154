/**
 * Face tracking for the sample-based lip-sync engine: every frame of the avatar's video gets a pose
 * (canonical face frame -> image), its mouth landmarks in canonical units and a MouthShape.
 *
 * How a frame is tracked (MediaPipe's own face-mesh tracking scheme, on Human's models):
 * - Detection, only when no face is being tracked (the first frame, after a loss): Human's BlazeFace on
 *   the whole frame, converted to RGB and area-downscaled to DETECT_LONG_SIDE px, mesh off. Its box (the
 *   1.4x enlarged square Human itself hands the mesh) and eye keypoints give the first region, refined by
 *   up to REFINE_PASSES mesh runs. After LOST_PATIENCE lost frames in a row the detector runs on every
 *   LOST_DETECT_EVERY-th frame only (a returning face is picked up within that many frames).
 * - Tracking, every frame: the 468-point mesh model (Human's `facemesh` GraphModel, run directly) on a
 *   192x192 crop sampled from the full-resolution yuv420p frame around a square region rotated upright by
 *   the eye line; the region of the next frame is 1.5x the landmarks' extent (kept as it is while the
 *   face moves by less than 1-2 % of it, so a still face gives identical crops). Landmarks come
 *   back as float source-frame pixels (Human's detect() would truncate them to whole input pixels).
 *   Human's own cross-call box cache is never used: every call is independent, so other jobs may use
 *   the shared Human instance between frames (all model use goes through `withHuman`).
 * - A frame is lost when the mesh's face score is under MIN_MESH_SCORE even after a fresh detection,
 *   when a kept landmark lies outside the frame, when the face jumps (eye midpoint moved more than
 *   MAX_JUMP_IOD inter-ocular distances or the IOD changed by more than MAX_SCALE_CHANGE since the
 *   previous frame), or when the detector sees several faces none of which is near the last tracked one.
 *
 * finish() fills 1-2 frame gaps between consistent good frames by interpolation, builds the avatar's
 * reference shape of STABLE_POINTS (mean in eye-normalised coordinates), fits each frame's affine pose
 * to it by weighted least squares, smooths poses (Gaussian, POSE_SIGMA frames) and mouth landmarks
 * (Gaussian, MOUTH_SIGMA frames) within runs of good frames, and derives the MouthShapes.
 */
import type { GraphModel, Human, Tensor } from '@vladmandic/human';
import { FACE_EXTRAS_OFF, OTHER_MODELS_OFF, withHuman } from '../face/human-loader.ts';
import {
  MOUTH,
  MOUTH_OFFSET,
  MOUTH_POINTS,
  STABLE_POINTS,
  STABLE_WEIGHTS,
  TRACKED_POINTS,
  checkYuvFrame,
  eyeCentres,
  eyeNormalizer,
  fitAffine,
  invertPose,
  mapPoints,
  roiToImage,
  sampleRoi,
  smoothRuns,
  teethShare,
  yuvToRgbBox,
} from './landmarks.ts';
import type { Roi } from './landmarks.ts';
import type { MouthShape, Pose, TrackedFrame, YuvFrame } from './types.ts';

/** Long side of the frame given to the face detector, px. */
export const DETECT_LONG_SIDE = 640;
/** Side of the mesh model's input crop, px (fixed by the model). */
export const MESH_INPUT = 192;
/** Lowest mesh face score (0..1) of a tracked face; real faces score ~1, a blurred-out face ~0.4. */
export const MIN_MESH_SCORE = 0.6;
/** Region side over the landmarks' extent (MediaPipe's 1.5; Human's detector boxes measure 1.4-1.6). */
export const ROI_SCALE = 1.5;
/** Most mesh runs on a freshly detected face while its region settles. */
export const REFINE_PASSES = 3;
/** Lost frames in a row after which the detector runs only on every LOST_DETECT_EVERY-th frame. */
export const LOST_PATIENCE = 12;
/** Detector cadence during a long loss (a frame without a face costs a full detection, ~30-60 ms). */
export const LOST_DETECT_EVERY = 3;
/** Largest move of the eye midpoint between consecutive frames, in inter-ocular distances. */
export const MAX_JUMP_IOD = 0.6;
/** Largest IOD ratio between consecutive frames. */
export const MAX_SCALE_CHANGE = 1.35;
/** Pose smoothing: Gaussian sigma in frames. */
export const POSE_SIGMA = 1.2;
/** Mouth landmark smoothing: Gaussian sigma in frames (light: a 3-frame opening survives). */
export const MOUTH_SIGMA = 0.6;
/** Frames over which the weight ramps from 0 (lost) back to 1. */
export const WEIGHT_RAMP = 4;
/** Longest run of lost frames between good frames that is interpolated instead. */
export const MAX_GAP = 2;

/** The closed mouth used for lost frames of a video without a single tracked frame. */
export const CLOSED_MOUTH: MouthShape = { opening: 0, width: 0.9, rounding: 0.3, teeth: 0 };

export interface FaceTrack {
  frames: TrackedFrame[];
  /** Median inter-ocular distance in source pixels over ok frames (0 when none). */
  iodPixels: number;
  /** The avatar's canonical stable-point shape, [u, v] per STABLE_POINTS entry (zeros when no ok frame). */
  reference: Float32Array;
  /**
   * Per frame, the tracked landmarks in source pixels as measured (before smoothing), TRACKED_POINTS
   * order (STABLE_POINTS then MOUTH_POINTS, [x, y] each); empty for lost frames.
   */
  landmarks: Float32Array[];
  stats: {
    framesTracked: number;
    framesLost: number;
    /** Full-frame detector runs. */
    detections: number;
    /**
     * Mean wall-clock milliseconds of tracking work per frame (conversion, detection, mesh, teeth), not
     * counting the wait for the shared Human instance (its first load, other jobs using it).
     */
    msPerFrame: number;
  };
}

export interface FaceTrackerOptions {
  /** Long side of the detector's input, px (default DETECT_LONG_SIDE). */
  detectLongSide?: number;
  /** Lowest mesh face score (default MIN_MESH_SCORE). */
  minMeshScore?: number;
  /** Pose smoothing sigma, frames (default POSE_SIGMA; 0 = none). */
  poseSigma?: number;
  /** Mouth smoothing sigma, frames (default MOUTH_SIGMA; 0 = none). */
  mouthSigma?: number;
}

/** Per-frame record kept by add(). */
interface RawFrame {
  ok: boolean;
  /** TRACKED_POINTS in source pixels (empty when lost). */
  pts: Float32Array;
  teeth: number;
  /** The face jumped here (a cut): gaps next to it are not interpolated. */
  jump: boolean;
}

/** The subset of tfjs the tracker uses (Human exposes tfjs untyped). */
interface Tf {
  tensor3d(values: Uint8Array, shape: [number, number, number], dtype: 'int32'): Tensor;
  tensor4d(values: Float32Array, shape: [number, number, number, number]): Tensor;
  dispose(t: Tensor | Tensor[]): void;
}

/** Options given to every detect() call (Human keeps them: everything relied on is passed each time). */
const DETECT_OPTIONS = {
  cacheSensitivity: 0,
  filter: { enabled: false },
  gesture: { enabled: false },
  face: {
    enabled: true,
    detector: { rotation: false, maxDetected: 3, minConfidence: 0.2, skipFrames: 0, return: false },
    mesh: { enabled: false },
    ...FACE_EXTRAS_OFF,
  },
  ...OTHER_MODELS_OFF,
};

interface Candidate {
  roi: Roi;
  score: number;
}

interface MeshResult {
  score: number;
  /** All 468 landmarks, [x, y] source pixels. */
  mesh: Float32Array;
}

const dist = (ax: number, ay: number, bx: number, by: number): number => Math.hypot(ax - bx, ay - by);

/** The next frame's region from 468 landmarks: upright by the eye line, 1.5x their extent. */
export function roiFromMesh(mesh: Float32Array): Roi {
  const lx = mesh[2 * 33]!;
  const ly = mesh[2 * 33 + 1]!;
  const rx = mesh[2 * 263]!;
  const ry = mesh[2 * 263 + 1]!;
  const angle = Math.atan2(ry - ly, rx - lx);
  const c = Math.cos(angle);
  const s = Math.sin(angle);
  let u0 = Infinity;
  let u1 = -Infinity;
  let v0 = Infinity;
  let v1 = -Infinity;
  for (let i = 0; i < mesh.length; i += 2) {
    const x = mesh[i]!;
    const y = mesh[i + 1]!;
    const u = x * c + y * s;
    const v = -x * s + y * c;
    if (u < u0) u0 = u;
    if (u > u1) u1 = u;
    if (v < v0) v0 = v;
    if (v > v1) v1 = v;
  }
  const mu = (u0 + u1) / 2;
  const mv = (v0 + v1) / 2;
  return { cx: mu * c - mv * s, cy: mu * s + mv * c, size: ROI_SCALE * Math.max(u1 - u0, v1 - v0), angle };
}

/** Keeps `prev` while `next` differs from it by little (identical crops for a still face). */
function stickyRoi(prev: Roi | null, next: Roi): Roi {
  if (!prev) return next;
  const moved = dist(prev.cx, prev.cy, next.cx, next.cy) / prev.size;
  const scaled = Math.abs(next.size / prev.size - 1);
  const turned = Math.abs(next.angle - prev.angle);
  return moved < 0.01 && scaled < 0.02 && turned < 0.02 ? prev : next;
}

/** Eye midpoint and inter-ocular distance of a TRACKED_POINTS array. */
function eyeGeometry(pts: Float32Array): { mx: number; my: number; iod: number } {
  const [lx, ly, rx, ry] = eyeCentres(pts);
  return { mx: (lx + rx) / 2, my: (ly + ry) / 2, iod: dist(lx, ly, rx, ry) };
}

/** Whether two tracked frames are close enough to belong to one continuous shot. */
function consistent(a: Float32Array, b: Float32Array, maxMoveIod: number, maxScale: number): boolean {
  const ga = eyeGeometry(a);
  const gb = eyeGeometry(b);
  if (!(ga.iod > 0 && gb.iod > 0)) return false;
  const ratio = Math.max(ga.iod / gb.iod, gb.iod / ga.iod);
  return dist(ga.mx, ga.my, gb.mx, gb.my) <= maxMoveIod * Math.max(ga.iod, gb.iod) && ratio <= maxScale;
}

export class FaceTracker {
  private readonly raw: RawFrame[] = [];
  private roi: Roi | null = null;
  /** Last tracked face (TRACKED_POINTS) and the frame it was seen in. */
  private last: { pts: Float32Array; frame: number } | null = null;
  private detections = 0;
  /** Lost frames in a row up to the last one added. */
  private lostStreak = 0;
  private size: { width: number; height: number } | null = null;
  private busyMs = 0;
  private finished = false;
  private readonly detectLongSide: number;
  private readonly minMeshScore: number;
  private readonly poseSigma: number;
  private readonly mouthSigma: number;

  constructor(opts: FaceTrackerOptions = {}) {
    this.detectLongSide = opts.detectLongSide ?? DETECT_LONG_SIDE;
    this.minMeshScore = opts.minMeshScore ?? MIN_MESH_SCORE;
    this.poseSigma = opts.poseSigma ?? POSE_SIGMA;
    this.mouthSigma = opts.mouthSigma ?? MOUTH_SIGMA;
  }

  /** Frames added so far. */
  get length(): number {
    return this.raw.length;
  }

  /** Tracks the next frame of the video (frames in order, all of one size). */
  async add(frame: YuvFrame): Promise<void> {
    if (this.finished) throw new Error('FaceTracker: add() after finish()');
    checkYuvFrame(frame);
    if (!this.size) this.size = { width: frame.width, height: frame.height };
    else if (frame.width !== this.size.width || frame.height !== this.size.height) {
      throw new RangeError(
        `FaceTracker: frame of ${frame.width}x${frame.height} after ${this.size.width}x${this.size.height}`,
      );
    }
    const index = this.raw.length;
    let started = 0;
    const result = await withHuman((human) => {
      // Timed from here: waiting for the model to load or for other jobs to release it is not ours.
      started = performance.now();
      return this.trackFrame(human, frame);
    });
    let rec: RawFrame = { ok: false, pts: new Float32Array(0), teeth: 0, jump: false };
    if (result) {
      const pts = new Float32Array(TRACKED_POINTS.length * 2);
      let inside = true;
      for (let k = 0; k < TRACKED_POINTS.length; k++) {
        const m = TRACKED_POINTS[k]!;
        const x = result.mesh[2 * m]!;
        const y = result.mesh[2 * m + 1]!;
        pts[2 * k] = x;
        pts[2 * k + 1] = y;
        if (!(x >= 0 && y >= 0 && x <= frame.width && y <= frame.height)) inside = false;
      }
      const prev = this.raw[index - 1];
      const jump = !!prev?.ok && !consistent(prev.pts, pts, MAX_JUMP_IOD, MAX_SCALE_CHANGE);
      if (inside && !jump) {
        rec = { ok: true, pts, teeth: teethShare(frame, pts.subarray(MOUTH_OFFSET * 2)), jump: false };
        this.last = { pts, frame: index };
      } else {
        rec.jump = jump;
      }
    }
    this.raw.push(rec);
    this.lostStreak = rec.ok ? 0 : this.lostStreak + 1;
    this.busyMs += performance.now() - started;
  }

  /** Detection (when needed) and the mesh for one frame, under the Human lock; null when lost. */
  private async trackFrame(human: Human, frame: YuvFrame): Promise<MeshResult | null> {
    const model = human.models.models.facemesh;
    if (!model) throw new Error('face tracking: the face mesh model is not loaded');
    const tf = human.tf as Tf;
    if (this.roi) {
      const tracked = await runMesh(tf, model, frame, this.roi);
      if (tracked.score >= this.minMeshScore) {
        this.roi = stickyRoi(this.roi, roiFromMesh(tracked.mesh));
        return tracked;
      }
      this.roi = null;
    }
    // No face under tracking: detect on the whole frame (during a long loss, on every few frames only).
    const streak = this.lostStreak;
    if (streak >= LOST_PATIENCE && (streak - LOST_PATIENCE) % LOST_DETECT_EVERY !== 0) return null;
    this.detections++;
    const candidates = await this.detect(human, tf, frame);
    for (const cand of this.choose(candidates)) {
      // The detector's box frames the face a little differently from the mesh's own extent: refine until
      // the region is the one the next (tracked) frame will use, so a still face gives the same landmarks.
      let roi = cand.roi;
      let result: MeshResult | null = null;
      for (let pass = 0; pass < REFINE_PASSES; pass++) {
        const res = await runMesh(tf, model, frame, roi);
        if (res.score < this.minMeshScore) break;
        result = res;
        const next = stickyRoi(pass === 0 ? null : roi, roiFromMesh(res.mesh));
        if (next === roi) break;
        roi = next;
      }
      if (!result) continue;
      this.roi = roi;
      return result;
    }
    return null;
  }

  /** Faces BlazeFace finds in the downscaled frame, as mesh regions in source pixels, best first. */
  private async detect(human: Human, tf: Tf, frame: YuvFrame): Promise<Candidate[]> {
    const scale = Math.min(1, this.detectLongSide / Math.max(frame.width, frame.height));
    const dw = Math.max(2, Math.round(frame.width * scale));
    const dh = Math.max(2, Math.round(frame.height * scale));
    const rgb = yuvToRgbBox(frame, dw, dh);
    const input = tf.tensor3d(rgb, [dh, dw, 3], 'int32');
    let faces;
    try {
      const result = await human.detect(input, DETECT_OPTIONS);
      if (result.error) throw new Error(`face detection failed: ${result.error}`);
      faces = result.face;
    } finally {
      tf.dispose(input);
    }
    const out: Candidate[] = [];
    for (const f of faces) {
      const [bx, by, bw, bh] = f.boxRaw;
      const cx = (bx + bw / 2) * frame.width;
      const cy = (by + bh / 2) * frame.height;
      const size = Math.max(bw * frame.width, bh * frame.height);
      // BlazeFace keypoints 0 and 1 are the eyes (in detector-input pixels).
      const e0 = f.mesh[0];
      const e1 = f.mesh[1];
      let angle = 0;
      if (e0 && e1) {
        const [l, r] = e0[0] <= e1[0] ? [e0, e1] : [e1, e0];
        angle = Math.atan2(r[1] - l[1], r[0] - l[0]);
        if (Math.abs(angle) > Math.PI / 4) angle = 0;
      }
      if (size > 8) out.push({ roi: { cx, cy, size, angle }, score: f.score });
    }
    return out.sort((a, b) => b.score - a.score);
  }

  /**
   * Which detections to try: the one near the last tracked face when there is one (recent or not);
   * a single face otherwise; none when several faces are seen and none is where the tracked one was.
   */
  private choose(candidates: Candidate[]): Candidate[] {
    if (!this.last || candidates.length <= 1) return candidates;
    const g = eyeGeometry(this.last.pts);
    const near = candidates.filter((c) => {
      // The detector's region is about 3.5 IOD wide.
      const ratio = c.roi.size / (3.5 * g.iod);
      return dist(c.roi.cx, c.roi.cy, g.mx, g.my) < 1.5 * g.iod && ratio > 0.6 && ratio < 1.7;
    });
    return near;
  }

  /** Builds the track from every frame added; the tracker takes no more frames afterwards. */
  finish(): FaceTrack {
    this.finished = true;
    const raw = this.raw;
    const n = raw.length;
    fillGaps(raw);
    const ok = raw.map((r) => r.ok);
    const okIdx = ok.flatMap((o, i) => (o ? [i] : []));
    const nStable = STABLE_POINTS.length;
    const nMouth = MOUTH_POINTS.length;

    // Reference: mean stable shape in eye-normalised coordinates.
    const reference = new Float32Array(nStable * 2);
    const iods: number[] = [];
    for (const i of okIdx) {
      const pts = raw[i]!.pts;
      const [lx, ly, rx, ry] = eyeCentres(pts);
      iods.push(dist(lx, ly, rx, ry));
      const norm = mapPoints(eyeNormalizer(lx, ly, rx, ry), pts.subarray(0, nStable * 2));
      for (let k = 0; k < nStable * 2; k++) reference[k]! += norm[k]! / okIdx.length;
    }
    iods.sort((a, b) => a - b);
    const iodPixels = iods.length ? median(iods) : 0;

    // Raw poses, then smoothed within runs of ok frames.
    const poseSeries = new Float64Array(n * 6);
    for (const i of okIdx) {
      const pts = raw[i]!.pts;
      const [lx, ly, rx, ry] = eyeCentres(pts);
      const pose =
        fitAffine(reference, pts.subarray(0, nStable * 2), STABLE_WEIGHTS) ??
        invertPose(eyeNormalizer(lx, ly, rx, ry));
      poseSeries.set(pose, i * 6);
    }
    const poses = smoothRuns(poseSeries, 6, ok, this.poseSigma);

    // Mouth in canonical units through the smoothed pose, then lightly smoothed.
    const mouthSeries = new Float64Array(n * nMouth * 2);
    for (const i of okIdx) {
      const inv = invertPose(poseAt(poses, i));
      mouthSeries.set(mapPoints(inv, raw[i]!.pts.subarray(MOUTH_OFFSET * 2)), i * nMouth * 2);
    }
    const mouths = smoothRuns(mouthSeries, nMouth * 2, ok, this.mouthSigma);

    const nearest = nearestOk(ok);
    const frames: TrackedFrame[] = [];
    for (let i = 0; i < n; i++) {
      const src = nearest[i]!;
      if (src < 0) {
        frames.push({
          ok: false,
          pose: [1, 0, 0, 1, 0, 0],
          mouth: new Float32Array(nMouth * 2),
          shape: { ...CLOSED_MOUTH },
          weight: 0,
        });
        continue;
      }
      const mouth = Float32Array.from(mouths.subarray(src * nMouth * 2, (src + 1) * nMouth * 2));
      frames.push({
        ok: ok[i]!,
        pose: poseAt(poses, src),
        mouth,
        shape: mouthShape(mouth, raw[src]!.teeth),
        weight: 0,
      });
    }
    const weights = rampWeights(ok, WEIGHT_RAMP);
    for (let i = 0; i < n; i++) frames[i]!.weight = weights[i]!;

    return {
      frames,
      iodPixels,
      reference,
      landmarks: raw.map((r) => (r.ok ? r.pts : new Float32Array(0))),
      stats: {
        framesTracked: okIdx.length,
        framesLost: n - okIdx.length,
        detections: this.detections,
        msPerFrame: n ? this.busyMs / n : 0,
      },
    };
  }
}

/** Runs the mesh model on `roi` of the full-resolution frame; landmarks in source pixels. */
async function runMesh(tf: Tf, model: GraphModel, frame: YuvFrame, roi: Roi): Promise<MeshResult> {
  const crop = sampleRoi(frame, roi, MESH_INPUT);
  const input = tf.tensor4d(crop, [1, MESH_INPUT, MESH_INPUT, 3]);
  let outputs: Tensor[] = [];
  try {
    const res = model.execute(input);
    outputs = Array.isArray(res) ? res : [res];
    const scoreT = outputs.find((t) => t.shape[t.shape.length - 1] === 1);
    const meshT = outputs.find((t) => t.shape[t.shape.length - 1] === 1404);
    if (!scoreT || !meshT) throw new Error('face tracking: unexpected face mesh model outputs');
    const [scoreData, meshData] = await Promise.all([scoreT.data(), meshT.data()]);
    const score = Number(scoreData[0] ?? 0);
    const mesh = new Float32Array(468 * 2);
    for (let k = 0; k < 468; k++) {
      const [x, y] = roiToImage(roi, MESH_INPUT, Number(meshData[3 * k]), Number(meshData[3 * k + 1]));
      mesh[2 * k] = x;
      mesh[2 * k + 1] = y;
    }
    return { score: Number.isFinite(score) ? score : 0, mesh };
  } finally {
    tf.dispose([input, ...outputs]);
  }
}

function poseAt(series: Float64Array, i: number): Pose {
  const o = i * 6;
  return [series[o]!, series[o + 1]!, series[o + 2]!, series[o + 3]!, series[o + 4]!, series[o + 5]!];
}

function median(sorted: number[]): number {
  const m = sorted.length >> 1;
  return sorted.length % 2 ? sorted[m]! : (sorted[m - 1]! + sorted[m]!) / 2;
}

/**
 * Interpolates runs of at most MAX_GAP lost frames between two ok frames that belong to one shot
 * (no jump flagged inside, faces close on both sides).
 */
function fillGaps(raw: RawFrame[]): void {
  let i = 0;
  while (i < raw.length) {
    if (raw[i]!.ok) {
      i++;
      continue;
    }
    let end = i;
    while (end < raw.length && !raw[end]!.ok) end++;
    const before = raw[i - 1];
    const after = raw[end];
    const gap = end - i;
    const cut = raw.slice(i, end).some((r) => r.jump) || !!after?.jump;
    if (
      before?.ok &&
      after?.ok &&
      gap <= MAX_GAP &&
      !cut &&
      consistent(before.pts, after.pts, 0.25 * (gap + 1), 1.15)
    ) {
      for (let k = i; k < end; k++) {
        const t = (k - i + 1) / (gap + 1);
        const pts = new Float32Array(before.pts.length);
        for (let j = 0; j < pts.length; j++) pts[j] = before.pts[j]! + t * (after.pts[j]! - before.pts[j]!);
        raw[k] = { ok: true, pts, teeth: before.teeth + t * (after.teeth - before.teeth), jump: false };
      }
    }
    i = end;
  }
}

/** For every frame, itself when ok, else the nearest ok frame (earlier one on ties); -1 when none. */
function nearestOk(ok: readonly boolean[]): Int32Array {
  const n = ok.length;
  const out = new Int32Array(n).fill(-1);
  let lastOk = -1;
  const prev = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    if (ok[i]) lastOk = i;
    prev[i] = lastOk;
  }
  let nextOk = -1;
  for (let i = n - 1; i >= 0; i--) {
    if (ok[i]) nextOk = i;
    const p = prev[i]!;
    if (p < 0) out[i] = nextOk;
    else if (nextOk < 0) out[i] = p;
    else out[i] = i - p <= nextOk - i ? p : nextOk;
  }
  return out;
}

/**
 * Weights: 0 on lost frames; an ok frame d frames from the nearest lost frame gets min(1, d / ramp), so
 * the weight climbs back to 1 over `ramp` frames on both sides of a lost stretch.
 */
export function rampWeights(ok: readonly boolean[], ramp: number): number[] {
  const n = ok.length;
  const d = new Array<number>(n).fill(Infinity);
  let lastLost = -Infinity;
  for (let i = 0; i < n; i++) {
    if (!ok[i]) lastLost = i;
    d[i] = i - lastLost;
  }
  let nextLost = Infinity;
  for (let i = n - 1; i >= 0; i--) {
    if (!ok[i]) nextLost = i;
    d[i] = Math.min(d[i]!, nextLost - i);
  }
  return d.map((x) => Math.min(1, x / ramp));
}

/** MouthShape of 40 canonical mouth points (MOUTH_POINTS order) and a teeth share. */
export function mouthShape(mouth: ArrayLike<number>, teeth: number): MouthShape {
  const px = (k: number): number => mouth[2 * k]!;
  const py = (k: number): number => mouth[2 * k + 1]!;
  // Inner gap at the centre: mean of the three central upper/lower pairs, along the mouth's normal.
  const ax = px(MOUTH.outerRight) - px(MOUTH.outerLeft);
  const ay = py(MOUTH.outerRight) - py(MOUTH.outerLeft);
  const width = Math.hypot(ax, ay);
  const nx = width > 0 ? -ay / width : 0;
  const ny = width > 0 ? ax / width : 1;
  let gap = 0;
  for (const off of [-1, 0, 1]) {
    const up = MOUTH.innerUpper + off;
    const lo = MOUTH.innerLower - off;
    gap += (px(lo) - px(up)) * nx + (py(lo) - py(up)) * ny;
  }
  const opening = Math.max(0, gap / 3);
  const outerHeight = Math.max(
    0,
    (px(MOUTH.outerLower) - px(MOUTH.outerUpper)) * nx + (py(MOUTH.outerLower) - py(MOUTH.outerUpper)) * ny,
  );
  return { opening, width, rounding: width > 0 ? outerHeight / width : 0, teeth };
}

/** Tracks a whole sequence of frames (in order) and returns the finished track. */
export async function trackVideoFrames(
  frames: AsyncIterable<YuvFrame>,
  opts?: FaceTrackerOptions,
): Promise<FaceTrack> {
  const tracker = new FaceTracker(opts);
  for await (const frame of frames) await tracker.add(frame);
  return tracker.finish();
}
