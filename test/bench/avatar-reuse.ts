/**
 * Part of `npm run bench`: end-to-end time of the first work on a video (download, intake, avatar
 * preparation, render, store) and of a second work on the same video URL with other audio (the avatar
 * comes from the cache), through the API with the in-process worker on the embedded defaults.
 */
import { performance } from 'node:perf_hooks';
import { JobStatus } from '../../src/domain/jobs.ts';
import { build, sharedMedia, speechWav } from '../helpers/fixtures.ts';
import { createHarness } from '../helpers/harness.ts';
import { startFileServer } from '../helpers/servers.ts';

export interface AvatarReuseResult {
  videoSec: number;
  resolution: string;
  audioSec: number;
  firstSec: number;
  secondSec: number;
  speedup: number;
}

export async function avatarReuseBench(): Promise<AvatarReuseResult> {
  const src = sharedMedia('face-en-man-2.mp4');
  const [video, audioA, audioB] = await Promise.all([
    build({
      name: 'bench-720p-30s',
      ext: '.mp4',
      sources: [src],
      args: [
        ...['-stream_loop', '-1', '-i', src, '-map', '0:v:0', '-map', '0:a:0', '-t', '30'],
        ...['-vf', 'scale=-2:720,pad=1280:720:(ow-iw)/2:0,setsar=1,fps=25'],
        ...['-c:v', 'libx264', '-preset', 'veryfast', '-crf', '23', '-pix_fmt', 'yuv420p'],
        ...['-c:a', 'aac', '-b:a', '96k', '-movflags', '+faststart'],
      ],
    }),
    speechWav({ lang: 'en', seconds: 10 }),
    speechWav({ lang: 'zh', seconds: 10 }),
  ]);
  const files = await startFileServer({ 'v.mp4': video, 'a.wav': audioA, 'b.wav': audioB });
  const h = await createHarness({ worker: true, realClock: true, env: { DHS_REPEAT_WINDOW_MS: '0' } });
  try {
    const token = await h.tokenFor(await h.account({ points: 100_000 }));
    const run = async (audio: string): Promise<number> => {
      const t0 = performance.now();
      const res = await h.post<{ jobId: string }>(
        '/works/create',
        { videoUrl: files.url('v.mp4'), audioUrl: files.url(audio) },
        { token },
      );
      if (res.code !== 0) throw new Error(`create: ${res.msg}`);
      const d = await h.waitFor(
        async () => {
          const r = await h.post<Record<string, unknown>>(
            '/works/inspect',
            { jobId: res.data.jobId },
            { token },
          );
          return Number(r.data.status) >= JobStatus.DONE ? r.data : undefined;
        },
        600_000,
        'the work',
      );
      if (d.status !== JobStatus.DONE) throw new Error(`work failed: ${String(d.errorMessage)}`);
      return (performance.now() - t0) / 1000;
    };
    const firstSec = await run('a.wav');
    const secondSec = await run('b.wav');
    return {
      videoSec: 30,
      resolution: '1280x720',
      audioSec: 10,
      firstSec,
      secondSec,
      speedup: firstSec / secondSec,
    };
  } finally {
    await h.close();
    await files.close();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(JSON.stringify(await avatarReuseBench()));
}
