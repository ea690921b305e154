import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { buildCues, subtitleKeys, toSrt, toWebVtt, type TimedText } from '../../domain/captions.ts';
import type { JobResult } from '../../repositories/jobs.repository.ts';
import type { HandlerDeps } from './deps.ts';
import type { JobRun } from './job-runner.ts';

/**
 * Subtitles of synthesized speech (text works, speech jobs), stored beside the job's result as WebVTT
 * and SRT (`results/<outputKey>/video.mp4` → `video.vtt`, `video.srt`), timed by the engine's own piece
 * timings and ending with the speech. What the job's result records (`subtitleKey`), or nothing when
 * the engine told no timings or there is nothing to show. In the result folder, so a failed job's
 * cleanup and the retention sweep delete them with the rest.
 */
export async function storeSubtitles(
  deps: Pick<HandlerDeps, 'blobs'>,
  run: Pick<JobRun, 'dir' | 'stage'>,
  resultKey: string,
  speech: { durationSec: number; segments?: TimedText[] },
): Promise<Pick<JobResult, 'subtitleKey'>> {
  const cues = buildCues(speech.segments ?? [], { durationSec: speech.durationSec });
  if (cues.length === 0) return {};
  const keys = subtitleKeys(resultKey);
  const vtt = join(run.dir, 'subtitles.vtt');
  const srt = join(run.dir, 'subtitles.srt');
  await writeFile(vtt, toWebVtt(cues), 'utf8');
  await writeFile(srt, toSrt(cues), 'utf8');
  await run.stage('store', async () => {
    await deps.blobs.put(keys.srt, srt);
    // the WebVTT last: its key is what the job records
    await deps.blobs.put(keys.vtt, vtt);
  });
  return { subtitleKey: keys.vtt };
}
