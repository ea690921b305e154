/**
 * The ghost-lip measure of the lip-sync eval (issue 15 item 3): a pasted mouth that does not sit where
 * the frame's own mouth was leaves a second, lighter lip (or jaw) contour above or below the new one.
 *
 * The measure is no-reference, so the truth (a real recording) and the base frames get it too and an
 * engine's figure reads against theirs. It uses the eval's own face-api landmarks (tracker.ts), never the
 * engine's. Per frame:
 * - through the mouth, LINES lines perpendicular to the mouth axis (corner 48 to corner 54), spread over
 *   the central 40 % of its width (30-70 %);
 * - along each, the luma profile going OUTWARD from the middle of the upper lip (between inner point 62
 *   and outer point 51) up to 85 % of the way to the nose base (33), and from the middle of the lower lip
 *   (66 / 57) down to 45 % of the way to the chin (8); Gaussian-smoothed (sigma 0.015 IOD);
 * - a lip contour is a run where the profile steps from dark to light going outward (the lip's outer
 *   edge against the skin) by at least max(MIN_STEP, REL_STEP x the line's largest step), the step taken
 *   over ±0.03 IOD;
 * - the jaw likewise: from 120 % of the way to the chin (8) up to 55 %, light-to-dark steps going down
 *   (chin against neck or its shadow): a pasted chin that does not meet the frame's leaves two;
 * - a clean mouth has one contour on each side and one jaw contour; every further one is an "extra
 *   contour". The frame's score is the mean over lines of max(0, upper - 1) + max(0, lower - 1) +
 *   max(0, jaw - 1): 1.0 = a second contour on every line (two upper lips), 0 = none.
 * Why not a seam measure along the engine's mask: the eval does not know the engine's mask, and a
 * feathered paste has no step at its boundary by construction; what the eye sees as a ghost is a second
 * contour, so that is what is counted. Contours that belong to the face (the fold under the lower lip,
 * a moustache) count in the truth as well: compare against the truth's and the base's means.
 *
 * Also: the worst frames' contact sheet (mouth crops of base and output side by side) as a JPEG.
 */
import { spawn } from 'node:child_process';
import { gaussianSmooth } from '../../src/engines/audio/dsp.ts';
import { interOcular, point, type Landmarks } from './tracker.ts';

/** Lines per frame. */
export const LINES = 9;
/** Smallest contour step, luma code values. */
export const MIN_STEP = 4;
/** A contour's step relative to the largest step along its line. */
export const REL_STEP = 0.3;

export interface LipContours {
  /** Mean contours per line above the mouth (upper lip outward to the nose). */
  upper: number;
  /** Mean contours per line below the mouth (lower lip outward toward the chin). */
  lower: number;
  /** Mean jaw contours per line (chin to neck, 55-120 % of the way from the mouth to landmark 8). */
  jaw: number;
  /** Mean extra contours per line: the ghost score (0 clean). */
  extra: number;
}

/** Luma (BT.601) of packed rgb24 at pixel (x, y), bilinear, clamped to the frame. */
function lumaAt(rgb: Uint8Array, w: number, h: number, x: number, y: number): number {
  const cx = Math.min(w - 1, Math.max(0, x));
  const cy = Math.min(h - 1, Math.max(0, y));
  const x0 = Math.floor(cx);
  const y0 = Math.floor(cy);
  const x1 = Math.min(w - 1, x0 + 1);
  const y1 = Math.min(h - 1, y0 + 1);
  const ax = cx - x0;
  const ay = cy - y0;
  const lum = (px: number, py: number): number => {
    const k = 3 * (py * w + px);
    return 0.299 * rgb[k]! + 0.587 * rgb[k + 1]! + 0.114 * rgb[k + 2]!;
  };
  const top = lum(x0, y0) + ax * (lum(x1, y0) - lum(x0, y0));
  const bottom = lum(x0, y1) + ax * (lum(x1, y1) - lum(x0, y1));
  return top + ay * (bottom - top);
}

/**
 * Dark-to-light contours of a profile sampled outward (index 0 at the lip): runs of consecutive steps
 * p[i + w] - p[i - w] above the threshold.
 */
export function countContours(profile: Float64Array, sigma: number, halfStep: number): number {
  const p = sigma <= 0.3 ? profile : gaussianSmooth(profile, sigma, 2.5);
  const w = Math.max(1, Math.round(halfStep));
  const d: number[] = [];
  for (let i = w; i + w < p.length; i++) d.push(p[i + w]! - p[i - w]!);
  if (d.length === 0) return 0;
  const biggest = Math.max(...d.map(Math.abs));
  const threshold = Math.max(MIN_STEP, REL_STEP * biggest);
  let runs = 0;
  let inRun = false;
  for (const v of d) {
    if (v >= threshold && !inRun) runs++;
    inRun = v >= threshold ? true : v < 0.5 * threshold ? false : inRun;
  }
  return runs;
}

/** The lip contours of one rgb24 frame (width x height) with its face-api landmarks; null when degenerate. */
export function lipContours(
  rgb: Uint8Array,
  width: number,
  height: number,
  lm: Landmarks,
): LipContours | null {
  const iod = interOcular(lm);
  const [lx, ly] = point(lm, 48);
  const [rx, ry] = point(lm, 54);
  const mw = Math.hypot(rx - lx, ry - ly);
  if (!(iod > 4) || !(mw > 2)) return null;
  const ax = (rx - lx) / mw;
  const ay = (ry - ly) / mw;
  // Normal pointing down the face (image y grows downward; the axis runs image-left to image-right).
  const nx = -ay;
  const ny = ax;
  const proj = (i: number, ox: number, oy: number): number => {
    const [px, py] = point(lm, i);
    return (px - ox) * nx + (py - oy) * ny;
  };
  // Origin: the mouth's centre line (mid inner lips at the centre), positions along the normal from it.
  const [ux, uy] = point(lm, 62);
  const [dx, dy] = point(lm, 66);
  const ox = (ux + dx) / 2;
  const oy = (uy + dy) / 2;
  const upperMid = (proj(62, ox, oy) + proj(51, ox, oy)) / 2;
  const lowerMid = (proj(66, ox, oy) + proj(57, ox, oy)) / 2;
  const noseEnd = 0.85 * proj(33, ox, oy);
  const chinEnd = 0.45 * proj(8, ox, oy);
  const jawFrom = 0.55 * proj(8, ox, oy);
  const jawTo = 1.2 * proj(8, ox, oy);
  const values = [upperMid, lowerMid, noseEnd, chinEnd, jawFrom, jawTo];
  if (!values.every(Number.isFinite) || !(noseEnd < upperMid) || !(chinEnd > lowerMid)) return null;
  const sigma = Math.max(0.75, 0.015 * iod);
  const halfStep = Math.max(1, 0.03 * iod);
  let upper = 0;
  let lower = 0;
  let jaw = 0;
  let extra = 0;
  for (let l = 0; l < LINES; l++) {
    const t = 0.3 + (0.4 * l) / (LINES - 1) - 0.5;
    const bx = ox + t * mw * ax;
    const by = oy + t * mw * ay;
    const sample = (from: number, to: number): Float64Array => {
      const n = Math.max(2, Math.ceil(Math.abs(to - from)) + 1);
      const out = new Float64Array(n);
      for (let i = 0; i < n; i++) {
        const s = from + ((to - from) * i) / (n - 1);
        out[i] = lumaAt(rgb, width, height, bx + s * nx, by + s * ny);
      }
      return out;
    };
    const up = countContours(sample(upperMid, noseEnd), sigma, halfStep);
    const down = countContours(sample(lowerMid, chinEnd), sigma, halfStep);
    // The jaw: light (chin) to dark (neck, shadow) going down, i.e. dark to light sampled upward.
    const edge = countContours(sample(jawTo, jawFrom), sigma, halfStep);
    upper += up;
    lower += down;
    jaw += edge;
    extra += Math.max(0, up - 1) + Math.max(0, down - 1) + Math.max(0, edge - 1);
  }
  return { upper: upper / LINES, lower: lower / LINES, jaw: jaw / LINES, extra: extra / LINES };
}

// ---------------------------------------------------------------------------------------------------------
// Per-clip summary and the worst frames

export interface GhostSummary {
  frames: number;
  /** Mean extra contours per line over scored frames. */
  mean: number | null;
  p95: number | null;
  /** Share of frames with a ghost on at least a third of the lines (score >= 1/3). */
  ghostShare: number | null;
  worst: Array<{ frame: number; score: number }>;
}

export function summarizeGhost(scores: ReadonlyArray<number | null>, worstCount = 6): GhostSummary {
  const scored: Array<{ frame: number; score: number }> = [];
  scores.forEach((s, frame) => {
    if (s !== null && Number.isFinite(s)) scored.push({ frame, score: s });
  });
  if (scored.length === 0) return { frames: 0, mean: null, p95: null, ghostShare: null, worst: [] };
  const sorted = scored.map((s) => s.score).sort((a, b) => a - b);
  const q = sorted[Math.min(sorted.length - 1, Math.floor(0.95 * (sorted.length - 1) + 0.5))]!;
  const worst = [...scored].sort((a, b) => b.score - a.score || a.frame - b.frame).slice(0, worstCount);
  return {
    frames: scored.length,
    mean: sorted.reduce((a, b) => a + b, 0) / sorted.length,
    p95: q,
    ghostShare: scored.filter((s) => s.score >= 1 / 3).length / scored.length,
    worst,
  };
}

/**
 * The `count` highest-scoring frames at least `minGap` frames apart, each with what `make` returns for
 * it (made only when the frame enters the list: e.g. its contact-sheet tiles).
 */
export class WorstFrames<T> {
  readonly items: Array<{ frame: number; score: number; data: T }> = [];
  constructor(
    private readonly count: number,
    private readonly minGap: number,
  ) {}

  offer(frame: number, score: number, make: () => T): void {
    const near = this.items.filter((it) => Math.abs(it.frame - frame) < this.minGap);
    if (near.some((it) => it.score >= score)) return;
    if (near.length === 0 && this.items.length >= this.count && this.items[this.count - 1]!.score >= score)
      return;
    for (const it of near) this.items.splice(this.items.indexOf(it), 1);
    this.items.push({ frame, score, data: make() });
    this.items.sort((a, b) => b.score - a.score || a.frame - b.frame);
    if (this.items.length > this.count) this.items.length = this.count;
  }
}

/** A square-ish mouth crop box: 1.6 x 1.2 IOD around the mouth centre (landmarks 48-67). */
export function mouthCropBox(lm: Landmarks): { x: number; y: number; w: number; h: number } {
  let sx = 0;
  let sy = 0;
  for (let i = 48; i < 68; i++) {
    const [px, py] = point(lm, i);
    sx += px;
    sy += py;
  }
  const iod = interOcular(lm);
  const w = 1.6 * iod;
  const h = 1.2 * iod;
  return { x: sx / 20 - w / 2, y: sy / 20 - h / 2 + 0.1 * iod, w, h };
}

/** Bilinear crop of box out of an rgb24 frame into an rgb24 tile of tw x th. */
export function cropTile(
  rgb: Uint8Array,
  width: number,
  height: number,
  box: { x: number; y: number; w: number; h: number },
  tw: number,
  th: number,
): Uint8Array {
  const out = new Uint8Array(tw * th * 3);
  for (let j = 0; j < th; j++) {
    const y = Math.min(height - 1, Math.max(0, box.y + ((j + 0.5) * box.h) / th - 0.5));
    const y0 = Math.floor(y);
    const y1 = Math.min(height - 1, y0 + 1);
    const ay = y - y0;
    for (let i = 0; i < tw; i++) {
      const x = Math.min(width - 1, Math.max(0, box.x + ((i + 0.5) * box.w) / tw - 0.5));
      const x0 = Math.floor(x);
      const x1 = Math.min(width - 1, x0 + 1);
      const ax = x - x0;
      for (let c = 0; c < 3; c++) {
        const p = (xx: number, yy: number): number => rgb[3 * (yy * width + xx) + c]!;
        const top = p(x0, y0) + ax * (p(x1, y0) - p(x0, y0));
        const bottom = p(x0, y1) + ax * (p(x1, y1) - p(x0, y1));
        out[3 * (j * tw + i) + c] = Math.round(top + ay * (bottom - top));
      }
    }
  }
  return out;
}

/** Tiles (each tw x th rgb24) laid out in rows of `columns`, with a `gap`-pixel dark border; rgb24. */
export function tileSheet(
  tiles: readonly Uint8Array[],
  tw: number,
  th: number,
  columns: number,
  gap = 2,
): { rgb: Uint8Array; width: number; height: number } {
  const rows = Math.max(1, Math.ceil(tiles.length / columns));
  const width = columns * tw + (columns + 1) * gap;
  const height = rows * th + (rows + 1) * gap;
  const rgb = new Uint8Array(width * height * 3).fill(32);
  tiles.forEach((tile, n) => {
    const ox = gap + (n % columns) * (tw + gap);
    const oy = gap + Math.floor(n / columns) * (th + gap);
    for (let j = 0; j < th; j++) {
      rgb.set(tile.subarray(3 * j * tw, 3 * (j + 1) * tw), 3 * ((oy + j) * width + ox));
    }
  });
  return { rgb, width, height };
}

/** Writes rgb24 pixels as a JPEG through ffmpeg (quality: ffmpeg's -q:v, 2 best .. 31). */
export async function writeJpeg(
  ffmpegPath: string,
  image: { rgb: Uint8Array; width: number; height: number },
  file: string,
  quality = 4,
): Promise<void> {
  const child = spawn(
    ffmpegPath,
    [
      '-nostdin',
      '-v',
      'error',
      '-y',
      '-f',
      'rawvideo',
      '-pix_fmt',
      'rgb24',
      '-s',
      `${image.width}x${image.height}`,
      '-i',
      'pipe:0',
      '-frames:v',
      '1',
      '-q:v',
      String(quality),
      file,
    ],
    { stdio: ['pipe', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (s: string) => (stderr = (stderr + s).slice(-2000)));
  const closed = new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', resolve);
  });
  child.stdin.on('error', () => undefined);
  child.stdin.end(image.rgb);
  const code = await closed;
  if (code !== 0) throw new Error(`ffmpeg could not write ${file} (exit ${code}): ${stderr.trim()}`);
}
