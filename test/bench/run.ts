/**
 * `npm run bench`: speed and memory figures (never asserted in unit tests). Prints a table and writes
 * bench-results/bench.json. Runs on the embedded defaults (SQLite, local disk) in a temp dir.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { PassthroughLipSync } from '../../src/engines/lipsync/passthrough.ts';
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

/** The 500 MB download runs in its own process so its RSS is the fetcher's, not this bench's. */
function downloadBench(): void {
  const res = spawnSync(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'download-rss.ts')], {
    encoding: 'utf8',
  });
  if (res.status !== 0) throw new Error(`download bench failed: ${res.stderr}`);
  const r = JSON.parse(res.stdout.trim().split('\n').pop() ?? '{}') as {
    bytes: number;
    seconds: number;
    rssBeforeMb: number;
    peakRssMb: number;
  };
  record(
    '500 MB download: peak RSS',
    r.peakRssMb,
    'MB',
    `target < 200; ${r.rssBeforeMb.toFixed(0)} MB before it started`,
  );
  record('500 MB download: speed', r.bytes / 2 ** 20 / r.seconds, 'MB/s', 'loopback, streamed to disk');
}

downloadBench();
await apiBench();
await passthroughBench();
record('peak RSS of this process', process.memoryUsage().rss / 1024 / 1024, 'MB');
console.table(rows);
const out = join(import.meta.dirname, '..', '..', 'bench-results');
mkdirSync(out, { recursive: true });
writeFileSync(join(out, 'bench.json'), JSON.stringify({ at: new Date().toISOString(), rows }, null, 2));
console.log(`wrote ${join(out, 'bench.json')}`);
