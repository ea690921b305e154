/**
 * The audio-to-mouth prior's training data: for each talking-face recording, its FIRST half only (the
 * frames the eval gives an engine as video; the second halves are the eval's truth), tracked with the
 * engine's own tracker, with the matching stretch of its own sound. Used by scripts/fit-mouth-prior.ts
 * (the shipped prior) and by the eval's leave-one-speaker-out condition.
 */
import { join } from 'node:path';
import { audioFeatures } from '../../src/engines/lipsync/audio-features.ts';
import { FaceTracker } from '../../src/engines/lipsync/face-track.ts';
import { decodeFrames, evenSize, frameRateArg } from '../../src/engines/lipsync/frame-io.ts';
import type { FitInput } from '../../src/engines/lipsync/mouth-model.ts';
import type { MediaTool } from '../../src/repositories/media.ts';

const AUDIO_RATE = 16_000;

/** The eval's split: rounded frame rate, whole frames, the first floor((total - 1) / 2) frames. */
export function firstHalfFrames(durationSec: number, fps: number): number {
  const total = Math.floor(durationSec * fps + 1e-6);
  return Math.floor((total - 1) / 2);
}

export async function firstHalfFitInput(
  media: MediaTool,
  mediaDir: string,
  name: string,
): Promise<FitInput & { lost: number }> {
  const file = join(mediaDir, name);
  const info = await media.probe(file);
  if (!info.video) throw new Error(`${file}: no video`);
  const fps = Math.round(info.video.fps) || 25;
  const half = firstHalfFrames(info.durationSec, fps);
  const { width, height } = evenSize(info.video.width, info.video.height);
  const tracker = new FaceTracker();
  for await (const frame of decodeFrames(media, file, {
    fps: frameRateArg(fps),
    width,
    height,
    count: half,
  })) {
    await tracker.add(frame);
  }
  const track = tracker.finish();
  const pcm = (await media.decodeAudio(file, AUDIO_RATE)).subarray(0, Math.round((half / fps) * AUDIO_RATE));
  return {
    features: audioFeatures(pcm, AUDIO_RATE, fps, track.frames.length),
    shapes: track.frames.map((f) => f.shape),
    valid: Uint8Array.from(track.frames, (f) => (f.ok && f.weight >= 1 ? 1 : 0)),
    lost: track.stats.framesLost,
  };
}
