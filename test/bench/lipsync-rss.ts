/**
 * Child process of `npm run bench`: the sample lip-sync engine on a long 4K video (default 300 s of
 * 3840x2160 25 fps, built once into test/.fixtures) with 20 s of new speech: first-time preparation
 * (tracking every frame, cutting the mouth samples, fitting the model) and the render. Reports the
 * peak resident memory of this process and of this process plus its ffmpeg children (sampled from
 * /proc every 100 ms), and the wall time of each part. Prints one JSON line.
 *
 *   node --import tsx test/bench/lipsync-rss.ts [seconds]
 */
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { SampleLipSync } from '../../src/engines/lipsync/sample-engine.ts';
import { tempDir } from '../helpers/db.ts';
import { build, sharedMedia, speechWav, testMedia } from '../helpers/fixtures.ts';

const seconds = Number(process.argv[2] ?? 300);
const PAGE_KB = 4;

/** RSS in MB of this process and of all its descendants. */
function treeRssMb(): { self: number; tree: number } {
  const parent = new Map<number, number>();
  const rss = new Map<number, number>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      parent.set(Number(name), Number(fields[1]));
      rss.set(Number(name), (Number(fields[21]) * PAGE_KB) / 1024);
    } catch {
      // the process ended while we looked
    }
  }
  const me = process.pid;
  let tree = 0;
  for (const [pid, mb] of rss) {
    let p: number | undefined = pid;
    for (let depth = 0; p !== undefined && p > 1 && depth < 16; depth++) {
      if (p === me) {
        tree += mb;
        break;
      }
      p = parent.get(p);
    }
  }
  return { self: process.memoryUsage().rss / 2 ** 20, tree };
}

const src = sharedMedia('face-en-man-2.mp4');
const t0 = performance.now();
// 10 s of 4K encoded once, then repeated by stream copy to the length (encoding 300 s of 4K here
// would take longer than the fixture builder's timeout).
const segment = await build({
  name: 'video-4k-10s',
  ext: '.mp4',
  sources: [src],
  args: [
    ...['-stream_loop', '-1', '-i', src, '-map', '0:v:0', '-map', '0:a:0', '-t', '10'],
    ...['-vf', 'scale=-2:2160,pad=3840:2160:(ow-iw)/2:0,setsar=1,fps=25'],
    ...['-c:v', 'libx264', '-preset', 'ultrafast', '-crf', '26', '-pix_fmt', 'yuv420p', '-g', '50'],
    ...['-c:a', 'aac', '-b:a', '96k', '-movflags', '+faststart'],
  ],
});
const [video, audio] = await Promise.all([
  build({
    name: `video-4k-${seconds}s`,
    ext: '.mp4',
    sources: [src],
    args: [
      ...['-stream_loop', String(Math.ceil(seconds / 10) - 1), '-i', segment, '-t', String(seconds)],
      ...['-c', 'copy', '-movflags', '+faststart'],
    ],
  }),
  speechWav({ lang: 'en', seconds: 20 }),
]);
const buildSec = (performance.now() - t0) / 1000;

let peakSelf = 0;
let peakTree = 0;
const sample = (): void => {
  const r = treeRssMb();
  peakSelf = Math.max(peakSelf, r.self);
  peakTree = Math.max(peakTree, r.tree);
};
sample();
const rssBeforeMb = peakSelf;
const sampler = setInterval(sample, 100);
const dir = tempDir('dhs-bench-lipsync-');
let prepared = 0;
const engine = new SampleLipSync(testMedia(), { onPreparation: (o) => (o === 'prepared' ? prepared++ : 0) });
const t1 = performance.now();
let prepDoneAt = 0;
const result = await engine.render({
  videoFile: video,
  audioFile: audio,
  outFile: join(dir, 'out.mp4'),
  workDir: dir,
  onProgress: (f) => {
    if (f >= 0.5 && prepDoneAt === 0) prepDoneAt = performance.now();
  },
  signal: new AbortController().signal,
});
const totalSec = (performance.now() - t1) / 1000;
clearInterval(sampler);
sample();
rmSync(dir, { recursive: true, force: true });
console.log(
  JSON.stringify({
    videoSec: seconds,
    resolution: '3840x2160',
    audioSec: result.durationSec,
    fixtureBuildSec: buildSec,
    prepareSec: prepDoneAt === 0 ? null : (prepDoneAt - t1) / 1000,
    totalSec,
    editedFrames: result.editedFrames,
    frames: result.frames,
    prepared,
    rssBeforeMb,
    peakRssMb: peakSelf,
    peakTreeRssMb: peakTree,
  }),
);
