/**
 * `npm run bench`: speed and memory figures (never asserted in unit tests). Prints a table and writes
 * bench-results/bench.json. Runs on the embedded defaults (SQLite, local disk) in a temp dir.
 * `-- --kernels-only`: only the engines' CPU kernels (kernels.ts), to bench-results/bench-kernels.json.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { PassthroughLipSync } from '../../src/engines/lipsync/passthrough.ts';
import { avatarReuseBench } from './avatar-reuse.ts';
import { kernelBench } from './kernels.ts';
import { responsivenessBench } from './responsiveness.ts';
import { scaleBench } from './scale.ts';
import { longAudio, testMedia, videoH264 } from '../helpers/fixtures.ts';
import { createHarness } from '../helpers/harness.ts';
import { tempDir } from '../helpers/db.ts';

interface Row {
  name: string;
  value: number;
  unit: string;
  note: string;
}
const rows: Row[] = [];
const record = (name: string, value: number, unit: string, note = '') =>
  rows.push({ name, value: Math.round(value * 100) / 100, unit, note });

async function apiBench(): Promise<void> {
  const h = await createHarness({
    env: { DHS_RATE_LIMIT_PER_MIN: '1000000', DHS_REPEAT_WINDOW_MS: '0', DHS_MAX_PENDING_WORKS: '100000' },
  });
  try {
    const c = await h.account({ points: 1_000_000 });
    const token = await h.tokenFor(c);
    const n = 1000;
    let t0 = performance.now();
    for (let i = 0; i < n; i++) await h.get('/user/balance', { token });
    record('balance request (inject, sequential)', (performance.now() - t0) / n, 'ms', `${n} requests`);
    t0 = performance.now();
    const m = 500;
    await Promise.all(
      Array.from({ length: m }, (_, i) =>
        h.post('/works/create', { text: `Benchmark text number ${i}.` }, { token }),
      ),
    );
    const s = (performance.now() - t0) / 1000;
    record(
      'work submissions (concurrent, SQLite)',
      m / s,
      'per s',
      `${m} submissions: reserve + job + queue in one transaction`,
    );
  } finally {
    await h.close();
  }
}

async function passthroughBench(): Promise<void> {
  const [video, audio] = await Promise.all([videoH264({ seconds: 12 }), longAudio(60)]);
  const dir = tempDir();
  const engine = new PassthroughLipSync(testMedia());
  const t0 = performance.now();
  const { durationSec } = await engine.render({
    videoFile: video,
    audioFile: audio,
    outFile: join(dir, 'out.mp4'),
    workDir: dir,
    onProgress: () => undefined,
    signal: new AbortController().signal,
  });
  const s = (performance.now() - t0) / 1000;
  const info = await testMedia().probe(video);
  record(
    'passthrough render 844x844',
    (durationSec * (info.video?.fps ?? 25)) / s,
    'fps',
    `${durationSec.toFixed(1)} s of output in ${s.toFixed(1)} s`,
  );
  record('passthrough real-time factor', s / durationSec, 'x', 'render seconds per output second');
}

/** Runs one bench script of this directory in its own process; its last stdout line is its JSON result. */
function child<T>(script: string, args: string[] = []): T {
  const res = spawnSync(process.execPath, ['--import', 'tsx', join(import.meta.dirname, script), ...args], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  if (res.status !== 0) throw new Error(`${script} failed with status ${String(res.status)}`);
  return JSON.parse(res.stdout.trim().split('\n').pop() ?? '{}') as T;
}

/** The 500 MB download runs in its own process so its RSS is the fetcher's, not this bench's. */
function downloadBench(): void {
  const r = child<{ bytes: number; seconds: number; rssBeforeMb: number; peakRssMb: number }>(
    'download-rss.ts',
  );
  record(
    '500 MB download: peak RSS',
    r.peakRssMb,
    'MB',
    `target < 200; ${r.rssBeforeMb.toFixed(0)} MB before it started`,
  );
  record('500 MB download: speed', r.bytes / 2 ** 20 / r.seconds, 'MB/s', 'loopback, streamed to disk');
}

/**
 * 10,000 characters of mixed Mandarin and English in a trained PRO voice (conversion on), in its own
 * process so that its peak RSS is the engine's alone (synth-rss.ts).
 */
function longSpeechBench(): void {
  const r = child<{
    chars: number;
    durationSec: number;
    seconds: number;
    rtf: number;
    rssBeforeMb: number;
    rssByTenth: number[];
    peakRssMb: number;
  }>('synth-rss.ts');
  record(
    `speech, ${r.chars} chars, PRO voice: peak RSS`,
    r.peakRssMb,
    'MB',
    `target < 300; ${r.rssBeforeMb.toFixed(0)} MB before it started; RSS at each tenth ${r.rssByTenth.join(' ')}`,
  );
  record(
    `speech, ${r.chars} chars, PRO voice: real-time factor`,
    r.rtf,
    'x',
    `${(r.durationSec / 60).toFixed(1)} min of mp3 in ${r.seconds.toFixed(1)} s`,
  );
}

/**
 * The sample lip-sync engine on a long 4K video with 20 s of new speech, first time (preparation and
 * render), in its own process (lipsync-rss.ts). `--4k-seconds=N` sets the video's length (default 300:
 * about 20 minutes here, most of it the face tracking of 7500 4K frames).
 */
function lipSync4kBench(seconds: number): void {
  const r = child<{
    videoSec: number;
    audioSec: number;
    prepareSec: number | null;
    totalSec: number;
    frames: number;
    rssBeforeMb: number;
    peakRssMb: number;
    peakTreeRssMb: number;
  }>('lipsync-rss.ts', [String(seconds)]);
  const what = `lip-sync, ${r.videoSec} s 4K video + ${r.audioSec.toFixed(0)} s speech, first time`;
  record(
    `${what}: peak RSS with ffmpeg`,
    r.peakTreeRssMb,
    'MB',
    `target < 1536; Node alone ${r.peakRssMb.toFixed(0)} MB (${r.rssBeforeMb.toFixed(0)} before)`,
  );
  record(
    `${what}: wall time`,
    r.totalSec,
    's',
    `preparation ${r.prepareSec === null ? '-' : r.prepareSec.toFixed(0)} s, render of ${r.frames} frames the rest`,
  );
}

/** The engines' CPU kernels (kernels.ts): the speed figures the unit tests used to assert. */
async function kernelsBench(): Promise<void> {
  for (const r of await kernelBench()) record(r.name, r.value, r.unit, r.note);
}

async function avatarBench(): Promise<void> {
  const r = await avatarReuseBench();
  const what = `work on a ${r.videoSec} s ${r.resolution} video, ${r.audioSec} s audio, end to end`;
  record(`${what}: first`, r.firstSec, 's', 'download, intake, avatar preparation, render, store');
  record(
    `${what}: second (avatar cached)`,
    r.secondSec,
    's',
    `${r.speedup.toFixed(1)}x faster; target >= 2x`,
  );
}

/** /healthz and inspect latency under a concurrent render, worker in its own process vs inline. */
async function responsiveness(): Promise<void> {
  for (const r of await responsivenessBench()) {
    const what = `serve (worker ${r.isolation === 'process' ? 'in its own process' : 'inline'}) during a 720p text work`;
    record(
      `${what}: /healthz p99`,
      r.healthzP99Ms,
      'ms',
      `target <= 50; p50 ${r.healthzP50Ms} ms; max ${r.maxMs} ms`,
    );
    record(
      `${what}: inspect p99`,
      r.inspectP99Ms,
      'ms',
      `p50 ${r.inspectP50Ms} ms; ${r.samples} requests over ${r.workSec} s`,
    );
  }
}

/** The shared setup: inspect throughput through one and two API processes, 8 works on 1 vs 2 workers. */
async function scale(): Promise<void> {
  const r = await scaleBench();
  const rows = [
    ['SQLite, one process', r.inspect.sqlite1],
    ['PostgreSQL + Redis, one API process', r.inspect.pg1],
    ['PostgreSQL + Redis, two API processes together', r.inspect.pg2],
  ] as const;
  for (const [what, x] of rows) {
    record(
      `inspect throughput, ${what}`,
      x.rps,
      'req/s',
      `p99 ${x.p99Ms} ms; ${x.errors} errors; target >= 3000 per process, p99 <= 20 ms`,
    );
  }
  record(
    `8 works (${r.works.engine}), 2 workers vs 1: time ratio`,
    r.works.ratio,
    'x',
    `1 worker ${r.works.oneWorkerSec} s, 2 workers ${r.works.twoWorkersSec} s; target <= 0.6; 2 cores shared by everything`,
  );
}

const arg4k = process.argv.find((a) => a.startsWith('--4k-seconds='));
const seconds4k = arg4k ? Number(arg4k.slice('--4k-seconds='.length)) : 300;
if (!Number.isFinite(seconds4k) || seconds4k < 10) throw new Error('--4k-seconds must be a number >= 10');

// `--kernels-only`: just the kernel rows (under a minute), e.g. after changing an engine's inner loop.
const kernelsOnly = process.argv.includes('--kernels-only');

if (!kernelsOnly) {
  downloadBench();
  longSpeechBench();
  await apiBench();
  await passthroughBench();
}
await kernelsBench();
if (!kernelsOnly) {
  await avatarBench();
  await responsiveness();
  await scale();
  lipSync4kBench(seconds4k);
}
record('peak RSS of this process', process.memoryUsage().rss / 1024 / 1024, 'MB');
console.table(rows);
const out = join(import.meta.dirname, '..', '..', 'bench-results');
mkdirSync(out, { recursive: true });
// A kernels-only run does not overwrite the full run's figures.
const file = join(out, kernelsOnly ? 'bench-kernels.json' : 'bench.json');
writeFileSync(file, JSON.stringify({ at: new Date().toISOString(), rows }, null, 2));
console.log(`wrote ${file}`);
