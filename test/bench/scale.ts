/**
 * Part of `npm run bench` (issue "scale out"): the shared setup measured with the real binary.
 * 1. inspect throughput and p99 (autocannon, loopback): SQLite single process; one API process on
 *    PostgreSQL + Redis; two API processes on PostgreSQL + Redis together.
 * 2. end-to-end time of 8 works with 1 worker process and with 2 (PostgreSQL + S3 via s3rver), the
 *    ratio in the same run. `--engine=sample` renders with the lip-sync engine (default passthrough:
 *    the queue, intake and store are what scales; the render's own cost is in other rows).
 * Prints one JSON line.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import autocannon from 'autocannon';
import pg from 'pg';
import { PG_URL, tempDir } from '../helpers/db.ts';
import { speechWav, videoH264 } from '../helpers/fixtures.ts';
import { REDIS_URL } from '../helpers/redis.ts';
import { startS3rver } from '../helpers/s3rver.ts';
import { startFileServer } from '../helpers/servers.ts';

const bin = join(import.meta.dirname, '..', '..', 'bin/dhs.mjs');

interface Proc {
  child: ChildProcess;
  port?: number;
}

function start(env: Record<string, string>, role: 'serve' | 'worker'): Promise<Proc> {
  const child = spawn(process.execPath, [bin, role], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const p: Proc = { child };
  let logs = '';
  return new Promise((resolve, reject) => {
    let ready = false;
    child.stdout?.on('data', (d: Buffer) => {
      if (ready) return; // request logs from here on are read and dropped
      logs += d.toString();
      const m = /Server listening at http:\/\/127\.0\.0\.1:(\d+)/.exec(logs);
      if (m?.[1]) p.port = Number(m[1]);
      if (logs.includes('"msg":"dhs ready"')) {
        ready = true;
        resolve(p);
      }
    });
    child.once('exit', (code) => reject(new Error(`${role} exited ${String(code)}`)));
  });
}

async function stop(procs: Proc[]): Promise<void> {
  await Promise.all(
    procs.map(
      (p) =>
        new Promise((res) => {
          if (p.child.exitCode !== null || p.child.signalCode !== null) return res(null);
          p.child.once('exit', res);
          p.child.kill('SIGTERM');
        }),
    ),
  );
}

function account(env: Record<string, string>): { accessKey: string; secretKey: string } {
  const r = spawnSync(process.execPath, [bin, 'account', 'create', '--points', '10000000', '--json'], {
    env: { ...process.env, ...env },
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(r.stderr);
  return JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as { accessKey: string; secretKey: string };
}

async function token(port: number, a: { accessKey: string; secretKey: string }): Promise<string> {
  const ts = String(Date.now());
  const sign = createHash('md5').update(`${a.accessKey}${ts}${a.secretKey}`).digest('hex');
  const url = `http://127.0.0.1:${port}/api/model/v5/oauth/token?accessKey=${a.accessKey}&timestamp=${ts}&sign=${sign}`;
  return ((await (await fetch(url)).json()) as { data: { token: string } }).data.token;
}

async function post<T>(port: number, tok: string, path: string, body: unknown): Promise<T> {
  const res = await fetch(`http://127.0.0.1:${port}/api/model/v5${path}`, {
    method: 'POST',
    headers: { 'authorization-token': tok, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const e = (await res.json()) as { code: number; msg: string; data: T };
  if (e.code !== 0) throw new Error(`${path}: ${e.code} ${e.msg}`);
  return e.data;
}

/** autocannon on inspect against each port at once; requests per second summed, worst p99. */
async function inspectLoad(ports: number[], tok: string, jobId: string, seconds: number) {
  const results = await Promise.all(
    ports.map((port) =>
      autocannon({
        url: `http://127.0.0.1:${port}/api/model/v5/works/inspect`,
        method: 'POST',
        headers: { 'authorization-token': tok, 'content-type': 'application/json' },
        body: JSON.stringify({ jobId }),
        connections: 16,
        duration: seconds,
      }),
    ),
  );
  return {
    rps: Math.round(results.reduce((s, r) => s + r.requests.average, 0)),
    p99Ms: Math.max(...results.map((r) => r.latency.p99)),
    errors: results.reduce((s, r) => s + r.errors + r.non2xx, 0),
  };
}

export interface ScaleResult {
  inspect: Record<'sqlite1' | 'pg1' | 'pg2', { rps: number; p99Ms: number; errors: number }>;
  works: { count: number; engine: string; oneWorkerSec: number; twoWorkersSec: number; ratio: number };
}

export async function scaleBench(engine: 'passthrough' | 'sample' = 'passthrough'): Promise<ScaleResult> {
  const common = {
    HOST: '127.0.0.1',
    PORT: '0',
    DHS_LOG_LEVEL: 'info',
    DHS_RATE_LIMIT_PER_MIN: '1000000',
    DHS_ADDRESS_RATE_LIMIT_PER_MIN: '1000000',
    DHS_REPEAT_WINDOW_MS: '0',
    DHS_MAX_PENDING_WORKS: '1000',
    DHS_MAX_RUNNING_WORKS: '1000',
    DHS_FETCH_ALLOW_HOSTS: '127.0.0.1',
    DHS_LIPSYNC_ENGINE: engine,
    DHS_MAX_CONNECTIONS_PER_ADDRESS: '1000',
  };
  const database = `dhs_bench_${process.pid}`;
  const admin = new pg.Client({ connectionString: PG_URL });
  await admin.connect();
  await admin.query(`drop database if exists ${database} with (force)`);
  await admin.query(`create database ${database}`);
  const dbUrl = new URL(PG_URL);
  dbUrl.pathname = `/${database}`;
  const s3 = await startS3rver('dhs-bench');
  const [video, audio] = await Promise.all([
    videoH264({ seconds: 12 }),
    speechWav({ lang: 'en', seconds: 6 }),
  ]);
  const files = await startFileServer({ 'v.mp4': video, 'a.wav': audio });
  const shared = {
    ...common,
    DHS_DATABASE_URL: dbUrl.href,
    DHS_REDIS_URL: REDIS_URL,
    ...s3.env(`bench-${process.pid}`),
    DHS_WORKER_CONCURRENCY: '0',
  };
  const seconds = 10;
  try {
    // 1a. SQLite, one process, no worker
    const sqliteEnv = { ...common, DHS_DATA_DIR: tempDir(), DHS_WORKER_CONCURRENCY: '0' };
    const single = await start(sqliteEnv, 'serve');
    const a1 = account(sqliteEnv);
    const t1 = await token(single.port ?? 0, a1);
    const j1 = await post<{ jobId: string }>(single.port ?? 0, t1, '/works/create', { text: 'Benchmark.' });
    const sqlite1 = await inspectLoad([single.port ?? 0], t1, j1.jobId, seconds);
    await stop([single]);

    // 1b. PostgreSQL + Redis: one API, then two together
    const apis = await Promise.all([
      start({ ...shared, DHS_DATA_DIR: tempDir() }, 'serve'),
      start({ ...shared, DHS_DATA_DIR: tempDir() }, 'serve'),
    ]);
    const ports = apis.map((p) => p.port ?? 0);
    const a2 = account({ ...shared, DHS_DATA_DIR: tempDir() });
    const t2 = await token(ports[0] ?? 0, a2);
    const j2 = await post<{ jobId: string }>(ports[0] ?? 0, t2, '/works/create', { text: 'Benchmark.' });
    const pg1 = await inspectLoad([ports[0] ?? 0], t2, j2.jobId, seconds);
    const pg2 = await inspectLoad(ports, t2, j2.jobId, seconds);

    // 2. 8 works with 1 worker, then 8 more with 2
    const runWorks = async (workers: number): Promise<number> => {
      const procs = await Promise.all(
        Array.from({ length: workers }, () =>
          start({ ...shared, DHS_DATA_DIR: tempDir(), DHS_WORKER_CONCURRENCY: '1' }, 'worker'),
        ),
      );
      try {
        const t0 = performance.now();
        const ids: string[] = [];
        for (let i = 0; i < 8; i++) {
          const r = await post<{ jobId: string }>(ports[i % 2] ?? 0, t2, '/works/create', {
            videoUrl: files.url('v.mp4'),
            audioUrl: files.url('a.wav'),
            title: `w${workers}-${i}`,
          });
          ids.push(r.jobId);
        }
        for (;;) {
          const states = await Promise.all(
            ids.map((jobId) => post<{ status: number }>(ports[0] ?? 0, t2, '/works/inspect', { jobId })),
          );
          if (states.some((s) => s.status === 4)) throw new Error('a bench work failed');
          if (states.every((s) => s.status === 3)) break;
          await new Promise((r) => setTimeout(r, 250));
        }
        return (performance.now() - t0) / 1000;
      } finally {
        await stop(procs);
      }
    };
    const oneWorkerSec = await runWorks(1);
    const twoWorkersSec = await runWorks(2);
    await stop(apis);
    const round = (x: number) => Math.round(x * 10) / 10;
    return {
      inspect: { sqlite1, pg1, pg2 },
      works: {
        count: 8,
        engine,
        oneWorkerSec: round(oneWorkerSec),
        twoWorkersSec: round(twoWorkersSec),
        ratio: Math.round((twoWorkersSec / oneWorkerSec) * 100) / 100,
      },
    };
  } finally {
    await files.close();
    await s3.stop();
    await admin.query(`drop database if exists ${database} with (force)`);
    await admin.end();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const engine = process.argv.includes('--engine=sample') ? 'sample' : 'passthrough';
  console.log(JSON.stringify(await scaleBench(engine)));
}
