import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { JobStatus } from '../src/domain/jobs.ts';
import { PG_URL, postgresAvailable } from './helpers/db.ts';
import { longAudio, videoH264 } from './helpers/fixtures.ts';
import { createHarness } from './helpers/harness.ts';
import { startCallbackReceiver, startFileServer } from './helpers/servers.ts';

const root = join(import.meta.dirname, '..');

function startWorker(env: Record<string, string>): ChildProcess {
  return spawn(process.execPath, [join(root, 'bin/dhs.mjs'), 'worker'], {
    cwd: root,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
}

function exited(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  return new Promise((res) => {
    if (child.exitCode !== null || child.signalCode !== null)
      res({ code: child.exitCode, signal: child.signalCode });
    else child.once('exit', (code, signal) => res({ code, signal }));
  });
}

const pgSkip = (await postgresAvailable()) ? false : 'no PostgreSQL at DHS_TEST_DATABASE_URL';

/** The worker holding a queue item (its id is host:pid:random). */
function holderPid(workerId: string | null | undefined): number | undefined {
  const pid = Number(workerId?.split(':')[1]);
  return Number.isInteger(pid) ? pid : undefined;
}

test('sqlite: a worker killed mid-job: the job finishes once, one settlement, one acknowledged callback', () =>
  killedMidJob('sqlite'));

test(
  'postgres: two workers at once, the one holding the job killed: the other finishes it once, one settlement, one callback',
  { skip: pgSkip },
  () => killedMidJob('postgres'),
);

/**
 * SQLite: one worker process, killed, then another started. PostgreSQL: two worker processes at once
 * (the claim goes to one of them), the one holding the job killed: the other takes it after the lease.
 */
async function killedMidJob(db: 'sqlite' | 'postgres'): Promise<void> {
  // 40 s of audio: 1000 frames to render, plenty to be killed in (the kill comes early in the avatar
  // preparation), a third of the wall time of the 120 s this test used to render twice.
  const [video, audio] = await Promise.all([videoH264({ seconds: 12 }), longAudio(40)]);
  const files = await startFileServer({ 'v.mp4': video, 'a.wav': audio });
  const receiver = await startCallbackReceiver();
  // The API runs in this process; the workers are separate `dhs worker` processes on the same SQLite
  // file, or on the same PostgreSQL schema (named in the URL's options).
  const h = await createHarness({ db, realClock: true, env: { DHS_WORKER_CONCURRENCY: '0' } });
  const searchPath = encodeURIComponent(`-c search_path=${h.pgSchema}`);
  const env = {
    ...(db === 'postgres'
      ? { DHS_DATABASE_URL: `${PG_URL}${PG_URL.includes('?') ? '&' : '?'}options=${searchPath}` }
      : {}),
    DHS_DATA_DIR: h.dataDir,
    DHS_FETCH_ALLOW_HOSTS: '127.0.0.1',
    // two workers at once: a lease long enough that a busy worker (its event loop held by a synchronous
    // step on a loaded machine) keeps its job, rather than the idle one taking it over before the kill
    DHS_JOB_LEASE_MS: db === 'postgres' ? '5000' : '1500',
    DHS_POLL_INTERVAL_MS: '50',
    DHS_LOG_LEVEL: 'warn',
    DHS_PUBLIC_URL: 'http://127.0.0.1:9',
  };
  const children: ChildProcess[] = [];
  try {
    const c = await h.account({ points: 1000 });
    const token = await h.tokenFor(c);
    const res = await h.post<{ jobId: string }>(
      '/works/create',
      { videoUrl: files.url('v.mp4'), audioUrl: files.url('a.wav'), callbackUrl: receiver.url() },
      { token },
    );
    assert.equal(res.code, 0, res.msg);
    const jobId = res.data.jobId;

    const started = db === 'postgres' ? [startWorker(env), startWorker(env)] : [startWorker(env)];
    children.push(...started);
    // Kill the one holding it while it renders (status 2, past the download stage).
    await h.waitFor(
      async () => {
        const job = await h.runtime.jobs.get(jobId);
        assert.notEqual(
          job?.status,
          JobStatus.DONE,
          'the render finished before the kill: make the audio longer',
        );
        assert.notEqual(job?.status, JobStatus.FAILED, `the job failed: ${job?.error_message_en}`);
        return job?.status === JobStatus.RUNNING && job.progress >= 41 ? true : undefined;
      },
      120_000,
      'rendering',
    );
    const item = (await h.runtime.queue.listByRef(jobId)).find((i) => i.kind === 'work');
    const first = started.find((w) => w.pid === holderPid(item?.worker_id));
    assert.ok(first, `the job is held by a worker started here (${item?.worker_id})`);
    first.kill('SIGKILL');
    assert.equal((await exited(first)).signal, 'SIGKILL');
    assert.equal((await h.runtime.jobs.get(jobId))?.status, JobStatus.RUNNING);

    // PostgreSQL: the other worker, running all along, takes it; SQLite: a new one
    const second = started.find((w) => w !== first) ?? startWorker(env);
    if (!children.includes(second)) children.push(second);
    const done = await h.waitFor(
      async () => {
        const job = await h.runtime.jobs.get(jobId);
        return job !== null && job.status >= JobStatus.DONE ? job : undefined;
      },
      240_000,
      'the job to finish',
    );
    assert.equal(done.status, JobStatus.DONE, done.error_message);
    assert.ok(done.duration >= 40 && done.duration <= 41, `duration ${done.duration}`);
    await receiver.waitFor(1);
    await h.waitFor(
      async () => {
        const items = await h.runtime.queue.listByRef(jobId);
        return items.every((i) => i.state === 'done') ? true : undefined;
      },
      30_000,
      'queue items done',
    );

    const work = (await h.runtime.queue.listByRef(jobId)).filter((i) => i.kind === 'work');
    assert.equal(work.length, 1);
    assert.equal(work[0]?.attempts, 2, 'taken again once after the kill');
    const settles = (await h.runtime.ledger.entriesForJob(jobId)).filter((e) => e.kind === 'settle');
    assert.equal(settles.length, 1);
    assert.equal(settles[0]?.fee, done.duration);
    assert.equal(receiver.received.length, 1);
    assert.equal(JSON.parse(receiver.received[0]?.body ?? '{}').status, 3);
    const acked = (await h.runtime.callbacks.forRef(jobId)).filter((d) => d.http_status === 200);
    assert.equal(acked.length, 1);
    assert.equal(
      await h.runtime.ledger.sum(c.userId),
      (await h.runtime.accounts.findById(c.userId))?.balance,
    );
    assert.equal((await h.runtime.accounts.findById(c.userId))?.balance, 1000 - done.duration);

    // graceful shutdown of the survivor
    second.kill('SIGTERM');
    assert.equal((await exited(second)).code, 0);
    assert.deepEqual(readdirSync(join(h.dataDir, 'work')), [], "the killed worker's temp files are gone");
  } finally {
    for (const ch of children) if (ch.exitCode === null && ch.signalCode === null) ch.kill('SIGKILL');
    await h.close();
    await files.close();
    await receiver.close();
  }
}
