/**
 * Development study for the lip-sync engine's audio -> mouth-shape model (src/engines/lipsync/
 * mouth-model.ts) and its sample selection (select.ts). Not a test:
 *   node --import tsx eval/lipsync/mouth-model-study.ts        (about a minute once tracked)
 *
 * Every clip of the eval (clips.ts EVAL_CLIPS, re-read each run; STUDY_CLIPS=prefix,... narrows it),
 * tracked once on every frame at its rounded frame rate with BOTH the eval's face-api tracker
 * (tracker.ts: the judge; opening = inner-lip gap / IOD) and the engine's own tracker (face-track.ts:
 * what the engine fits on and selects by), its own sound decoded at 16 kHz. Tracks are cached in
 * $TMPDIR/dhs-mouth-study (delete to re-track; 26 clips take about 15 minutes on the loaded machine).
 *
 * Each clip is cut into two halves of whole frames (as run.ts does); features are computed per half
 * (each its own clip, as the engine sees the avatar's audio and new audio). Leave one SPEAKER out: the
 * prior is fitted on the first halves of every other speaker's clips (as the eval's sample-loo). Then,
 * as the engine does, the avatar's model is fitted on its own first half (engine tracker) and predicts
 * the second half from its sound. Conditions, each against the judge's opening of the second half:
 * - loudness: the eval's RMS envelope of the second half's sound;
 * - prior only: the prior's stand-alone map (the avatar's own frames unused);
 * - model: the predicted opening;
 * - selected: the judge's opening of the first-half frames the selection (select.ts) picks for those
 *   predictions, i.e. what the rendered output shows before compositing (the end to end minus pasting);
 * - fa model (STUDY_FACEAPI=1): the model fitted on the judge's own shapes (the tracker-mismatch ceiling).
 * Printed per clip (r at the peak of its lag curve inside -125..+45 ms, @ its best lag within +-200 ms)
 * and pooled as the eval does (clips' lag curves pooled, peak inside the window, bootstrap 90% interval
 * over clips, seed 1). STUDY_VARIANTS='{json FitOptions};...' adds fit variants, STUDY_SELECT='{json
 * SelectOptions};...' selection variants.
 */
import { execFile } from 'node:child_process';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { readFrames } from './frames.ts';
import { clipFile, EVAL_CLIPS, speakerOf } from './clips.ts';
import {
  bootstrapInterval,
  lagCorrelation,
  mean,
  peakInWindow,
  pooledWindowPeak,
  rmsEnvelope,
} from './metrics.ts';
import { FaceTracker, interOcular, loadFaceApi, mouthOpening, point } from './tracker.ts';
import { audioFeatures } from '../../src/engines/lipsync/audio-features.ts';
import type { AudioFeatures } from '../../src/engines/lipsync/audio-features.ts';
import { FaceTracker as EngineTracker } from '../../src/engines/lipsync/face-track.ts';
import { decodeFrames, evenSize, frameRateArg } from '../../src/engines/lipsync/frame-io.ts';
import { selectSamples, type SelectOptions } from '../../src/engines/lipsync/select.ts';
import { FfmpegMedia } from '../../src/repositories/ffmpeg-media.ts';
import { locateFfmpeg } from '../../src/repositories/ffmpeg-locate.ts';
import {
  DEFAULT_FIT_OPTIONS,
  fitMouthModel,
  fitPrior,
  predictShapes,
} from '../../src/engines/lipsync/mouth-model.ts';
import type { FitOptions } from '../../src/engines/lipsync/mouth-model.ts';
import type { MouthShape } from '../../src/engines/lipsync/types.ts';

const run = promisify(execFile);
const MEDIA = resolve(process.env.DHS_MEDIA_DIR ?? '/work/shared/media');
const CACHE = join(tmpdir(), 'dhs-mouth-study');
const RATE = 16000;
const WINDOW: [number, number] = [-125, 45];
const TRACK_LONG_SIDE = 960;
/** Every clip of the eval (re-read at start: the list grows). STUDY_CLIPS=prefix,prefix narrows it. */
function studyClips(): string[] {
  const only = (process.env.STUDY_CLIPS ?? '').split(',').filter(Boolean);
  return EVAL_CLIPS.map((c) => c.file).filter((f) => only.length === 0 || only.some((p) => f.startsWith(p)));
}

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
  const src = clipFile(name, MEDIA);
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
  await rm(cfr, { force: true });
  console.error(`tracked ${id}: ${data.frames} frames at ${fps} fps (${tracker.stats.tracked} with a face)`);
  return { data, pcm };
}

/** The engine's own track of the whole clip (face-track.ts, as the engine sees the avatar), cached. */
interface EngineData {
  frames: number;
  /** frames x 4 in SHAPE_KEYS order. */
  shapes: number[];
  /** 1 where ok at full weight (what the engine fits on and may show). */
  valid: number[];
}

async function engineTrack(name: string, fps: number): Promise<EngineData> {
  const id = name.replace(/\.[^.]+$/, '');
  const jsonFile = join(CACHE, `${id}-engine.json`);
  try {
    return JSON.parse(await readFile(jsonFile, 'utf8')) as EngineData;
  } catch {
    // not cached yet
  }
  const file = clipFile(name, MEDIA);
  const media = new FfmpegMedia(locateFfmpeg(process.env));
  const info = await media.probe(file);
  if (!info.video) throw new Error(`${file}: no video`);
  const { width, height } = evenSize(info.video.width, info.video.height);
  const tracker = new EngineTracker();
  for await (const frame of decodeFrames(media, file, { fps: frameRateArg(fps), width, height })) {
    await tracker.add(frame);
  }
  const track = tracker.finish();
  const data: EngineData = { frames: track.frames.length, shapes: [], valid: [] };
  for (const f of track.frames) {
    data.shapes.push(f.shape.opening, f.shape.width, f.shape.rounding, f.shape.teeth);
    data.valid.push(f.ok && f.weight >= 1 ? 1 : 0);
  }
  await writeFile(jsonFile, JSON.stringify(data));
  console.error(
    `engine-tracked ${id}: ${data.frames} frames (${track.stats.msPerFrame.toFixed(0)} ms/frame)`,
  );
  return data;
}

interface Half {
  features: AudioFeatures;
  shapes: MouthShape[];
  valid: Uint8Array;
  /** The eval tracker's opening (NaN where it lost the face): the truth. */
  opening: number[];
  pcm: Float32Array;
}

/** The eval's split: the first floor((frames - 1) / 2) frames, then as many more. */
function halfRange(frames: number, which: 0 | 1): [number, number] {
  const n = Math.floor((frames - 1) / 2);
  return [which * n, n];
}

function half(data: ClipData, eng: EngineData | null, pcm: Float32Array, which: 0 | 1): Half {
  const [f0, n] = halfRange(data.frames, which);
  const s0 = Math.round((f0 / data.fps) * RATE);
  const s1 = Math.round(((f0 + n) / data.fps) * RATE);
  const audio = pcm.slice(s0, Math.min(pcm.length, s1));
  const shapes: MouthShape[] = [];
  const valid = new Uint8Array(n);
  const opening: number[] = [];
  for (let i = 0; i < n; i++) {
    const k = f0 + i;
    if (eng) {
      const e = (d: number): number => eng.shapes[k * 4 + d] ?? 0;
      shapes.push({ opening: e(0), width: e(1), rounding: e(2), teeth: e(3) });
      valid[i] = k < eng.frames ? (eng.valid[k] ?? 0) : 0;
    } else {
      shapes.push({
        opening: data.opening[k] ?? 0,
        width: data.width[k] ?? 0,
        rounding: data.rounding[k] ?? 0,
        teeth: 0,
      });
      valid[i] = data.ok[k] ?? 0;
    }
    opening.push(data.ok[k] ? (data.opening[k] ?? NaN) : NaN);
  }
  return { features: audioFeatures(audio, RATE, data.fps, n), shapes, valid, opening, pcm: audio };
}

interface Clip {
  name: string;
  id: string;
  speaker: string;
  fps: number;
  /** face-api shapes as targets (a, b) and the engine's (ea, eb); truth = b.opening. */
  a: Half;
  b: Half;
  ea: Half;
  eb: Half;
}

interface Row {
  clip: string;
  condition: string;
  r0: number | null;
  best: number | null;
  lagMs: number | null;
  curve: Array<[number, number | null]>;
}

function fmt(v: number | null, d = 3): string {
  return v === null || !Number.isFinite(v) ? '-' : v.toFixed(d);
}

/** The eval tracker's opening of the first-half frames the selection chose (what the output shows). */
function selectedOpening(c: Clip, targets: MouthShape[], select: SelectOptions | undefined): number[] {
  const choice = selectSamples(targets, { shapes: c.ea.shapes, usable: c.ea.valid }, select);
  return Array.from(choice, (s) => (s >= 0 ? (c.a.opening[s] ?? NaN) : NaN));
}

/** Pearson-friendly: NaN (lost faces) replaced by the series mean. */
function fillNaN(v: ArrayLike<number>): number[] {
  const ok = Array.from(v).filter((x) => Number.isFinite(x));
  const m = ok.length ? ok.reduce((a, b) => a + b, 0) / ok.length : 0;
  return Array.from(v, (x) => (Number.isFinite(x) ? x : m));
}

async function main(): Promise<void> {
  const names = studyClips();
  const clips: Clip[] = [];
  for (const name of names) {
    const { data, pcm } = await prepare(name);
    const eng = await engineTrack(name, data.fps);
    clips.push({
      name,
      id: data.id,
      speaker: speakerOf(name),
      fps: data.fps,
      a: half(data, null, pcm, 0),
      b: half(data, null, pcm, 1),
      ea: half(data, eng, pcm, 0),
      eb: half(data, eng, pcm, 1),
    });
  }
  const rows: Row[] = [];
  const push = (c: Clip, condition: string, pred: ArrayLike<number>) => {
    const lc = lagCorrelation(fillNaN(c.b.opening), fillNaN(pred), c.fps);
    rows.push({
      clip: c.id,
      condition,
      r0: lc.atZero,
      best: lc.best,
      lagMs: lc.bestLagMs,
      curve: lc.curve,
    });
  };

  const variants: Array<[string, Partial<FitOptions>]> = [['', {}]];
  for (const v of (process.env.STUDY_VARIANTS ?? '').split(';').filter(Boolean)) {
    variants.push([v, JSON.parse(v) as Partial<FitOptions>]);
  }
  const faceApiRows = !!process.env.STUDY_FACEAPI;
  // Selection variants (JSON SelectOptions, ';'-separated), each on every fit variant's targets.
  const selectVariants = (process.env.STUDY_SELECT ?? '').split(';').filter(Boolean);
  for (const [label, over] of variants) {
    const opts: FitOptions = { ...DEFAULT_FIT_OPTIONS, ...over };
    const tag = label ? ` ${label}` : '';
    for (const c of clips) {
      if (!label) push(c, 'loudness', rmsEnvelope(c.b.pcm, RATE, c.fps, c.b.opening.length));
      // Leave one SPEAKER out: the prior never saw this person.
      const others = clips.filter((o) => o.speaker !== c.speaker);
      if (faceApiRows) {
        const prior = fitPrior(
          others.map((o) => o.a),
          opts,
        );
        const withPrior = fitMouthModel(c.a, prior, opts);
        push(
          c,
          `fa model${tag}`,
          predictShapes(withPrior, c.b.features).map((s) => s.opening),
        );
      }
      // As the engine: its own tracker's shapes train the prior (others' first halves) and the avatar's
      // model; the selection shows first-half frames, whose eval-tracker opening is what the judge sees
      // (before compositing).
      const prior = fitPrior(
        others.map((o) => o.ea),
        opts,
      );
      const empty = { ...c.ea, valid: new Uint8Array(c.ea.valid.length) };
      const priorOnly = predictShapes(fitMouthModel(empty, prior, opts), c.eb.features);
      push(
        c,
        `prior only${tag}`,
        priorOnly.map((s) => s.opening),
      );
      const model = fitMouthModel(c.ea, prior, opts);
      const targets = predictShapes(model, c.eb.features);
      push(
        c,
        `model${tag}`,
        targets.map((s) => s.opening),
      );
      push(c, `selected${tag}`, selectedOpening(c, targets, undefined));
      for (const sv of selectVariants)
        push(c, `selected${tag} ${sv}`, selectedOpening(c, targets, JSON.parse(sv) as SelectOptions));
      if (process.env.STUDY_VERBOSE) console.error(c.id, label, 'lambda', model.lambdas, 'gain', model.gain);
    }
  }
  const conditions = [...new Set(rows.map((r) => r.condition))];
  const perClip: Record<string, Record<string, string>> = {};
  for (const c of clips) {
    const line: Record<string, string> = { half: `${(c.b.opening.length / c.fps).toFixed(1)} s` };
    for (const cond of conditions) {
      const r = rows.find((x) => x.clip === c.id && x.condition === cond);
      const w = r ? peakInWindow(r.curve, WINDOW) : null;
      line[cond] = r ? `${fmt(w?.best ?? null, 2)}@${fmt(r.lagMs, 0)}` : '-';
    }
    perClip[c.id.replace('face-', '').replace('-talking-10s', '').replace('-mpeg4', '')] = line;
  }
  console.log(
    `cells: r at the window peak of this clip's lag curve (${WINDOW.join('..')} ms) @ its best lag within +-200 ms`,
  );
  console.table(perClip);
  const summary: Record<string, Record<string, string>> = {};
  for (const cond of conditions) {
    const sel = rows.filter((r) => r.condition === cond);
    const pooled = pooledWindowPeak(sel.map((r) => r.curve));
    const ci = bootstrapInterval(sel, (s) => pooledWindowPeak(s.map((r) => r.curve)).best);
    const inWindow = sel.filter((r) => r.lagMs !== null && r.lagMs >= WINDOW[0] && r.lagMs <= WINDOW[1]);
    summary[cond] = {
      pooled: `${fmt(pooled.best)} (${fmt(pooled.lagMs, 0)} ms)`,
      '90%': `${fmt(ci.lo, 2)}..${fmt(ci.hi, 2)}`,
      'mean r@0': fmt(mean(sel.map((r) => r.r0 ?? 0))),
      'lag in window': `${inWindow.length}/${sel.length}`,
    };
  }
  console.log('pooled over clips (leave-one-speaker-out priors), bootstrap over clips, seed 1:');
  console.table(summary);
}

await main();
