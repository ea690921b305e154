/**
 * Shared shapes of the sample-based lip-sync engine ("Video Rewrite", Bregler et al. 1997): the
 * avatar's own mouth, tracked in every frame of its video, is re-sequenced to match new speech and
 * blended onto the base frames.
 *
 * Coordinates. Image coordinates are pixels of the full-resolution source frame, x right, y down.
 * The canonical face frame is per avatar: eye centres at (-0.5, 0) and (0.5, 0) (image-left eye first),
 * y down, so one canonical unit is the inter-ocular distance (IOD) and the mouth sits near (0, 1.1).
 */

/** One decoded frame, yuv420p planar: Y (width*height), then U and V (width/2 * height/2 each). */
export interface YuvFrame {
  width: number;
  height: number;
  data: Uint8Array;
}

/**
 * Affine map canonical (u, v) -> image (x, y): x = a*u + b*v + tx, y = c*u + d*v + ty.
 * Fitted per frame from stable landmarks (eyes, nose bridge), so head motion and some yaw drop out.
 */
export type Pose = readonly [a: number, b: number, c: number, d: number, tx: number, ty: number];

/** The mouth descriptor, in canonical units except `teeth` (0..1, share of bright pixels inside the lips). */
export interface MouthShape {
  /** Inner-lip gap, upper to lower lip at the centre. */
  opening: number;
  /** Mouth-corner to mouth-corner distance. */
  width: number;
  /** Lip rounding: outer-lip height over width (protruded, rounded lips score high). */
  rounding: number;
  /** Teeth showing: share of bright, low-saturation pixels inside the inner lips. */
  teeth: number;
}

export const SHAPE_KEYS = ['opening', 'width', 'rounding', 'teeth'] as const;

/** A tracked source frame. */
export interface TrackedFrame {
  /** A face was tracked in this frame. Lost frames are left exactly as they are. */
  ok: boolean;
  /** Canonical -> image map (meaningless when !ok). */
  pose: Pose;
  /** Mouth landmarks in canonical units, [u0, v0, u1, v1, ...], in MOUTH_POINT order of face-track.ts. */
  mouth: Float32Array;
  shape: MouthShape;
  /**
   * How much the engine may change this frame, 0..1: 0 where the face is lost, ramping back to 1 over a
   * few frames next to lost stretches so the edit fades in and out instead of popping.
   */
  weight: number;
}

/**
 * Where a mouth sample lives in the canonical frame and at what resolution. Samples are
 * `width x height` pixels covering canonical [u0, u1] x [v0, v1]; `pixelsPerUnit` = width / (u1 - u0).
 */
export interface CropGeometry {
  u0: number;
  u1: number;
  v0: number;
  v1: number;
  width: number;
  height: number;
  pixelsPerUnit: number;
}

/** Canonical extent of the lower-face region that samples cover (nose base to below the chin). */
export const CROP_EXTENT = { u0: -0.95, u1: 0.95, v0: 0.45, v1: 2.0 } as const;

/**
 * A mouth sample: the crop in yuv444 planar (Y plane, then U, then V, each width*height bytes),
 * in the canonical frame described by a CropGeometry.
 */
export type MouthSample = Uint8Array;
