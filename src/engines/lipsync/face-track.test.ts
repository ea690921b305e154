import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { withHuman } from '../face/human-loader.ts';
import {
  CLOSED_MOUTH,
  FaceTracker,
  LOST_DETECT_EVERY,
  LOST_PATIENCE,
  WEIGHT_RAMP,
  mouthShape,
  rampWeights,
  trackVideoFrames,
} from './face-track.ts';
import type { FaceTrack } from './face-track.ts';
import { MOUTH, applyPose, eyeCentres } from './landmarks.ts';
import type { YuvFrame } from './types.ts';

const run = promisify(execFile);
const MEDIA = '/work/shared/media';
const TALKING = join(MEDIA, 'face-en-man-2.mp4');
const PORTRAIT = join(MEDIA, 'face-portrait-talking-10s.mp4');

let dir = '';

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'face-track-'));
});
after(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** Decodes the first `count` frames of `file` through filter `vf` to `pixFmt` frames of width x height. */
async function decode(
  file: string,
  vf: string,
  width: number,
  height: number,
  count: number,
  pixFmt: 'yuv420p' | 'rgb24' = 'yuv420p',
): Promise<Uint8Array[]> {
  const out = join(dir, `${Math.random().toString(36).slice(2)}.raw`);
  await run(
    'ffmpeg',
    ['-v', 'error', '-i', file, '-frames:v', String(count), '-vf', vf, '-f', 'rawvideo'].concat([
      '-pix_fmt',
      pixFmt,
      '-y',
      out,
    ]),
  );
  const buf = await readFile(out);
  await rm(out);
  const size = pixFmt === 'rgb24' ? width * height * 3 : (width * height * 3) / 2;
  assert.equal(buf.length, size * count, `decoded ${buf.length / size} frames of ${file}, wanted ${count}`);
  const frames: Uint8Array[] = [];
  for (let i = 0; i < count; i++) frames.push(new Uint8Array(buf.buffer, buf.byteOffset + i * size, size));
  return frames;
}

const yuv = (data: Uint8Array, width: number, height: number): YuvFrame => ({ width, height, data });

async function* iterate(frames: YuvFrame[]): AsyncGenerator<YuvFrame> {
  for (const f of frames) yield f;
}

function std(xs: number[]): number {
  const m = xs.reduce((a, b) => a + b, 0) / xs.length;
  return Math.sqrt(xs.reduce((a, b) => a + (b - m) ** 2, 0) / xs.length);
}

function pearson(a: number[], b: number[]): number {
  const ma = a.reduce((s, v) => s + v, 0) / a.length;
  const mb = b.reduce((s, v) => s + v, 0) / b.length;
  let num = 0;
  let da = 0;
  let db = 0;
  for (let i = 0; i < a.length; i++) {
    num += (a[i]! - ma) * (b[i]! - mb);
    da += (a[i]! - ma) ** 2;
    db += (b[i]! - mb) ** 2;
  }
  return num / Math.sqrt(da * db);
}

/** Human's own 468-point mesh (whole-frame detect, integer pixels) of RGB frames: eye centres, lip gap. */
async function humanReference(
  frames: Uint8Array[],
  width: number,
  height: number,
): Promise<{ eyes: [number, number, number, number]; gap: number }[]> {
  return withHuman(async (human) => {
    const out: { eyes: [number, number, number, number]; gap: number }[] = [];
    for (const rgb of frames) {
      const input = human.tf.tensor3d(rgb, [height, width, 3], 'int32');
      try {
        const res = await human.detect(input, {
          cacheSensitivity: 0,
          face: {
            enabled: true,
            detector: { maxDetected: 1, minConfidence: 0.2, skipFrames: 0, rotation: false },
            mesh: { enabled: true },
            iris: { enabled: false },
            emotion: { enabled: false },
            description: { enabled: false },
            antispoof: { enabled: false },
            liveness: { enabled: false },
            attention: { enabled: false },
          },
        });
        const mesh = res.face[0]?.mesh;
        assert.ok(mesh && mesh.length === 468, 'Human finds the face');
        const p = (i: number): [number, number] => [mesh[i]![0], mesh[i]![1]];
        const eyes: [number, number, number, number] = [
          (p(33)[0] + p(133)[0]) / 2,
          (p(33)[1] + p(133)[1]) / 2,
          (p(362)[0] + p(263)[0]) / 2,
          (p(362)[1] + p(263)[1]) / 2,
        ];
        const iod = Math.hypot(eyes[2] - eyes[0], eyes[3] - eyes[1]);
        out.push({ eyes, gap: Math.hypot(p(14)[0] - p(13)[0], p(14)[1] - p(13)[1]) / iod });
      } finally {
        human.tf.dispose(input);
      }
    }
    return out;
  });
}

describe('FaceTracker on a real talking clip (face-en-man-2, 844x844, 40 frames)', () => {
  const W = 844;
  const N = 40;
  let frames: YuvFrame[] = [];
  let track: FaceTrack;
  /** Human's landmarks of frames 0, 2, 4, ... */
  let reference: Awaited<ReturnType<typeof humanReference>> = [];

  before(async () => {
    const vf = `scale=${W}:${W}`;
    const [raw, rgb] = await Promise.all([
      decode(TALKING, vf, W, W, N),
      decode(TALKING, vf, W, W, N, 'rgb24'),
    ]);
    frames = raw.map((d) => yuv(d, W, W));
    track = await trackVideoFrames(iterate(frames));
    // Human's own mesh on every second frame (a whole-frame detect costs 2-3x a tracked frame).
    reference = await humanReference(
      rgb.filter((_, i) => i % 2 === 0),
      W,
      W,
    );
  });

  test('every frame is tracked, with full weight', () => {
    assert.equal(track.frames.length, N);
    assert.deepEqual(
      track.frames.map((f) => f.ok),
      new Array(N).fill(true),
    );
    assert.ok(
      track.frames.every((f) => f.weight === 1),
      'weights are all 1',
    );
    assert.equal(track.stats.framesTracked, N);
    assert.equal(track.stats.framesLost, 0);
    assert.equal(track.stats.detections, 1, 'one detection, then tracking');
    assert.ok(track.iodPixels > 100 && track.iodPixels < 250, `IOD ${track.iodPixels}`);
    assert.equal(track.reference.length, 30);
  });

  test('the pose maps canonical (-0.5, 0) and (0.5, 0) onto the eye centres', (t) => {
    let worstOwn = 0;
    let worstHuman = 0;
    for (let i = 0; i < N; i++) {
      const f = track.frames[i]!;
      const human = i % 2 === 0 ? reference[i / 2] : undefined;
      const [px, py] = applyPose(f.pose, -0.5, 0);
      const [qx, qy] = applyPose(f.pose, 0.5, 0);
      const err = (e: readonly number[]): number =>
        Math.max(Math.hypot(px - e[0]!, py - e[1]!), Math.hypot(qx - e[2]!, qy - e[3]!)) / track.iodPixels;
      // The tracked eye centres (the pose is fitted to them, then smoothed).
      worstOwn = Math.max(worstOwn, err(eyeCentres(track.landmarks[i]!)));
      // Human's own mesh on the whole frame: whole pixels, and its crop puts the eye corners a few
      // pixels lower than ours (checked on the pictures: ours sit on the lid line), so a looser bound.
      if (human) worstHuman = Math.max(worstHuman, err(human.eyes));
    }
    t.diagnostic(
      `worst eye error ${worstOwn.toFixed(3)} IOD (own landmarks), ${worstHuman.toFixed(3)} (Human's)`,
    );
    assert.ok(worstOwn < 0.04, `worst eye error ${worstOwn.toFixed(3)} IOD`);
    assert.ok(worstHuman < 0.12, `worst eye error against Human's mesh ${worstHuman.toFixed(3)} IOD`);
  });

  test('mouth landmarks: corners at the ends, clockwise, near (0, 1.1); plausible shapes', () => {
    for (const f of track.frames) {
      const m = f.mouth;
      assert.equal(m.length, 80);
      assert.ok(m[2 * MOUTH.outerLeft]! < -0.25 && m[2 * MOUTH.outerRight]! > 0.25, 'corners left and right');
      const cu = (m[2 * MOUTH.outerLeft]! + m[2 * MOUTH.outerRight]!) / 2;
      const cv = (m[2 * MOUTH.outerLeft + 1]! + m[2 * MOUTH.outerRight + 1]!) / 2;
      assert.ok(Math.abs(cu) < 0.3 && cv > 0.8 && cv < 1.5, `mouth centre at ${cu}, ${cv}`);
      assert.ok(m[2 * MOUTH.outerUpper + 1]! < m[2 * MOUTH.outerLower + 1]!, 'upper lip above lower lip');
      // Clockwise on screen with y down: positive shoelace sum, for both contours.
      for (const start of [0, MOUTH.innerStart]) {
        let area = 0;
        for (let k = 0; k < 20; k++) {
          const a = start + k;
          const b = start + ((k + 1) % 20);
          area += m[2 * a]! * m[2 * b + 1]! - m[2 * b]! * m[2 * a + 1]!;
        }
        assert.ok(area > 0, `contour at ${start} runs clockwise (area ${area})`);
      }
      const s = f.shape;
      assert.ok(s.width > 0.6 && s.width < 1.3, `width ${s.width}`);
      assert.ok(s.rounding > 0.15 && s.rounding < 1, `rounding ${s.rounding}`);
      assert.ok(s.opening >= 0 && s.opening < 0.6, `opening ${s.opening}`);
      assert.ok(s.teeth >= 0 && s.teeth <= 1, `teeth ${s.teeth}`);
    }
  });

  test('opening follows the speech: it varies and matches the lip gap of Human’s own landmarks', (t) => {
    const opening = track.frames.map((f) => f.shape.opening);
    assert.ok(std(opening) > 0.03, `opening std ${std(opening)}`);
    const gap = reference.map((r) => r.gap);
    const sampled = gap.map((_, k) => opening[2 * k]!);
    const r = pearson(sampled, gap);
    t.diagnostic(`opening std ${std(opening).toFixed(3)}, correlation with Human's gap ${r.toFixed(3)}`);
    assert.ok(r > 0.8, `correlation with Human's inner-lip gap ${r.toFixed(3)}`);
    // Frames with the lips clearly apart (by Human) open wider than frames with them nearly closed.
    const order = gap.map((g, i) => [g, i] as const).sort((a, b) => a[0] - b[0]);
    const closed = order.slice(0, 5).map(([, k]) => sampled[k]!);
    const open = order.slice(-5).map(([, k]) => sampled[k]!);
    assert.ok(Math.min(...open) > Math.max(...closed), 'open frames open wider than closed ones');
  });

  test('a face that leaves is lost: ok=false there, weights ramp over 4 frames; a 1-frame dropout is bridged', async () => {
    const black = new Uint8Array(W * W * 1.5).fill(16, 0, W * W).fill(128, W * W);
    const seq = frames.slice(0, 40).map((f, i) => ((i >= 15 && i < 25) || i === 32 ? yuv(black, W, W) : f));
    const lost = await trackVideoFrames(iterate(seq));
    const ok = lost.frames.map((f) => f.ok);
    const wantOk = seq.map((_, i) => !(i >= 15 && i < 25));
    assert.deepEqual(ok, wantOk);
    const weights = lost.frames.map((f) => f.weight);
    const lostWeights = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    assert.deepEqual(weights.slice(10, 30), [1, 1, 0.75, 0.5, 0.25, ...lostWeights, 0.25, 0.5, 0.75, 1, 1]);
    assert.equal(lost.stats.framesLost, 10);
    assert.ok(lost.stats.detections >= 2, 'the face is detected again after it comes back');
    // Lost frames carry the nearest tracked frame's shape.
    assert.deepEqual(lost.frames[15]!.shape, lost.frames[14]!.shape);
    assert.deepEqual(lost.frames[24]!.shape, lost.frames[25]!.shape);
  });
});

/** A frame of dw x dh (black) with the yuv420p frame `src` (sw x sh) placed at (ox, oy), all even. */
function place(
  src: Uint8Array,
  sw: number,
  sh: number,
  dw: number,
  dh: number,
  ox: number,
  oy: number,
): YuvFrame {
  const data = new Uint8Array(dw * dh * 1.5).fill(16, 0, dw * dh).fill(128, dw * dh);
  for (let y = 0; y < sh; y++) data.set(src.subarray(y * sw, (y + 1) * sw), (oy + y) * dw + ox);
  for (let p = 0; p < 2; p++) {
    const s0 = sw * sh + p * (sw / 2) * (sh / 2);
    const d0 = dw * dh + p * (dw / 2) * (dh / 2);
    for (let y = 0; y < sh / 2; y++) {
      data.set(
        src.subarray(s0 + (y * sw) / 2, s0 + ((y + 1) * sw) / 2),
        d0 + ((oy / 2 + y) * dw) / 2 + ox / 2,
      );
    }
  }
  return { width: dw, height: dh, data };
}

describe('FaceTracker: other inputs', () => {
  test('a cut where the face jumps across the frame: that frame is lost, not bridged, then tracked', async () => {
    const S = 560;
    const src = await decode(TALKING, `scale=${S}:${S}`, S, S, 30);
    const seq = src.map((d, i) => place(d, S, S, 1280, 720, i < 20 ? 0 : 720, 80));
    const track = await trackVideoFrames(iterate(seq));
    const ok = track.frames.map((f) => f.ok);
    assert.deepEqual(
      ok,
      seq.map((_, i) => i !== 20),
    );
    assert.deepEqual(
      track.frames.slice(16, 25).map((f) => f.weight),
      [1, 0.75, 0.5, 0.25, 0, 0.25, 0.5, 0.75, 1],
    );
    const [x19] = applyPose(track.frames[19]!.pose, 0, 0);
    const [x21] = applyPose(track.frames[21]!.pose, 0, 0);
    assert.ok(Math.abs(x21 - x19 - 720) < 10, `face moved ${x21 - x19} px`);
  });

  test('the tracked face vanishes while two other faces show: lost (no guessing which one)', async () => {
    const S = 400;
    const src = await decode(TALKING, `scale=${S}:${S}`, S, S, 12);
    const seq = src.map((d, i) => {
      if (i < 6) return place(d, S, S, 1280, 720, 0, 160);
      const two = place(d, S, S, 1280, 720, 440, 160);
      const other = place(d, S, S, 1280, 720, 880, 160);
      // Copy the right-hand face into the frame with the middle one.
      for (let y = 0; y < 720; y++) {
        two.data.set(other.data.subarray(y * 1280 + 880, y * 1280 + 1280), y * 1280 + 880);
      }
      for (let p = 0; p < 2; p++) {
        const o = 1280 * 720 + p * 640 * 360;
        for (let y = 0; y < 360; y++) {
          two.data.set(other.data.subarray(o + y * 640 + 440, o + y * 640 + 640), o + y * 640 + 440);
        }
      }
      return two;
    });
    const track = await trackVideoFrames(iterate(seq));
    assert.deepEqual(
      track.frames.map((f) => f.ok),
      seq.map((_, i) => i < 6),
    );
    assert.ok(track.frames.slice(6).every((f) => f.weight === 0));
    // Control: the middle face alone is picked up (after the one frame of the jump).
    const single = src.map((d, i) => place(d, S, S, 1280, 720, i < 6 ? 0 : 440, 160));
    const control = await trackVideoFrames(iterate(single));
    assert.deepEqual(
      control.frames.map((f) => f.ok),
      single.map((_, i) => i !== 6),
    );
  });

  test('no face at all: every frame lost with weight 0 and a closed mouth; the detector backs off', async () => {
    const black = new Uint8Array(320 * 240 * 1.5).fill(16, 0, 320 * 240).fill(128, 320 * 240);
    const frames = Array.from({ length: 30 }, () => yuv(black, 320, 240));
    const track = await trackVideoFrames(iterate(frames));
    assert.ok(track.frames.every((f) => !f.ok && f.weight === 0));
    assert.deepEqual(track.frames[7]!.shape, CLOSED_MOUTH);
    assert.equal(track.iodPixels, 0);
    assert.equal(track.stats.framesLost, 30);
    // Every frame up to LOST_PATIENCE, then every LOST_DETECT_EVERY-th.
    const want = LOST_PATIENCE + Math.ceil((30 - LOST_PATIENCE) / LOST_DETECT_EVERY);
    assert.equal(track.stats.detections, want);
  });

  test('a still frame repeated 20 times gives a constant pose', async (t) => {
    const W = 844;
    const [still] = await decode(TALKING, `scale=${W}:${W}`, W, W, 1);
    const tracker = new FaceTracker();
    for (let i = 0; i < 20; i++) await tracker.add(yuv(still!, W, W));
    const track = tracker.finish();
    assert.ok(track.frames.every((f) => f.ok));
    const p0 = track.frames[0]!.pose;
    let worst = 0;
    for (const f of track.frames) {
      for (const [u, v] of [
        [-0.5, 0],
        [0.5, 0],
        [0, 1.2],
      ] as const) {
        const [x0, y0] = applyPose(p0, u, v);
        const [x, y] = applyPose(f.pose, u, v);
        worst = Math.max(worst, Math.hypot(x - x0, y - y0));
      }
    }
    t.diagnostic(`pose moves at most ${worst.toExponential(2)} px on a still frame`);
    assert.ok(worst < 0.01, `pose moves ${worst} px on a still frame`);
    const openings = track.frames.map((f) => f.shape.opening);
    assert.ok(std(openings) < 1e-4, 'mouth shape constant');
  });

  test('portrait 1080x1920 with a small face (face-portrait-talking-10s) is tracked', async () => {
    const frames = (await decode(PORTRAIT, 'scale=1080:1920', 1080, 1920, 30)).map((d) => yuv(d, 1080, 1920));
    const track = await trackVideoFrames(iterate(frames));
    assert.equal(track.stats.framesTracked, 30);
    assert.ok(track.iodPixels > 40 && track.iodPixels < 200, `IOD ${track.iodPixels}`);
    for (const f of track.frames) {
      const [x, y] = applyPose(f.pose, 0, 0);
      // The face sits in the upper half of the portrait frame.
      assert.ok(x > 200 && x < 880 && y > 200 && y < 1100, `eye midpoint at ${x}, ${y}`);
    }
  });

  // Speed (ms per frame; budget 30 ms at 720p) is a bench figure, not a test: `npm run bench`, "face tracking".
  test('the same clip at 720p and 1080p (pillarboxed): tracked alike, the pose scales with the frame', async () => {
    const tracks: { track: FaceTrack; padX: number }[] = [];
    for (const [w, h] of [
      [1280, 720],
      [1920, 1080],
    ] as const) {
      const vf = `scale=-2:${h},pad=${w}:${h}:(ow-iw)/2:0`;
      const frames = (await decode(TALKING, vf, w, h, 25)).map((d) => yuv(d, w, h));
      const tracker = new FaceTracker();
      for (const f of frames) await tracker.add(f);
      const track = tracker.finish();
      assert.equal(track.stats.framesTracked, frames.length, `${h}p`);
      assert.equal(track.stats.framesLost, 0, `${h}p`);
      assert.equal(track.stats.detections, 1, `${h}p: one detection, then tracking`);
      tracks.push({ track, padX: (w - h) / 2 }); // the square source scaled to h x h, centred
    }
    const [small, big] = tracks as [(typeof tracks)[0], (typeof tracks)[0]];
    const ratio = big.track.iodPixels / small.track.iodPixels;
    assert.ok(Math.abs(ratio - 1.5) < 0.05, `IOD ${small.track.iodPixels} -> ${big.track.iodPixels}`);
    for (let i = 0; i < 25; i++) {
      // The mouth centre (canonical (0, 1.1)) lands on the same spot of the picture at both sizes.
      const [x7, y7] = applyPose(small.track.frames[i]!.pose, 0, 1.1);
      const [x10, y10] = applyPose(big.track.frames[i]!.pose, 0, 1.1);
      const off = Math.hypot(x10 - big.padX - 1.5 * (x7 - small.padX), y10 - 1.5 * y7) / big.track.iodPixels;
      assert.ok(off < 0.05, `frame ${i}: mouth centres ${off.toFixed(3)} IOD apart`);
    }
    const opening = (t: FaceTrack): number[] => t.frames.map((f) => f.shape.opening);
    const r = pearson(opening(small.track), opening(big.track));
    assert.ok(r > 0.9, `mouth opening at 720p vs 1080p: r = ${r}`);
  });
});

describe('pure parts', () => {
  test('rampWeights: 0 on lost frames, linear back to 1 over the ramp', () => {
    const ok = [true, true, true, true, true, false, false, true, true, true, true, true];
    assert.deepEqual(rampWeights(ok, WEIGHT_RAMP), [1, 1, 0.75, 0.5, 0.25, 0, 0, 0.25, 0.5, 0.75, 1, 1]);
  });

  test('mouthShape measures an open mouth in canonical units', () => {
    // Outer contour: corners at u = -0.45 and 0.45 (v = 1.1), upper centre 1.0, lower centre 1.3.
    const m = new Float32Array(80);
    const set = (k: number, u: number, v: number): void => {
      m[2 * k] = u;
      m[2 * k + 1] = v;
    };
    for (let k = 0; k < 40; k++) set(k, 0, 1.1);
    set(MOUTH.outerLeft, -0.45, 1.1);
    set(MOUTH.outerRight, 0.45, 1.1);
    set(MOUTH.outerUpper, 0, 1.0);
    set(MOUTH.outerLower, 0, 1.3);
    for (const off of [-1, 0, 1]) {
      set(MOUTH.innerUpper + off, off * 0.05, 1.08);
      set(MOUTH.innerLower - off, off * 0.05, 1.2);
    }
    const s = mouthShape(m, 0.2);
    assert.ok(Math.abs(s.width - 0.9) < 1e-6, `width ${s.width}`);
    assert.ok(Math.abs(s.opening - 0.12) < 1e-6, `opening ${s.opening}`);
    assert.ok(Math.abs(s.rounding - 0.3 / 0.9) < 1e-6, `rounding ${s.rounding}`);
    assert.equal(s.teeth, 0.2);
  });
});
