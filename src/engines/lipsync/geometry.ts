/**
 * Small affine helpers for the lip-sync engine's canonical <-> image maps (see Pose in types.ts).
 */
import type { Pose } from './types.ts';

/** Determinants smaller than this (in absolute value) make a pose degenerate (no inverse). */
const MIN_DET = 1e-12;

/** The map image (x, y) -> canonical (u, v) of `pose` (itself a Pose-shaped affine). Throws when degenerate. */
export function invertAffine(pose: Pose): Pose {
  const [a, b, c, d, tx, ty] = pose;
  const det = a * d - b * c;
  if (!(Math.abs(det) > MIN_DET) || !Number.isFinite(det)) {
    throw new RangeError(`degenerate pose (determinant ${det})`);
  }
  const ia = d / det;
  const ib = -b / det;
  const ic = -c / det;
  const id = a / det;
  return [ia, ib, ic, id, -(ia * tx + ib * ty), -(ic * tx + id * ty)];
}

/** `pose` applied to (u, v): [a*u + b*v + tx, c*u + d*v + ty]. */
export function applyAffine(pose: Pose, u: number, v: number): [number, number] {
  return [pose[0] * u + pose[1] * v + pose[4], pose[2] * u + pose[3] * v + pose[5]];
}

/** The affine `outer` after `inner`: p -> outer(inner(p)). */
export function composeAffine(outer: Pose, inner: Pose): Pose {
  const [a, b, c, d, tx, ty] = outer;
  const [e, f, g, h, sx, sy] = inner;
  return [
    a * e + b * g,
    a * f + b * h,
    c * e + d * g,
    c * f + d * h,
    a * sx + b * sy + tx,
    c * sx + d * sy + ty,
  ];
}
