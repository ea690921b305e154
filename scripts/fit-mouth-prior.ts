/**
 * Fits the generic audio-to-mouth prior the lip-sync engine ships (src/engines/lipsync/mouth-prior.json)
 * with the engine's OWN tracker and features, on the talking-face recordings in shared/media.
 *
 * Only the FIRST half of each recording is used (the frames eval/lipsync/run.ts gives the engine as
 * video): the second halves are the eval's ground truth and never reach the prior.
 *
 *   node --import tsx scripts/fit-mouth-prior.ts [--out FILE]
 */
import { writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FfmpegMedia } from '../src/repositories/ffmpeg-media.ts';
import { locateFfmpeg } from '../src/repositories/ffmpeg-locate.ts';
import { audioFeatures } from '../src/engines/lipsync/audio-features.ts';
import { FaceTracker } from '../src/engines/lipsync/face-track.ts';
import { decodeFrames, evenSize, frameRateArg } from '../src/engines/lipsync/frame-io.ts';
import { fitPrior, serializePrior, type FitInput } from '../src/engines/lipsync/mouth-model.ts';

const CLIPS = [
  'face-portrait-talking-10s.mp4',
  'face-en-man-1.mp4',
  'face-en-man-2.mp4',
  'face-en-woman-1.mp4',
  'face-en-woman-2.mp4',
  'face-en-woman-3-mpeg4.mp4',
];
const AUDIO_RATE = 16_000;

async function main(): Promise<void> {
  const repo = fileURLToPath(new URL('../', import.meta.url));
  const args = process.argv.slice(2);
  const outArg = args.indexOf('--out');
  const out =
    outArg >= 0 ? resolve(args[outArg + 1] ?? '') : join(repo, 'src/engines/lipsync/mouth-prior.json');
  const mediaDir = resolve(process.env.DHS_SHARED_MEDIA ?? join(repo, '..', 'shared', 'media'));
  const media = new FfmpegMedia(locateFfmpeg(process.env));
  const clips: FitInput[] = [];
  for (const name of CLIPS) {
    const file = join(mediaDir, name);
    const info = await media.probe(file);
    if (!info.video) throw new Error(`${file}: no video`);
    // The eval's halves: rounded frame rate, whole frames, the first floor((total - 1) / 2).
    const fps = Math.round(info.video.fps) || 25;
    const rate = frameRateArg(fps);
    const total = Math.floor(info.durationSec * fps + 1e-6);
    const half = Math.floor((total - 1) / 2);
    const { width, height } = evenSize(info.video.width, info.video.height);
    const tracker = new FaceTracker();
    for await (const frame of decodeFrames(media, file, { fps: rate, width, height, count: half })) {
      await tracker.add(frame);
    }
    const track = tracker.finish();
    const pcm = (await media.decodeAudio(file, AUDIO_RATE)).subarray(
      0,
      Math.round((half / fps) * AUDIO_RATE),
    );
    const features = audioFeatures(pcm, AUDIO_RATE, fps, track.frames.length);
    clips.push({
      features,
      shapes: track.frames.map((f) => f.shape),
      valid: Uint8Array.from(track.frames, (f) => (f.ok && f.weight >= 1 ? 1 : 0)),
    });
    console.error(`${name}: ${track.frames.length} frames, lost ${track.stats.framesLost}`);
  }
  const prior = fitPrior(clips);
  await writeFile(out, `${serializePrior(prior)}\n`);
  console.error(`wrote ${out}`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
