/**
 * Development study for the lip-sync engine's audio -> mouth-shape model (src/engines/lipsync/
 * mouth-model.ts). Not a test: `node --import tsx eval/lipsync/mouth-model-study.ts [--prior-out FILE]`.
 *
 * For each talking-face clip in shared/media: made constant-rate at its rounded frame rate (as
 * run.ts does), mouth tracked on every frame with the eval's face-api tracker (tracker.ts; opening =
 * inner-lip gap / IOD, plus width = corner distance / IOD and rounding = outer-lip height / width as
 * stand-ins for the engine's own tracker; teeth unknown = 0), its own sound decoded at 16 kHz. Tracking
 * results are cached in $TMPDIR/dhs-mouth-study (delete to re-track).
 *
 * Each clip is cut into two halves of whole frames (as run.ts does); features are computed per half
 * (each its own clip, as the engine sees the avatar's audio and new audio). Fit on the first half,
 * predict the second half from its sound; correlation of predicted vs true opening at lag 0 and the best
 * lag within +-200 ms (eval metrics.ts lagCorrelation) for: loudness alone (the eval's RMS envelope),
 * the model without prior, the prior alone (leave-one-clip-out: fitted on the OTHER clips' first halves),
 * and the model with that prior. Variants of the settings are printed as extra rows.
 *
 * With --prior-out FILE the prior fitted on the first halves of all clips is written there (the second
 * halves are the eval's truth and stay out of it).
 */
import { execFile } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { readFrames } from './frames.ts';
import { lagCorrelation, rmsEnvelope } from './metrics.ts';
import { FaceTracker, interOcular, loadFaceApi, mouthOpening, point } from './tracker.ts';
import { audioFeatures } from '../../src/engines/lipsync/audio-features.ts';
import type { AudioFeatures } from '../../src/engines/lipsync/audio-features.ts';
import {
  DEFAULT_FIT_OPTIONS,
  fitMouthModel,
  fitPrior,
  predictShapes,
  serializePrior,
} from '../../src/engines/lipsync/mouth-model.ts';
import type { FitOptions, MouthPrior } from '../../src/engines/lipsync/mouth-model.ts';
import type { MouthShape } from '../../src/engines/lipsync/types.ts';

const run = promisify(execFile);
const MEDIA = resolve(process.env.DHS_MEDIA_DIR ?? '/work/shared/media');
const CACHE = join(tmpdir(), 'dhs-mouth-study');
const RATE = 16000;
const TRACK_LONG_SIDE = 960;
const CLIPS = [
  'face-en-man-1.mp4',
  'face-en-man-2.mp4',
  'face-en-woman-1.mp4',
  'face-en-woman-2.mp4',
  'face-en-woman-3-mpeg4.mp4',
  'face-portrait-talking-10s.mp4',
];

interface ClipData {
  id: string;
  fps: number;
  frames: number;
  opening: number[];
  width: number[];
  rounding: number[];
  ok: number[];
}

function even(n: number): number {
  return Math.max(2, Math.round(n / 2) * 2);
}

async function probe(
  file: string,
): Promise<{ fps: number; width: number; height: number; duration: number }> {
  const { stdout } = await run('ffprobe', [
    '-v',
    'error',
    '-select_streams',
    'v:0',
    '-show_entries',
    'stream=width,height,avg_frame_rate:format=duration',
    '-of',
    'json',
    file,
  ]);
  const j = JSON.parse(stdout) as {
    streams: Array<{ width: number; height: number; avg_frame_rate: string }>;
    format: { duration: string };
  };
  const s = j.streams[0];
  if (!s) throw new Error(`${file}: no video`);
  const [a, b] = s.avg_frame_rate.split('/').map(Number);
  return { fps: (a ?? 25) / (b || 1), width: s.width, height: s.height, duration: Number(j.format.duration) };
}

async function prepare(name: string): Promise<{ data: ClipData; pcm: Float32Array }> {
  const id = name.replace(/\.[^.]+$/, '');
  const jsonFile = join(CACHE, `${id}.json`);
  const pcmFile = join(CACHE, `${id}.f32`);
  const src = join(MEDIA, name);
  await mkdir(CACHE, { recursive: true });
  const info = await probe(src);
  const fps = Math.round(info.fps) || 25;
  let pcm: Float32Array;
  try {
    const buf = await readFile(pcmFile);
    pcm = new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4);
  } catch {
    await run('ffmpeg', [
      ...['-nostdin', '-v', 'error', '-y', '-i', src, '-map', '0:a:0'],
      ...['-af', 'asetpts=PTS-STARTPTS', '-ac', '1', '-ar', String(RATE), '-f', 'f32le', pcmFile],
    ]);
    const buf = await readFile(pcmFile);
    pcm = new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4);
  }
  try {
    return { data: JSON.parse(await readFile(jsonFile, 'utf8')) as ClipData, pcm };
  } catch {
    // not cached yet
  }
  const width = Math.floor(info.width / 2) * 2;
  const height = Math.floor(info.height / 2) * 2;
  const scale = Math.min(1, TRACK_LONG_SIDE / Math.max(width, height));
  const tw = even(width * scale);
  const th = even(height * scale);
  const cfr = join(CACHE, `${id}-cfr.mp4`);
  await run('ffmpeg', [
    ...['-nostdin', '-v', 'error', '-y', '-i', src, '-map', '0:v:0'],
    ...['-vf', `setpts=PTS-STARTPTS,fps=${fps},crop=${width}:${height}:0:0`, '-fps_mode', 'passthrough'],
    ...['-c:v', 'libx264', '-preset', 'veryfast', '-crf', '16', '-pix_fmt', 'yuv420p', cfr],
  ]);
  await loadFaceApi();
  const tracker = new FaceTracker(tw, th, {
    offsetX: 0,
    offsetY: 0,
    scaleX: width / tw,
    scaleY: height / th,
  });
  const data: ClipData = { id, fps, frames: 0, opening: [], width: [], rounding: [], ok: [] };
  for await (const frame of readFrames(cfr, { ffmpegPath: 'ffmpeg', width: tw, height: th })) {
    const lm = await tracker.next(frame);
    data.frames++;
    if (!lm) {
      data.opening.push(0);
      data.width.push(0);
      data.rounding.push(0);
      data.ok.push(0);
      continue;
    }
    const iod = interOcular(lm);
    const [lx, ly] = point(lm, 48);
    const [rx, ry] = point(lm, 54);
    const [ux, uy] = point(lm, 51);
    const [dx, dy] = point(lm, 57);
    const w = Math.hypot(rx - lx, ry - ly);
    data.opening.push(mouthOpening(lm));
    data.width.push(w / iod);
    data.rounding.push(Math.hypot(dx - ux, dy - uy) / w);
    data.ok.push(1);
  }
  await writeFile(jsonFile, JSON.stringify(data));
  console.error(`tracked ${id}: ${data.frames} frames at ${fps} fps (${tracker.stats.tracked} with a face)`);
  return { data, pcm };
}

interface Half {
  features: AudioFeatures;
  shapes: MouthShape[];
  valid: Uint8Array;
  opening: number[];
  pcm: Float32Array;
}

function half(data: ClipData, pcm: Float32Array, which: 0 | 1): Half {
  const n = Math.floor((data.frames - 1) / 2);
  const f0 = which * n;
  const s0 = Math.round((f0 / data.fps) * RATE);
  const s1 = Math.round(((f0 + n) / data.fps) * RATE);
  const audio = pcm.slice(s0, Math.min(pcm.length, s1));
  const shapes: MouthShape[] = [];
  const valid = new Uint8Array(n);
  const opening: number[] = [];
  for (let i = 0; i < n; i++) {
    const k = f0 + i;
    shapes.push({
      opening: data.opening[k] ?? 0,
      width: data.width[k] ?? 0,
      rounding: data.rounding[k] ?? 0,
      teeth: 0,
    });
    valid[i] = data.ok[k] ?? 0;
    opening.push(valid[i] ? (data.opening[k] ?? NaN) : NaN);
  }
  return { features: audioFeatures(audio, RATE, data.fps, n), shapes, valid, opening, pcm: audio };
}

interface Row {
  clip: string;
  condition: string;
  r0: number | null;
  best: number | null;
  lagMs: number | null;
}

function fmt(v: number | null, d = 3): string {
  return v === null || !Number.isFinite(v) ? '-' : v.toFixed(d);
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const priorOut = args.includes('--prior-out') ? args[args.indexOf('--prior-out') + 1] : undefined;
  const clips: Array<{ data: ClipData; a: Half; b: Half }> = [];
  for (const name of CLIPS) {
    const { data, pcm } = await prepare(name);
    clips.push({ data, a: half(data, pcm, 0), b: half(data, pcm, 1) });
  }
  const rows: Row[] = [];
  const push = (clip: string, condition: string, truth: number[], pred: ArrayLike<number>, fps: number) => {
    const lc = lagCorrelation(truth, pred, fps);
    rows.push({ clip, condition, r0: lc.atZero, best: lc.best, lagMs: lc.bestLagMs });
  };

  const variants: Array<[string, Partial<FitOptions>]> = [['', {}]];
  for (const v of (process.env.STUDY_VARIANTS ?? '').split(';').filter(Boolean)) {
    variants.push([v, JSON.parse(v) as Partial<FitOptions>]);
  }
  let fitMs = 0;
  let fits = 0;
  for (const [label, over] of variants) {
    const opts: FitOptions = { ...DEFAULT_FIT_OPTIONS, ...over };
    const tag = label ? ` ${label}` : '';
    for (const [i, c] of clips.entries()) {
      const { id, fps } = c.data;
      if (!label) {
        push(id, 'loudness', c.b.opening, rmsEnvelope(c.b.pcm, RATE, fps, c.b.opening.length), fps);
      }
      const others = clips.filter((_, j) => j !== i).map((o) => o.a);
      const prior = fitPrior(others, opts);
      const t0 = performance.now();
      const own = fitMouthModel(c.a, null, opts);
      fitMs += performance.now() - t0;
      fits++;
      push(
        id,
        `no prior${tag}`,
        c.b.opening,
        predictShapes(own, c.b.features).map((s) => s.opening),
        fps,
      );
      const empty = { ...c.a, valid: new Uint8Array(c.a.valid.length) };
      const priorOnly = fitMouthModel(empty, prior, opts);
      push(
        id,
        `prior only${tag}`,
        c.b.opening,
        predictShapes(priorOnly, c.b.features).map((s) => s.opening),
        fps,
      );
      const withPrior = fitMouthModel(c.a, prior, opts);
      push(
        id,
        `with prior${tag}`,
        c.b.opening,
        predictShapes(withPrior, c.b.features).map((s) => s.opening),
        fps,
      );
      if (process.env.STUDY_VERBOSE)
        console.error(id, label, 'lambda', withPrior.lambdas, 'gain', withPrior.gain);
    }
  }
  const conditions = [...new Set(rows.map((r) => r.condition))];
  const ids = clips.map((c) => c.data.id);
  const table: Record<string, Record<string, string>> = {};
  for (const cond of conditions) {
    const line: Record<string, string> = {};
    const sel = rows.filter((r) => r.condition === cond);
    for (const id of ids) {
      const r = sel.find((x) => x.clip === id);
      line[id.replace('face-', '').replace('-talking-10s', '').replace('-mpeg4', '')] = r
        ? `${fmt(r.r0, 2)}/${fmt(r.best, 2)}@${fmt(r.lagMs, 0)}`
        : '-';
    }
    const mean = (f: (r: Row) => number | null): number =>
      sel.reduce((s, r) => s + (f(r) ?? 0), 0) / Math.max(1, sel.length);
    line['mean r@0'] = fmt(mean((r) => r.r0));
    line['mean best'] = fmt(mean((r) => r.best));
    line['mean lag'] = fmt(
      mean((r) => r.lagMs),
      0,
    );
    table[cond] = line;
  }
  console.log('cells: r at lag 0 / best r within +-200 ms @ its lag in ms (positive: prediction late)');
  console.table(table);
  console.log(
    `halves: ${clips.map((c) => `${c.data.id} ${c.a.opening.length} fr @ ${c.data.fps}`).join(', ')}; fit ${(fitMs / Math.max(1, fits)).toFixed(1)} ms mean (no prior)`,
  );
  if (priorOut) {
    const prior: MouthPrior = fitPrior(
      clips.map((c) => c.a),
      DEFAULT_FIT_OPTIONS,
    );
    const { format } = await import('prettier');
    await writeFile(priorOut, await format(serializePrior(prior), { parser: 'json', printWidth: 110 }));
    console.log(`prior written to ${priorOut} (${clips.length} clips' first halves)`);
  }
}

await main();
