/**
 * "Is there a face in this video": media intake samples a few frames spread over the video and asks the
 * face detector about each (seed code 20024 when too few frames show a face).
 *
 * Frames: one ffmpeg run seeks to 10 %, 30 %, 50 %, 70 % and 90 % of the duration (one input per point,
 * so a long video is not decoded end to end), takes the first frame at each, scales it so that the long
 * side is FRAME_LONG_SIDE px (aspect kept) and writes packed rgb24 frames to one raw file in workDir.
 *
 * A frame counts as showing a face when Human's best face score reaches FACE_SCORE_MIN. With the mesh
 * enabled that score is the face mesh model's own face confidence, computed for each BlazeFace box of at
 * least 0.2. Measured at 640 px on the shared test media: every frame of every real face (frontal
 * talking heads, the whole-body portrait's face at 43-135 px wide, a still photo, a darkened frame)
 * scores 1.00, while content without a face scores 0 (plain background, testsrc2, gray noise, an office
 * wall, a seated body from the neck down) and a face blurred beyond recognition (boxblur 8 on a 640 px
 * crop) 0.37, an upside-down face 0.11. 0.6 sits well inside that gap on both sides.
 */
import { randomBytes } from 'node:crypto';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { AppError, ErrorCode, t } from '../../domain/errors.ts';
import type { MediaTool } from '../../repositories/media.ts';
import { detectFaces } from './human-loader.ts';

/** Where the frames are taken, as fractions of the duration. */
export const SAMPLE_POSITIONS: readonly number[] = [0.1, 0.3, 0.5, 0.7, 0.9];
/** Long side of the frames given to the detector, px. */
export const FRAME_LONG_SIDE = 640;
/** Lowest face score (Human's mesh face confidence, 0..1) that counts as a face; see the file comment. */
export const FACE_SCORE_MIN = 0.6;
/** Frames with a face needed when all frames decode; fewer decoded frames need half of them. */
export const MIN_FRAMES_WITH_FACE = 2;
/** Wall-clock limit of the frame-extraction ffmpeg run. */
const EXTRACT_TIMEOUT_MS = 2 * 60_000;

export interface FaceCheckInfo {
  durationSec: number;
  /** Displayed size (as MediaTool.probe reports it: rotation already applied). */
  width: number;
  height: number;
}

export interface FaceCheckResult {
  framesChecked: number;
  framesWithFace: number;
}

export interface FacePresence {
  check(
    videoFile: string,
    info: FaceCheckInfo,
    workDir: string,
    signal: AbortSignal,
  ): Promise<FaceCheckResult>;
}

/** HumanFacePresence's result: the counts plus what went into them, for logs. */
export interface FaceCheckDetail extends FaceCheckResult {
  /** Best face score of each decoded frame, in time order (0 when none). */
  scores: number[];
  /** Seek positions asked for, seconds. */
  times: number[];
  /** Frame size given to the detector. */
  frameWidth: number;
  frameHeight: number;
  /** Milliseconds spent extracting the frames (ffmpeg) and detecting (all frames; includes a first load). */
  extractMs: number;
  detectMs: number;
}

/** Frame size with the long side FRAME_LONG_SIDE and the aspect ratio kept (both sides even, >= 2). */
export function sampleFrameSize(width: number, height: number): { width: number; height: number } {
  if (!(width > 0 && height > 0 && Number.isFinite(width) && Number.isFinite(height))) {
    throw new RangeError(`bad video size ${width}x${height}`);
  }
  const even = (v: number): number => Math.max(2, Math.round(v / 2) * 2);
  return width >= height
    ? { width: FRAME_LONG_SIDE, height: even((FRAME_LONG_SIDE * height) / width) }
    : { width: even((FRAME_LONG_SIDE * width) / height), height: FRAME_LONG_SIDE };
}

/** Seek positions in seconds (millisecond precision); a single 0 when the duration is unknown. */
export function sampleTimes(durationSec: number): number[] {
  if (!(durationSec > 0 && Number.isFinite(durationSec))) return [0];
  return SAMPLE_POSITIONS.map((p) => Math.round(p * durationSec * 1000) / 1000);
}

/**
 * How many frames must show a face: MIN_FRAMES_WITH_FACE, or half of the decoded frames (rounded up)
 * when fewer decoded, and at least one (no decoded frame means no face was seen).
 */
export function framesWithFaceNeeded(framesChecked: number): number {
  return Math.max(1, Math.min(MIN_FRAMES_WITH_FACE, Math.ceil(framesChecked / 2)));
}

/** ffmpeg arguments that write one scaled rgb24 frame per seek time, in order, to `outFile`. */
export function extractArgs(
  videoFile: string,
  times: readonly number[],
  size: { width: number; height: number },
  outFile: string,
): string[] {
  const inputs = times.flatMap((s) => ['-ss', s.toFixed(3), '-i', videoFile]);
  const parts = times.map(
    (_, i) => `[${i}:v:0]trim=end_frame=1,scale=${size.width}:${size.height},setsar=1,format=rgb24[f${i}]`,
  );
  const joined = times.map((_, i) => `[f${i}]`).join('');
  return [
    ...inputs,
    '-filter_complex',
    `${parts.join(';')};${joined}concat=n=${times.length}:v=1:a=0[out]`,
    '-map',
    '[out]',
    '-fps_mode',
    'passthrough',
    '-frames:v',
    String(times.length),
    '-f',
    'rawvideo',
    '-pix_fmt',
    'rgb24',
    outFile,
  ];
}

/** Face presence with @vladmandic/human (BlazeFace + face mesh) on the WebAssembly backend. */
export class HumanFacePresence implements FacePresence {
  constructor(private readonly media: MediaTool) {}

  async check(
    videoFile: string,
    info: FaceCheckInfo,
    workDir: string,
    signal: AbortSignal,
  ): Promise<FaceCheckDetail> {
    const size = sampleFrameSize(info.width, info.height);
    const times = sampleTimes(info.durationSec);
    const rawFile = join(workDir, `face-frames-${randomBytes(6).toString('hex')}.rgb`);
    try {
      const extractStart = performance.now();
      await this.media.ffmpeg(extractArgs(videoFile, times, size, rawFile), {
        signal,
        timeoutMs: EXTRACT_TIMEOUT_MS,
      });
      const raw = await readFile(rawFile);
      const extractMs = performance.now() - extractStart;
      const frameBytes = size.width * size.height * 3;
      const frames = Math.min(times.length, Math.floor(raw.length / frameBytes));
      const scores: number[] = [];
      const detectStart = performance.now();
      for (let i = 0; i < frames; i++) {
        signal.throwIfAborted();
        const rgb = new Uint8Array(raw.buffer, raw.byteOffset + i * frameBytes, frameBytes);
        const faces = await detectFaces(rgb, size.width, size.height);
        scores.push(faces.reduce((best, f) => Math.max(best, f.score), 0));
      }
      return {
        framesChecked: frames,
        framesWithFace: scores.filter((s) => s >= FACE_SCORE_MIN).length,
        scores,
        times,
        frameWidth: size.width,
        frameHeight: size.height,
        extractMs,
        detectMs: performance.now() - detectStart,
      };
    } finally {
      await rm(rawFile, { force: true });
    }
  }
}

/**
 * Runs the check and throws AppError NO_FACE (20024, permanent) when fewer frames than
 * framesWithFaceNeeded show a face. Returns the check's result otherwise.
 */
export async function requireFace<R extends FaceCheckResult>(
  presence: { check(...args: Parameters<FacePresence['check']>): Promise<R> },
  videoFile: string,
  info: FaceCheckInfo,
  workDir: string,
  signal: AbortSignal,
): Promise<R> {
  const result = await presence.check(videoFile, info, workDir, signal);
  if (result.framesWithFace < framesWithFaceNeeded(result.framesChecked)) {
    const n = result.framesChecked;
    throw new AppError(
      ErrorCode.NO_FACE,
      t(`视频中未检测到人脸（检查了 ${n} 帧）`, `no face found in the video (${n} frames checked)`),
    );
  }
  return result;
}
