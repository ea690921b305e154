import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { PG_URL, postgresAvailable, tempDir } from './helpers/db.ts';
import { speechWav, videoH264 } from './helpers/fixtures.ts';
import { redisAvailable } from './helpers/redis.ts';
import { startS3rver, type S3rverInstance } from './helpers/s3rver.ts';
import { startCallbackReceiver, startFileServer } from './helpers/servers.ts';

/**
 * Two API processes and two workers, separate processes with their own empty data folders, sharing
 * only PostgreSQL, Redis and an S3 store (s3rver), started from the README's "Running on several
 * machines" example. Works go in through both APIs; a worker is SIGKILLed mid-job. Every work is
 * done once, settled once, called back once, served by the other API, and no process keeps a blob.
 */
const root = join(import.meta.dirname, '..');
const bin = join(root, 'bin/dhs.mjs');

interface Example {
  shared: Record<string, string>;
  processes: Array<{ env: Record<string, string>; command: 'serve' | 'worker' }>;
}

/** The README's example: `export K=V` lines for every process, then one line per process. */
function readmeExample(): Example {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const block = /<!-- scale-out-example -->\s*```sh\n([\s\S]*?)```/.exec(readme)?.[1];
  assert.ok(block !== undefined, 'README has the scale-out example');
  const shared: Record<string, string> = {};
  const processes: Example['processes'] = [];
  for (const line of block.split('\n').map((l) => l.trim())) {
    if (line === '' || line.startsWith('#')) continue;
    const exported = /^export ([A-Z0-9_]+)=(\S+)$/.exec(line);
    if (exported) {
      shared[exported[1] ?? ''] = exported[2] ?? '';
      continue;
    }
    const words = line.split(/\s+/);
    const command = words.at(-1);
    assert.ok(words.at(-2) === 'dhs' && (command === 'serve' || command === 'worker'), line);
    const env: Record<string, string> = {};
    for (const w of words.slice(0, -2)) {
      const [k, v] = w.split('=');
      env[k ?? ''] = v ?? '';
    }
    processes.push({ env, command });
  }
  return { shared, processes };
}

interface Running {
  child: ChildProcess;
  role: 'serve' | 'worker';
  dataDir: string;
  port?: number;
  logs: string;
}

function start(env: Record<string, string>, role: 'serve' | 'worker'): Promise<Running> {
  const child = spawn(process.execPath, [bin, role], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const r: Running = { child, role, dataDir: env.DHS_DATA_DIR ?? '', logs: '' };
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${role} not ready in 90 s: ${r.logs.slice(-1500)}`)),
      90_000,
    );
    const onData = (d: Buffer) => {
      r.logs += d.toString();
      const port = /Server listening at http:\/\/127\.0\.0\.1:(\d+)/.exec(r.logs);
      if (port?.[1]) r.port = Number(port[1]);
      if (r.logs.includes('"msg":"dhs ready"')) {
        clearTimeout(timer);
        resolve(r);
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) => reject(new Error(`${role} exited ${String(code)}: ${r.logs.slice(-1500)}`)));
  });
}

/**
 * Runs an idempotent request again once when the socket it was sent on was already closed: a kept-alive
 * connection the server timed out just as the client reused it (seen on a loaded machine; the request
 * never reached the server). Anything else is thrown as it came.
 */
async function onceMoreIfClosed<T>(send: () => Promise<T>): Promise<T> {
  try {
    return await send();
  } catch (err) {
    const code = (err as { cause?: { code?: unknown } }).cause?.code;
    if (!(err instanceof TypeError) || code !== 'UND_ERR_SOCKET') throw err;
    return send();
  }
}

function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((p) =>
    statSync(join(dir, p)).isFile(),
  );
}

describe('scale-out: 2 APIs, 2 workers, PostgreSQL + Redis + S3', async () => {
  const ready = (await postgresAvailable()) && (await redisAvailable());
  const database = `dhs_scale_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
  let s3: S3rverInstance;
  let files: Awaited<ReturnType<typeof startFileServer>>;
  let receiver: Awaited<ReturnType<typeof startCallbackReceiver>>;
  const running: Running[] = [];
  let shared: Record<string, string> = {};

  before(async () => {
    if (!ready) return;
    const admin = new pg.Client({ connectionString: PG_URL });
    await admin.connect();
    await admin.query(`create database ${database}`);
    await admin.end();
    const [video, audio] = await Promise.all([
      videoH264({ seconds: 12 }),
      speechWav({ lang: 'en', seconds: 6 }),
    ]);
    files = await startFileServer({ 'v.mp4': video, 'a.wav': audio });
    receiver = await startCallbackReceiver();
    s3 = await startS3rver('dhs-scale');
    const example = readmeExample();
    const dbUrl = new URL(PG_URL);
    dbUrl.pathname = `/${database}`;
    // the example's variables, with this machine's endpoints
    shared = {
      ...example.shared,
      DHS_DATABASE_URL: dbUrl.href,
      DHS_REDIS_URL: 'redis://127.0.0.1:6379/0',
      ...s3.env(`scale-${process.pid}`),
      DHS_PUBLIC_URL: 'http://127.0.0.1:9',
      // the test's own: loopback media and callbacks, a short lease, the fast engine, a small budget
      DHS_FETCH_ALLOW_HOSTS: '127.0.0.1',
      DHS_JOB_LEASE_MS: '4000',
      DHS_LIPSYNC_ENGINE: 'passthrough',
      DHS_RATE_LIMIT_PER_MIN: '300',
      DHS_ADDRESS_RATE_LIMIT_PER_MIN: '100000',
      DHS_REPEAT_WINDOW_MS: '0',
      DHS_LOG_LEVEL: 'info',
      HOST: '127.0.0.1',
    };
    assert.deepEqual(
      Object.keys(example.shared).filter((k) => !(k in shared)),
      [],
      'every shared variable of the example is set',
    );
    const started = await Promise.all(
      example.processes.map((p) =>
        start({ ...shared, ...p.env, PORT: '0', DHS_DATA_DIR: tempDir(`dhs-${p.command}-`) }, p.command),
      ),
    );
    running.push(...started);
  });

  after(async () => {
    for (const r of running) r.child.kill('SIGKILL');
    // a child that has ended (by a signal too: exitCode stays null then) fires no second 'exit'
    const ended = (c: ChildProcess) => c.exitCode !== null || c.signalCode !== null;
    await Promise.all(
      running.map((r) => new Promise((res) => (ended(r.child) ? res(null) : r.child.once('exit', res)))),
    );
    if (!ready) return;
    await files?.close();
    await receiver?.close();
    await s3?.stop();
    const admin = new pg.Client({ connectionString: PG_URL });
    await admin.connect();
    await admin.query(`drop database if exists ${database} with (force)`);
    await admin.end();
  });

  test(
    'every work done once through either API, a killed worker notwithstanding',
    { skip: !ready },
    async () => {
      const apis = running.filter((r) => r.role === 'serve');
      const workers = running.filter((r) => r.role === 'worker');
      assert.equal(apis.length, 2);
      assert.equal(workers.length, 2);
      const base = (i: number) => `http://127.0.0.1:${apis[i % 2]?.port}`;
      const account = () => {
        const created = spawnSync(
          process.execPath,
          [bin, 'account', 'create', '--points', '100000', '--json'],
          {
            env: { ...process.env, ...shared, DHS_DATA_DIR: tempDir() },
            encoding: 'utf8',
          },
        );
        assert.equal(created.status, 0, created.stderr);
        return JSON.parse(created.stdout.trim().split('\n').pop() ?? '{}') as {
          accessKey: string;
          secretKey: string;
        };
      };
      const acct = account();
      const token = (i: number, a = acct) => onceMoreIfClosed(() => signedToken(i, a));
      const signedToken = async (i: number, a: typeof acct) => {
        const ts = String(Date.now());
        const sign = createHash('md5').update(`${a.accessKey}${ts}${a.secretKey}`).digest('hex');
        const r = (await (
          await fetch(
            `${base(i)}/api/model/v5/oauth/token?accessKey=${a.accessKey}&timestamp=${ts}&sign=${sign}`,
          )
        ).json()) as { data: { token: string } };
        return r.data.token;
      };
      const tokens = [await token(0), await token(1)];
      const call = async <T>(i: number, path: string, body: unknown) =>
        (await (
          await fetch(`${base(i)}/api/model/v5${path}`, {
            method: 'POST',
            headers: { 'authorization-token': tokens[i % 2] ?? '', 'content-type': 'application/json' },
            body: JSON.stringify(body),
          })
        ).json()) as { code: number; msg: string; data: T };

      const jobs: Array<{ jobId: string; api: number }> = [];
      for (let i = 0; i < 6; i++) {
        const r = await call<{ jobId: string }>(i, '/works/create', {
          videoUrl: files.url('v.mp4'),
          audioUrl: files.url('a.wav'),
          callbackUrl: receiver.url(`/hook/${i}`),
        });
        assert.equal(r.code, 0, r.msg);
        jobs.push({ jobId: r.data.jobId, api: i % 2 });
      }

      // SIGKILL the worker that holds a running job
      const db = new pg.Client({ connectionString: shared.DHS_DATABASE_URL });
      await db.connect();
      let killed: Running | undefined;
      try {
        const deadline = Date.now() + 60_000;
        while (killed === undefined && Date.now() < deadline) {
          const { rows } = await db.query<{ worker_id: string }>(
            "select worker_id from queue where kind = 'work' and state = 'active' and worker_id is not null limit 1",
          );
          const pid = Number(rows[0]?.worker_id.split(':')[1]);
          killed = workers.find((w) => w.child.pid === pid);
          if (killed === undefined) await new Promise((r) => setTimeout(r, 50));
        }
        assert.ok(killed !== undefined, 'a worker was seen running a job');
        killed.child.kill('SIGKILL');

        // every work ends, done
        const deadline2 = Date.now() + 240_000;
        const results = new Map<string, { videoUrl: string; duration: number }>();
        while (results.size < jobs.length && Date.now() < deadline2) {
          for (const j of jobs) {
            if (results.has(j.jobId)) continue;
            const r = await call<{
              status: number;
              videoUrl: string;
              duration: number;
              errorMessage: string;
            }>(j.api, '/works/inspect', { jobId: j.jobId });
            if (r.code === 10002) continue; // the account's budget: ask again later
            assert.equal(r.code, 0, r.msg);
            assert.notEqual(r.data.status, 4, r.data.errorMessage);
            if (r.data.status === 3) results.set(j.jobId, r.data);
          }
          await new Promise((r) => setTimeout(r, 1000));
        }
        assert.equal(results.size, jobs.length, 'every work done');

        const settles = await db.query<{ job_id: string; n: string }>(
          "select job_id, count(*) as n from ledger where kind = 'settle' group by job_id",
        );
        assert.deepEqual(
          settles.rows.map((r) => [r.job_id, Number(r.n)]).sort(),
          jobs.map((j) => [j.jobId, 1]).sort(),
          'one settlement each',
        );

        // called back once each
        await receiver.waitFor(jobs.length, 60_000);
        const byJob = new Map<string, number>();
        for (const cb of receiver.received) {
          const jobId = (JSON.parse(cb.body) as { jobId: string }).jobId;
          byJob.set(jobId, (byJob.get(jobId) ?? 0) + 1);
        }
        assert.deepEqual(
          [...byJob.values()],
          jobs.map(() => 1),
        );

        // each result through the other API process, playable
        for (const j of jobs) {
          const url = new URL(results.get(j.jobId)?.videoUrl ?? '');
          const res = await onceMoreIfClosed(() => fetch(`${base(j.api + 1)}${url.pathname}`));
          assert.equal(res.status, 200, url.pathname);
          const out = join(tempDir(), 'result.mp4');
          writeFileSync(out, Buffer.from(await res.arrayBuffer()));
          const probe = spawnSync(
            process.env.DHS_FFPROBE ?? 'ffprobe',
            ['-v', 'error', '-show_entries', 'format=duration', '-of', 'csv=p=0', out],
            { encoding: 'utf8' },
          );
          assert.ok(Number(probe.stdout.trim()) > 5, `playable: ${probe.stdout} ${probe.stderr}`);
        }
      } finally {
        await db.end();
      }

      // no process keeps a blob of its own
      for (const r of running) {
        const kept = filesUnder(r.dataDir).filter((p) => !p.startsWith('work'));
        assert.deepEqual(kept, [], `${r.role} ${r.dataDir} keeps no files`);
      }

      // the request budget is one for both API processes: 300 a minute in all, not 300 each
      const other = account();
      const otherTokens = [await token(0, other), await token(1, other)];
      let ok = 0;
      for (let i = 0; i < 500; i++) {
        const res = (await (
          await onceMoreIfClosed(() =>
            fetch(`${base(i)}/api/model/v5/user/balance`, {
              headers: { 'authorization-token': otherTokens[i % 2] ?? '' },
            }),
          )
        ).json()) as { code: number };
        if (res.code === 0) ok++;
        else assert.equal(res.code, 10002);
      }
      assert.ok(ok < 400, `${ok} of 500 balance requests allowed across both APIs`);
    },
  );
});
