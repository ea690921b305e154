/**
 * Fits the generic audio-to-mouth prior the lip-sync engine ships (src/engines/lipsync/mouth-prior.json)
 * with the engine's OWN tracker and features, on the talking-face recordings in shared/media listed in
 * eval/lipsync/clips.ts SHIPPED_PRIOR_CLIPS (the eval's first six; the eval has grown since). Only the
 * FIRST half of each recording is used (eval/lipsync/prior-clips.ts): the second halves are the eval's
 * ground truth and never reach the prior.
 *
 *   node --import tsx scripts/fit-mouth-prior.ts [--out FILE]
 */
import { writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SHIPPED_PRIOR_CLIPS } from '../eval/lipsync/clips.ts';
import { firstHalfFitInput } from '../eval/lipsync/prior-clips.ts';
import { fitPrior, serializePrior, type FitInput } from '../src/engines/lipsync/mouth-model.ts';
import { FfmpegMedia } from '../src/repositories/ffmpeg-media.ts';
import { locateFfmpeg } from '../src/repositories/ffmpeg-locate.ts';

async function main(): Promise<void> {
  const repo = fileURLToPath(new URL('../', import.meta.url));
  const args = process.argv.slice(2);
  const outArg = args.indexOf('--out');
  const out =
    outArg >= 0 ? resolve(args[outArg + 1] ?? '') : join(repo, 'src/engines/lipsync/mouth-prior.json');
  const mediaDir = resolve(process.env.DHS_SHARED_MEDIA ?? join(repo, '..', 'shared', 'media'));
  const media = new FfmpegMedia(locateFfmpeg(process.env));
  const clips: FitInput[] = [];
  for (const name of SHIPPED_PRIOR_CLIPS) {
    const clip = await firstHalfFitInput(media, mediaDir, name);
    clips.push(clip);
    console.error(`${name}: ${clip.shapes.length} frames, lost ${clip.lost}`);
  }
  await writeFile(out, `${serializePrior(fitPrior(clips))}\n`);
  console.error(`wrote ${out}`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
