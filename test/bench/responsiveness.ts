/**
 * Part of `npm run bench`: how fast `dhs serve` answers /healthz and inspect while a text-driven work
 * (speech synthesis, avatar preparation and render of a 720p video) runs, with the worker in its own
 * process (the default) and on the API's thread (DHS_WORKER_ISOLATION=inline), the real binary each
 * time. Prints one JSON line per mode.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { build, sharedMedia } from '../helpers/fixtures.ts';
import { tempDir } from '../helpers/db.ts';
import { startFileServer } from '../helpers/servers.ts';

export interface ResponsivenessResult {
  isolation: 'process' | 'inline';
  samples: number;
  healthzP50Ms: number;
  healthzP99Ms: number;
  inspectP50Ms: number;
  inspectP99Ms: number;
  maxMs: number;
  workSec: number;
}

const root = join(import.meta.dirname, '..', '..');

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

async function runMode(isolation: 'process' | 'inline', videoUrl: string): Promise<ResponsivenessResult> {
  const dataDir = tempDir();
  const env = {
    ...process.env,
    DHS_DATA_DIR: dataDir,
    PORT: '0',
    HOST: '127.0.0.1',
    DHS_LOG_LEVEL: 'info',
    DHS_FETCH_ALLOW_HOSTS: '127.0.0.1',
    DHS_WORKER_ISOLATION: isolation,
    DHS_RATE_LIMIT_PER_MIN: '1000000',
  };
  const bin = join(root, 'bin/dhs.mjs');
  const acct = await new Promise<{ accessKey: string; secretKey: string }>((resolve, reject) => {
    const p = spawn(process.execPath, [bin, 'account', 'create', '--points', '100000', '--json'], { env });
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out.trim())) : reject(new Error('account'))));
  });
  const server = spawn(process.execPath, [bin, 'serve'], { env, stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    const port = await new Promise<number>((resolve, reject) => {
      let buf = '';
      server.stdout.on('data', (d: Buffer) => {
        buf += d.toString();
        const m = /Server listening at http:\/\/127\.0\.0\.1:(\d+)/.exec(buf);
        if (m?.[1]) resolve(Number(m[1]));
      });
      server.once('exit', (code) => reject(new Error(`serve exited ${String(code)}`)));
    });
    const base = `http://127.0.0.1:${port}`;
    const ts = String(Date.now());
    const sign = createHash('md5').update(`${acct.accessKey}${ts}${acct.secretKey}`).digest('hex');
    const tok = (await (
      await fetch(`${base}/api/model/v5/oauth/token?accessKey=${acct.accessKey}&timestamp=${ts}&sign=${sign}`)
    ).json()) as { data: { token: string } };
    const headers = { 'authorization-token': tok.data.token, 'content-type': 'application/json' };
    const text =
      'This is a benchmark of how quickly the server answers while it renders. '.repeat(3) +
      '这是一段用来测量服务器在生成视频时响应速度的中文文本。'.repeat(2);
    const t0 = performance.now();
    const created = (await (
      await fetch(`${base}/api/model/v5/works/create`, {
        method: 'POST',
        headers,
        body: JSON.stringify({ videoUrl, text }),
      })
    ).json()) as { code: number; msg: string; data: { jobId: string } };
    if (created.code !== 0) throw new Error(`create: ${created.msg}`);
    const healthz: number[] = [];
    const inspect: number[] = [];
    let status = 1;
    // two clients in turn: one on /healthz, one on inspect, until the work ends
    const poll = async (kind: 'healthz' | 'inspect') => {
      while (status < 3) {
        const s = performance.now();
        if (kind === 'healthz') {
          await (await fetch(`${base}/healthz`)).arrayBuffer();
          healthz.push(performance.now() - s);
        } else {
          const r = (await (
            await fetch(`${base}/api/model/v5/works/inspect`, {
              method: 'POST',
              headers,
              body: JSON.stringify({ jobId: created.data.jobId }),
            })
          ).json()) as { data: { status: number; errorMessage: string } };
          inspect.push(performance.now() - s);
          status = r.data.status;
          if (status === 4) throw new Error(`work failed: ${r.data.errorMessage}`);
        }
        await new Promise((r) => setTimeout(r, 20));
      }
    };
    await Promise.all([poll('healthz'), poll('inspect')]);
    const workSec = (performance.now() - t0) / 1000;
    healthz.sort((a, b) => a - b);
    inspect.sort((a, b) => a - b);
    const round = (x: number) => Math.round(x * 10) / 10;
    return {
      isolation,
      samples: healthz.length + inspect.length,
      healthzP50Ms: round(percentile(healthz, 50)),
      healthzP99Ms: round(percentile(healthz, 99)),
      inspectP50Ms: round(percentile(inspect, 50)),
      inspectP99Ms: round(percentile(inspect, 99)),
      maxMs: round(Math.max(healthz.at(-1) ?? 0, inspect.at(-1) ?? 0)),
      workSec: round(workSec),
    };
  } finally {
    server.kill('SIGTERM');
    await new Promise((r) => server.once('exit', r));
  }
}

export async function responsivenessBench(): Promise<ResponsivenessResult[]> {
  const src = sharedMedia('face-en-man-2.mp4');
  const video = await build({
    name: 'bench-720p-20s',
    ext: '.mp4',
    sources: [src],
    args: [
      ...['-stream_loop', '-1', '-i', src, '-map', '0:v:0', '-map', '0:a:0', '-t', '20'],
      ...['-vf', 'scale=-2:720,pad=1280:720:(ow-iw)/2:0,setsar=1,fps=25'],
      ...['-c:v', 'libx264', '-preset', 'veryfast', '-crf', '23', '-pix_fmt', 'yuv420p'],
      ...['-c:a', 'aac', '-b:a', '96k', '-movflags', '+faststart'],
    ],
  });
  const files = await startFileServer({ 'v.mp4': video });
  try {
    return [await runMode('process', files.url('v.mp4')), await runMode('inline', files.url('v.mp4'))];
  } finally {
    await files.close();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  for (const r of await responsivenessBench()) console.log(JSON.stringify(r));
}
