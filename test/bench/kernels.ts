/**
 * Part of `npm run bench` (alone: `npm run bench -- --kernels-only`, under a minute): the speed of the
 * engines' CPU kernels, each on the input its unit test uses. The unit tests assert what these
 * kernels produce; how fast they run is measured here, never asserted in a test, because a loaded
 * machine makes any wall-clock bound flaky. Each figure is the median of a few timed runs after a
 * warm-up (JIT, WASM kernels), with the old test bound or the budget in the note for comparison.
 */
import { spawnSync } from 'node:child_process';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { FEATURE_DIM, audioFeatures } from '../../src/engines/lipsync/audio-features.ts';
import {
  DEFAULT_MASK,
  buildMask,
  compositeSample,
  cropGeometry,
  extractSample,
} from '../../src/engines/lipsync/composite.ts';
import { FaceTracker } from '../../src/engines/lipsync/face-track.ts';
import { fitMouthModel } from '../../src/engines/lipsync/mouth-model.ts';
import { selectSamplesWithStats } from '../../src/engines/lipsync/select.ts';
import type { MouthShape, Pose, YuvFrame } from '../../src/engines/lipsync/types.ts';
import { convertVoice } from '../../src/engines/voice/convert.ts';
import { analyzeSpeaker } from '../../src/engines/voice/envelope.ts';
import { voice } from '../../src/engines/voice/test-signals.ts';
import { sharedMedia, testMedia } from '../helpers/fixtures.ts';
import { tempDir } from '../helpers/db.ts';

export interface KernelRow {
  name: string;
  value: number;
  unit: string;
  note: string;
}

/** Median wall milliseconds of `runs` calls of `fn` (after one untimed call). */
async function medianMs(runs: number, fn: () => unknown): Promise<number> {
  await fn();
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await fn();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)] as number;
}

/** Deterministic uniform numbers in [0, 1). */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return (s + 0.5) / 2 ** 32;
  };
}

/** convert.test.ts: 10 s at 22.05 kHz (the synthesizer's rate) converted toward a trained envelope. */
async function voiceConversion(rows: KernelRow[]): Promise<void> {
  const rate = 22_050;
  const seconds = 10;
  const input = voice(rate, seconds, 120, 1);
  const target = analyzeSpeaker(voice(16_000, 6, 200, 1.2), 'PRO');
  for (const tier of ['LITE', 'PRO'] as const) {
    const ms = await medianMs(3, () => convertVoice(input, rate, null, target, tier));
    rows.push({
      name: `voice conversion ${tier}: real-time factor`,
      value: ms / 1000 / seconds,
      unit: 'x',
      note: `${(ms / 1000 / seconds).toFixed(4)}; ${seconds} s at 22.05 kHz; old test bound ${tier === 'LITE' ? '0.03' : '0.1'}`,
    });
  }
}

/** A smooth synthetic 720p yuv420p frame (composite.test.ts's pattern). */
function smoothFrame(width: number, height: number): YuvFrame {
  const data = new Uint8Array((width * height * 3) / 2);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      data[y * width + x] = 128 + 50 * Math.sin(x / 11) * Math.cos(y / 13) + 20 * Math.sin((x + y) / 29);
    }
  }
  data.fill(128, width * height);
  return { width, height, data };
}

/** composite.test.ts: extract and paste a mouth sample on a 720p frame, face IOD 120 px, slightly rotated. */
async function composite(rows: KernelRow[]): Promise<void> {
  const frame = smoothFrame(1280, 720);
  const angle = 0.08;
  const pose: Pose = [
    120 * Math.cos(angle),
    -120 * Math.sin(angle),
    120 * Math.sin(angle),
    120 * Math.cos(angle),
    640,
    300,
  ];
  const geom = cropGeometry(120);
  const mask = buildMask(geom, DEFAULT_MASK);
  const sample = extractSample(frame, pose, geom);
  const reps = 100;
  const pasteMs = await medianMs(5, () => {
    for (let r = 0; r < reps; r++) compositeSample(frame, pose, sample, geom, { weight: 1, mask });
  });
  const extractMs = await medianMs(5, () => {
    for (let r = 0; r < reps; r++) extractSample(frame, pose, geom, sample);
  });
  const size = `${geom.width}x${geom.height} sample`;
  rows.push({
    name: 'composite a mouth onto a 720p frame',
    value: pasteMs / reps,
    unit: 'ms',
    note: `${size}; old test bound 10`,
  });
  rows.push({
    name: 'extract a mouth sample from a 720p frame',
    value: extractMs / reps,
    unit: 'ms',
    note: size,
  });
}

/** A talking-mouth-like series of n x 4 shapes (select.test.ts's mouthWalk in spirit). */
function mouthWalk(n: number, seed: number): Float32Array {
  const r = rng(seed);
  const out = new Float32Array(n * 4);
  const phase = [r() * 6, r() * 6, r() * 6, r() * 6];
  const speed = [0.31 + r() * 0.2, 0.17 + r() * 0.1, 0.23 + r() * 0.1, 0.4 + r() * 0.2];
  for (let i = 0; i < n; i++) {
    for (let d = 0; d < 4; d++) phase[d] = (phase[d] as number) + (speed[d] as number) * (0.5 + r());
    out[i * 4] = Math.max(0, 0.12 + 0.12 * Math.sin(phase[0] as number) + 0.02 * (r() - 0.5));
    out[i * 4 + 1] = 0.45 + 0.05 * Math.sin(phase[1] as number) + 0.01 * (r() - 0.5);
    out[i * 4 + 2] = 0.35 + 0.1 * Math.sin(phase[2] as number) + 0.02 * (r() - 0.5);
    out[i * 4 + 3] = Math.max(0, 0.3 * Math.sin(phase[3] as number) + 0.05 * r());
  }
  return out;
}

/** select.test.ts: 30 min of output (45 000 frames at 25 fps) over a 2 min source (3000 frames). */
async function selection(rows: KernelRow[]): Promise<void> {
  const shapes = mouthWalk(3000, 11);
  const targets = mouthWalk(45_000, 12);
  const ms = await medianMs(3, () => selectSamplesWithStats(targets, { shapes }));
  rows.push({
    name: 'sample selection, 45000 x 3000 frames',
    value: ms,
    unit: 'ms',
    note: 'old test bound 20000',
  });
}

/** mouth-model.test.ts: the default ridge fit on a 60 s avatar (1500 frames of synthetic features). */
async function mouthModelFit(rows: KernelRow[]): Promise<void> {
  const frames = 1500;
  const r = rng(50);
  const gauss = (): number => Math.sqrt(-2 * Math.log(r())) * Math.cos(2 * Math.PI * r());
  const x = new Float32Array(frames * FEATURE_DIM);
  for (let k = 0; k < frames; k++) {
    for (let i = 0; i < FEATURE_DIM - 1; i++) x[k * FEATURE_DIM + i] = gauss();
    x[k * FEATURE_DIM + FEATURE_DIM - 1] = 1;
  }
  const w = Array.from({ length: FEATURE_DIM * 4 }, () => 0.2 * gauss());
  const shapes: MouthShape[] = [];
  for (let k = 0; k < frames; k++) {
    const v = [0, 1, 2, 3].map((c) => {
      let s = 0.3 * gauss();
      for (let i = 0; i < FEATURE_DIM; i++)
        s += (x[k * FEATURE_DIM + i] as number) * (w[i * 4 + c] as number);
      return 0.3 + 0.03 * s;
    }) as [number, number, number, number];
    shapes.push({ opening: v[0], width: v[1], rounding: v[2], teeth: v[3] });
  }
  const features = {
    frames,
    dim: FEATURE_DIM,
    x,
    speech: new Uint8Array(frames).fill(1),
    loudnessDb: new Float32Array(frames).fill(-20),
    fps: 25,
  };
  const valid = new Uint8Array(frames).fill(1);
  const ms = await medianMs(3, () => fitMouthModel({ features, shapes, valid }, null));
  rows.push({
    name: 'mouth model fit, 60 s avatar (1500 frames)',
    value: ms,
    unit: 'ms',
    note: 'old test bound 1000',
  });
}

/** audio-features.test.ts: features of speech-en-3.wav at 25 fps. */
async function features(rows: KernelRow[]): Promise<void> {
  const sr = 16_000;
  const res = spawnSync(
    'ffmpeg',
    [
      '-v',
      'error',
      '-i',
      sharedMedia('speech-en-3.wav'),
      '-ac',
      '1',
      '-ar',
      String(sr),
      '-f',
      'f32le',
      'pipe:1',
    ],
    { maxBuffer: 64 << 20 },
  );
  if (res.status !== 0) throw new Error(`ffmpeg failed: ${res.stderr?.toString()}`);
  const buf = res.stdout;
  const pcm = new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4);
  const seconds = pcm.length / sr;
  const frames = Math.floor(seconds * 25);
  const ms = await medianMs(3, () => audioFeatures(pcm, sr, 25, frames));
  rows.push({
    name: 'audio features, real speech',
    value: ms,
    unit: 'ms',
    note: `${seconds.toFixed(1)} s of speech, ${frames} frames; old test bound 1500`,
  });
}

/** face-track.test.ts: steady-state tracking of face-en-man-2 pillarboxed to 720p and 1080p (25 frames). */
async function faceTracking(rows: KernelRow[]): Promise<void> {
  const dir = tempDir();
  for (const [w, h] of [
    [1280, 720],
    [1920, 1080],
  ] as const) {
    const out = join(dir, `${h}.yuv`);
    const vf = `scale=-2:${h},pad=${w}:${h}:(ow-iw)/2:0`;
    await testMedia().ffmpeg([
      '-i',
      sharedMedia('face-en-man-2.mp4'),
      '-frames:v',
      '25',
      '-vf',
      vf,
      '-f',
      'rawvideo',
      '-pix_fmt',
      'yuv420p',
      '-y',
      out,
    ]);
    const buf = await readFile(out);
    await rm(out);
    const size = (w * h * 3) / 2;
    const frames: YuvFrame[] = [];
    for (let i = 0; i < buf.length / size; i++) {
      frames.push({ width: w, height: h, data: new Uint8Array(buf.buffer, buf.byteOffset + i * size, size) });
    }
    const tracker = new FaceTracker();
    // The first frames pay the detector and the WASM kernels' warm-up; time the steady state.
    for (const f of frames.slice(0, 5)) await tracker.add(f);
    const t0 = performance.now();
    for (const f of frames.slice(5)) await tracker.add(f);
    const ms = (performance.now() - t0) / (frames.length - 5);
    const track = tracker.finish();
    rows.push({
      name: `face tracking ${h}p, per frame`,
      value: ms,
      unit: 'ms',
      note: `${track.stats.framesTracked}/${frames.length} tracked; budget 30 at 720p; old test bound 80`,
    });
  }
  await rm(dir, { recursive: true, force: true });
}

/** Every kernel figure, in this order. */
export async function kernelBench(): Promise<KernelRow[]> {
  const rows: KernelRow[] = [];
  await voiceConversion(rows);
  await composite(rows);
  await selection(rows);
  await mouthModelFit(rows);
  await features(rows);
  await faceTracking(rows);
  return rows;
}
