/**
 * The sample-based lip-sync engine ("Video Rewrite", Bregler et al. 1997), on CPU.
 *
 * Preparation (once per avatar; cached through the AvatarCache port):
 *   1. decode the video at a constant frame rate and track the face in every frame (face-track.ts);
 *   2. decode it again and cut each usable frame's lower face into a canonical-pose sample
 *      (composite.ts extractSample), written to samples.bin;
 *   3. learn, from the video's own soundtrack and tracked mouth, how this person's mouth follows
 *      their speech (mouth-model.ts: ridge regression over MFCC context, centred on a generic prior).
 * Rendering (every work):
 *   4. predict the mouth shape per output frame from the new audio;
 *   5. choose a source sample per output frame by Viterbi (select.ts: shape match + smooth runs);
 *   6. stream the base frames (the source played forward and backward to the audio's length), paste
 *      the chosen mouth onto each with a feathered lower-face mask and colour match, and encode
 *      H.264 + the new audio through ffmpeg pipes (frame-io.ts). Memory does not grow with length.
 */
import { link, copyFile, open, rm, writeFile, readFile, type FileHandle } from 'node:fs/promises';
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { z } from 'zod';
import { MediaError, decodeLimitSec, type MediaTool } from '../../repositories/media.ts';
import type { AvatarCache, LipSyncEngine, LipSyncInput } from '../ports.ts';
import { audioFeatures } from './audio-features.ts';
import {
  buildMask,
  compositeSample,
  cropGeometry,
  extractSample,
  MaskCache,
  mouthMaskSpec,
  type MouthBox,
} from './composite.ts';
import { composeAffine } from './geometry.ts';
import { MOUTH, smoothRuns } from './landmarks.ts';
import { FaceTracker } from './face-track.ts';
import {
  baseFrames,
  decodeFrames,
  FrameEncoder,
  FramePool,
  frameRateArg,
  probeLipSyncInputs,
  X264_ARGS,
  yuv420pFrameBytes,
} from './frame-io.ts';
import {
  fitMouthModel,
  parseModel,
  parsePrior,
  predictShapes,
  serializeModel,
  type MouthModel,
  type MouthPrior,
} from './mouth-model.ts';
import { selectSamples, type SelectOptions } from './select.ts';
import type { CropGeometry, MouthShape, Pose, TrackedFrame } from './types.ts';
import priorJson from './mouth-prior.json' with { type: 'json' };

/** Cache part name; bump the version when the prepared form changes. */
export const AVATAR_PART = 'lipsync-sample-v2';
/** Samples kept per avatar at most (longer videos keep every k-th usable frame). */
export const MAX_SAMPLES = 3000;
const AUDIO_RATE = 16_000;
/** Sample scale used when no face was tracked at all (nothing is then cut or pasted). */
const NO_FACE_IOD = 64;
/** Frames per block when a long video's samples are thinned. */
const SAMPLE_BLOCK = 25;
/** Floats per frame in track.bin: ok, weight, pose (6), shape (4), outer-lip box (4), mouth anchor (2). */
const TRACK_FLOATS = 18;
/** Temporal smoothing of the mouth anchor, Gaussian sigma in frames: speech motion out, head pose in. */
export const ANCHOR_SIGMA = 6;
/** Largest shift of a sample onto its base frame's mouth position, canonical units. */
export const MAX_MOUTH_SHIFT = 0.12;

function clampShift(x: number): number {
  return Math.max(-MAX_MOUTH_SHIFT, Math.min(MAX_MOUTH_SHIFT, x));
}

/**
 * Where the mouth of a tracked frame sits in the canonical frame, beside what the affine pose (fitted on
 * eyes, nose and forehead) explains: its outer-lip box, and an anchor (the corners' midpoint across;
 * down, the mean of that midpoint and the outer upper-lip centre) smoothed over ANCHOR_SIGMA frames, so
 * it follows the head's tilt and turn (which move the mouth against the eyes and nose in the image)
 * and not the lips' own speech motion.
 */
export interface MouthPlace {
  box: MouthBox;
  anchorU: number;
  anchorV: number;
}

/** Each frame's MouthPlace (zeros for frames without a face). */
export function mouthPlaces(track: readonly TrackedFrame[], sigma = ANCHOR_SIGMA): MouthPlace[] {
  const n = track.length;
  const anchors = new Float64Array(2 * n);
  const ok = track.map((f) => f.ok && f.mouth.length >= 2 * MOUTH.outerCount);
  const boxes: MouthBox[] = track.map((f, i) => {
    if (!ok[i]) return { u0: 0, u1: 0, v0: 0, v1: 0 };
    const m = f.mouth;
    let u0 = Infinity;
    let u1 = -Infinity;
    let v0 = Infinity;
    let v1 = -Infinity;
    for (let k = 0; k < MOUTH.outerCount; k++) {
      const u = m[2 * k]!;
      const v = m[2 * k + 1]!;
      u0 = Math.min(u0, u);
      u1 = Math.max(u1, u);
      v0 = Math.min(v0, v);
      v1 = Math.max(v1, v);
    }
    const cornerU = (m[2 * MOUTH.outerLeft]! + m[2 * MOUTH.outerRight]!) / 2;
    const cornerV = (m[2 * MOUTH.outerLeft + 1]! + m[2 * MOUTH.outerRight + 1]!) / 2;
    anchors[2 * i] = cornerU;
    anchors[2 * i + 1] = (cornerV + m[2 * MOUTH.outerUpper + 1]!) / 2;
    return { u0, u1, v0, v1 };
  });
  const smooth = smoothRuns(anchors, 2, ok, sigma);
  return boxes.map((box, i) => ({ box, anchorU: smooth[2 * i]!, anchorV: smooth[2 * i + 1]! }));
}

/**
 * What the avatar cache keeps about a prepared video, beside track.bin and samples.bin. Parsed on
 * read: a part written by another version that does not match is prepared again, like a missing one.
 */
const preparedMetaSchema = z.object({
  version: z.literal(1),
  fps: z.number().positive(),
  fpsArg: z.string().min(1),
  frames: z.number().int().positive(),
  width: z.number().int().positive(),
  height: z.number().int().positive(),
  geom: z.object({
    u0: z.number(),
    u1: z.number(),
    v0: z.number(),
    v1: z.number(),
    width: z.number().int().positive(),
    height: z.number().int().positive(),
    pixelsPerUnit: z.number().positive(),
  }) satisfies z.ZodType<CropGeometry>,
  /** Source frame of each sample in samples.bin, in file order. */
  sampleFrames: z.array(z.number().int().nonnegative()),
  /** The audio-to-mouth model, checked by parseModel. */
  model: z.unknown(),
  stats: z.object({
    prepareSec: z.number(),
    framesLost: z.number(),
    trackMsPerFrame: z.number(),
    soundtrack: z.boolean(),
  }),
});
type PreparedMeta = z.infer<typeof preparedMetaSchema>;

interface Prepared {
  meta: PreparedMeta;
  track: TrackedFrame[];
  places: MouthPlace[];
  model: MouthModel;
  samplesFile: string;
}

export interface SampleLipSyncOptions {
  /** Called once per render: 'prepared' (made now) or 'cached' (found in the avatar cache). */
  onPreparation?: (outcome: 'prepared' | 'cached') => void;
  /** Samples kept per avatar at most (tests lower it). */
  maxSamples?: number;
  prior?: MouthPrior | null;
  /** Selection costs (select.ts defaults otherwise). */
  select?: SelectOptions;
  /**
   * Paste each sample shifted onto its base frame's mouth position, through a mask around both mouths
   * (default true; composite.ts mouthMaskSpec). false: the fixed lower-face mask and no shift, as before
   * issue 15 (kept for the eval's before/after).
   */
  mouthMask?: boolean;
}

export interface SampleRenderResult {
  durationSec: number;
  /** Output frames. */
  frames: number;
  /** Output frames whose mouth was replaced (the others show their base frame unchanged). */
  editedFrames: number;
  /** The avatar was prepared by this render (false: found in the cache). */
  prepared: boolean;
}

export function defaultPrior(): MouthPrior {
  return parsePrior(priorJson);
}

function encodeTrack(track: TrackedFrame[], places: MouthPlace[]): Float32Array {
  const out = new Float32Array(track.length * TRACK_FLOATS);
  track.forEach((f, i) => {
    const p = places[i];
    if (p) out.set([p.box.u0, p.box.u1, p.box.v0, p.box.v1, p.anchorU, p.anchorV], i * TRACK_FLOATS + 12);
    const o = i * TRACK_FLOATS;
    out[o] = f.ok ? 1 : 0;
    out[o + 1] = f.weight;
    out.set(f.pose, o + 2);
    out[o + 8] = f.shape.opening;
    out[o + 9] = f.shape.width;
    out[o + 10] = f.shape.rounding;
    out[o + 11] = f.shape.teeth;
  });
  return out;
}

function decodeTrack(buf: Float32Array, frames: number): { track: TrackedFrame[]; places: MouthPlace[] } {
  if (buf.length !== frames * TRACK_FLOATS)
    throw new Error(`track.bin: ${buf.length} floats for ${frames} frames`);
  const out: TrackedFrame[] = [];
  const places: MouthPlace[] = [];
  for (let i = 0; i < frames; i++) {
    const o = i * TRACK_FLOATS;
    const at = (k: number): number => buf[o + k] as number;
    out.push({
      ok: at(0) > 0.5,
      weight: at(1),
      pose: [at(2), at(3), at(4), at(5), at(6), at(7)] as Pose,
      mouth: new Float32Array(0),
      shape: { opening: at(8), width: at(9), rounding: at(10), teeth: at(11) },
    });
    places.push({
      box: { u0: at(12), u1: at(13), v0: at(14), v1: at(15) },
      anchorU: at(16),
      anchorV: at(17),
    });
  }
  return { track: out, places };
}

/**
 * The output encoding: the passthrough's (libx264 veryfast crf 20), and above 1080p with fewer
 * encoder threads and a shorter lookahead: x264 otherwise holds about 1 GB of 4K frames
 * (measured 857 MB -> 552 MB for 4K, same speed on 2 cores).
 */
export function encoderArgs(width: number, height: number): readonly string[] {
  if (width * height <= 1920 * 1088) return X264_ARGS;
  return [...X264_ARGS, '-threads', '2', '-x264-params', 'rc-lookahead=5:sync-lookahead=0'];
}

/** A pose the compositor can invert (a tracked face of sane size). */
function isInvertible(pose: Pose): boolean {
  const det = pose[0] * pose[3] - pose[1] * pose[2];
  return Number.isFinite(det) && Math.abs(det) > 1e-6 && pose.every(Number.isFinite);
}

/** A hard link where the file system allows it (no copy of a large file), else a copy. */
async function linkOrCopy(src: string, dest: string): Promise<void> {
  await rm(dest, { force: true });
  try {
    await link(src, dest);
  } catch {
    await copyFile(src, dest);
  }
}

export class SampleLipSync implements LipSyncEngine {
  readonly name = 'sample';
  readonly baseOrder = 'pingpong' as const;
  private readonly prior: MouthPrior | null;

  constructor(
    private readonly media: MediaTool,
    private readonly opts: SampleLipSyncOptions = {},
  ) {
    this.prior = opts.prior === undefined ? defaultPrior() : opts.prior;
  }

  async render(input: LipSyncInput): Promise<SampleRenderResult> {
    const { signal } = input;
    // What does not depend on anything else starts at once: the probes, the cached avatar's files and
    // the new audio's samples. The probes' errors win (they say what is wrong with an input).
    const pcmTask = this.media.decodeAudio(input.audioFile, AUDIO_RATE, { signal });
    pcmTask.catch(() => {});
    const [probed, fromCache] = await Promise.allSettled([
      probeLipSyncInputs(this.media, input.videoFile, input.audioFile, signal),
      input.avatar ? this.loadCached(input.avatar, input.workDir) : Promise.resolve(null),
    ]);
    if (probed.status === 'rejected') throw probed.reason;
    if (fromCache.status === 'rejected') throw fromCache.reason;
    const { video, audio, audioSec } = probed.value;

    let prepared = fromCache.value;
    const cached = prepared !== null;
    const prepShare = prepared ? 0 : 0.5;
    if (prepared) {
      this.opts.onPreparation?.('cached');
    } else {
      prepared = await this.prepare(input, video.audio !== null, (f) => input.onProgress(f * prepShare));
      this.opts.onPreparation?.('prepared');
    }
    const { meta, track, model, places } = prepared;
    const rate = { arg: meta.fpsArg, value: meta.fps };
    const total = Math.max(1, Math.floor(audioSec * rate.value + 1e-6));

    // The encoder and the base-frame decoder start now, so that their start-up and the decoder's first
    // frames overlap the prediction and selection below. They share frame buffers: a handful in all.
    const pool = new FramePool(yuv420pFrameBytes(meta.width, meta.height));
    const encoder = new FrameEncoder(this.media, {
      outFile: input.outFile,
      width: meta.width,
      height: meta.height,
      fps: rate,
      audioFile: input.audioFile,
      audioSampleRate: audio.audio.sampleRate,
      durationSec: audioSec,
      signal,
      timeoutMs: 0,
      videoArgs: encoderArgs(meta.width, meta.height),
      pool,
    });
    const frames = baseFrames(this.media, input.videoFile, meta.frames, total, {
      fps: rate,
      width: meta.width,
      height: meta.height,
      signal,
      timeoutMs: 0,
      pool,
    });
    const first = frames.next();
    first.catch(() => {});
    let samples: FileHandle | null = null;
    try {
      // 4-5: the mouth the new speech calls for, and the avatar's own mouth that shows it best.
      const targets = predictShapes(model, audioFeatures(await pcmTask, AUDIO_RATE, rate.value, total));
      const slotOf = new Int32Array(meta.frames).fill(-1);
      meta.sampleFrames.forEach((f, slot) => (slotOf[f] = slot));
      const choice: Int32Array | null =
        meta.sampleFrames.length > 0
          ? selectSamples(
              targets,
              { shapes: track.map((f) => f.shape), usable: Array.from(slotOf, (s) => s >= 0) },
              this.opts.select,
            )
          : null;

      // 6: composite and encode.
      const geom = meta.geom;
      const mask = buildMask(geom);
      const mouthMasks = this.opts.mouthMask === false ? null : new MaskCache(geom);
      const sampleBytes = geom.width * geom.height * 3;
      const sample = new Uint8Array(sampleBytes);
      samples = await open(prepared.samplesFile, 'r');
      let k = 0;
      let edited = 0;
      let loaded = -1;
      for (let next = await first; !next.done; next = await frames.next()) {
        const { index, frame } = next.value;
        const base = track[index];
        const from = choice ? (choice[k] ?? -1) : -1;
        const slot = slotOf[from] ?? -1;
        if (base && base.ok && base.weight > 0 && slot >= 0 && isInvertible(base.pose)) {
          if (slot !== loaded) {
            const { bytesRead } = await samples.read(sample, 0, sampleBytes, slot * sampleBytes);
            if (bytesRead !== sampleBytes) throw new Error(`samples.bin: short read at sample ${slot}`);
            loaded = slot;
          }
          const src = places[from];
          const dst = places[index];
          if (mouthMasks && src && dst) {
            // The sample moved onto the base frame's mouth place; a mask around both mouths.
            const du = clampShift(dst.anchorU - src.anchorU);
            const dv = clampShift(dst.anchorV - src.anchorV);
            const baseBox = {
              u0: dst.box.u0 - du,
              u1: dst.box.u1 - du,
              v0: dst.box.v0 - dv,
              v1: dst.box.v1 - dv,
            };
            const spec = mouthMaskSpec([src.box, baseBox], geom);
            compositeSample(frame, composeAffine(base.pose, [1, 0, 0, 1, du, dv]), sample, geom, {
              weight: base.weight,
              mask: mouthMasks.get(spec),
            });
          } else {
            compositeSample(frame, base.pose, sample, geom, { weight: base.weight, mask });
          }
          edited++;
        }
        await encoder.write(frame);
        k++;
        if (k % 25 === 0) input.onProgress(prepShare + (1 - prepShare) * Math.min(1, k / total));
      }
      if (k !== total) throw new Error(`rendered ${k} of ${total} frames`);
      const out = await encoder.finish();
      input.onProgress(1);
      return { durationSec: out.durationSec, frames: k, editedFrames: edited, prepared: !cached };
    } catch (err) {
      await Promise.all([encoder.abort(), frames.return(undefined).catch(() => undefined)]);
      throw err;
    } finally {
      await samples?.close();
    }
  }

  /** The avatar's prepared form from the cache, copied into the work directory; null when absent. */
  private async loadCached(avatar: AvatarCache, workDir: string): Promise<Prepared | null> {
    const parsed = preparedMetaSchema.safeParse(await avatar.getPart(AVATAR_PART));
    if (!parsed.success) return null;
    const meta = parsed.data;
    const trackFile = join(workDir, 'avatar-track.bin');
    const samplesFile = join(workDir, 'avatar-samples.bin');
    if (!(await avatar.fetchFile(AVATAR_PART, 'track.bin', trackFile))) return null;
    if (!(await avatar.fetchFile(AVATAR_PART, 'samples.bin', samplesFile))) return null;
    const raw = await readFile(trackFile);
    const floats = new Float32Array(raw.buffer, raw.byteOffset, raw.byteLength / 4);
    return {
      meta,
      ...decodeTrack(floats, meta.frames),
      model: parseModel(meta.model),
      samplesFile,
    };
  }

  /** Steps 1-3; stores the result in the avatar cache when there is one. */
  private async prepare(
    input: LipSyncInput,
    hasSoundtrack: boolean,
    progress: (f: number) => void,
  ): Promise<Prepared> {
    const started = performance.now();
    const { signal } = input;
    const info = await this.media.probe(input.videoFile, { signal });
    const v = info.video;
    if (!v) throw new MediaError('unreadable', `no video stream in ${input.videoFile}`);
    const rate = frameRateArg(v.fps);
    const width = Math.floor(v.width / 2) * 2;
    const height = Math.floor(v.height / 2) * 2;
    const expected = Math.max(1, Math.round(info.durationSec * rate.value));
    // Frames and sound are decoded no further than the probed length (plus a margin): a header that
    // claims less than the file holds does not get the rest decoded.
    const maxSec = decodeLimitSec(info.durationSec);
    const maxFrames = Math.max(1, Math.ceil(maxSec * rate.value));

    // The soundtrack decodes (another process) while the face is tracked.
    const soundtrack = hasSoundtrack
      ? this.media.decodeAudio(input.videoFile, AUDIO_RATE, { signal, maxSec }).catch(() => null)
      : Promise.resolve(null);

    // The job's signal and timeout bound these runs, not the adapter's default 10 minutes.
    const decode = (count?: number) =>
      decodeFrames(this.media, input.videoFile, {
        fps: rate,
        width,
        height,
        signal,
        timeoutMs: 0,
        ...(count === undefined ? {} : { count }),
      });

    // 1: track.
    const tracker = new FaceTracker();
    let frames = 0;
    for await (const frame of decode(maxFrames)) {
      await tracker.add(frame);
      frames++;
      if (frames % 25 === 0) progress(0.7 * Math.min(1, frames / expected));
    }
    if (frames === 0) throw new MediaError('unreadable', `no frames decoded from ${input.videoFile}`);
    const faceTrack = tracker.finish();
    const track = faceTrack.frames;
    // No face anywhere (intake normally refuses such videos): no samples; every frame stays as it is.
    const geom = cropGeometry(faceTrack.iodPixels > 0 ? faceTrack.iodPixels : NO_FACE_IOD);

    // 2: the samples, from frames where the face is fully tracked.
    const usable: number[] = [];
    track.forEach((f, i) => {
      if (f.ok && f.weight >= 1 && isInvertible(f.pose)) usable.push(i);
    });
    // A long video keeps whole blocks of consecutive frames (every step-th block), so natural runs
    // of the person's own mouth motion stay available to the selection.
    const max = this.opts.maxSamples ?? MAX_SAMPLES;
    const step = Math.max(1, Math.ceil(usable.length / max));
    const sampleFrames = usable.filter((f) => Math.floor(f / SAMPLE_BLOCK) % step === 0);
    const samplesFile = join(input.workDir, 'avatar-samples.bin');
    const out = createWriteStream(samplesFile);
    try {
      if (sampleFrames.length > 0) {
        const wanted = new Set(sampleFrames);
        let i = 0;
        for await (const frame of decode((sampleFrames[sampleFrames.length - 1] as number) + 1)) {
          const f = track[i];
          if (f && wanted.has(i)) {
            if (!out.write(extractSample(frame, f.pose, geom))) await once(out, 'drain');
          }
          i++;
          if (i % 25 === 0) progress(0.7 + 0.25 * Math.min(1, i / frames));
        }
      }
      out.end();
      await once(out, 'finish');
    } catch (err) {
      out.destroy();
      throw err;
    }

    // 3: the audio-to-mouth model, from the soundtrack where there is speech, else the prior.
    const pcm = await soundtrack;
    const shapes: MouthShape[] = track.map((f) => f.shape);
    const valid = Uint8Array.from(track, (f) => (f.ok && f.weight >= 1 ? 1 : 0));
    const features = audioFeatures(pcm ?? new Float32Array(0), AUDIO_RATE, rate.value, frames);
    // No soundtrack: no speech frames to learn from; the prior's map with this avatar's own shape range.
    const model = fitMouthModel({ features, shapes, valid }, this.prior);

    const meta: PreparedMeta = {
      version: 1,
      fps: rate.value,
      fpsArg: rate.arg,
      frames,
      width,
      height,
      geom,
      sampleFrames,
      model: serializeModel(model),
      stats: {
        prepareSec: (performance.now() - started) / 1000,
        framesLost: faceTrack.stats.framesLost,
        trackMsPerFrame: faceTrack.stats.msPerFrame,
        soundtrack: pcm !== null,
      },
    };
    progress(1);
    const places = mouthPlaces(track);
    const prepared: Prepared = { meta, track, places, model, samplesFile };
    if (input.avatar) {
      // The store takes its own links/copies; this job keeps reading its files.
      const trackUpload = join(input.workDir, 'upload-track.bin');
      const samplesUpload = join(input.workDir, 'upload-samples.bin');
      const enc = encodeTrack(track, places);
      await writeFile(trackUpload, new Uint8Array(enc.buffer, enc.byteOffset, enc.byteLength));
      await linkOrCopy(samplesFile, samplesUpload);
      await input.avatar.putPart(AVATAR_PART, meta, {
        'track.bin': trackUpload,
        'samples.bin': samplesUpload,
      });
    }
    return prepared;
  }
}
