import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { test } from 'node:test';
import { tempDir } from './helpers/db.ts';

const root = join(import.meta.dirname, '..');
const dhs = join(root, 'bin/dhs.mjs');

test('the real binary: account CLI, serve, healthz, token, balance, graceful stop', async () => {
  const dataDir = tempDir();
  const env = { ...process.env, DHS_DATA_DIR: dataDir, PORT: '0', HOST: '127.0.0.1', DHS_LOG_LEVEL: 'info' };
  const created = spawnSync(
    process.execPath,
    [dhs, 'account', 'create', '--points', '42', '--lite', '1', '--pro', '0', '--json'],
    { env, encoding: 'utf8' },
  );
  assert.equal(created.status, 0, created.stderr);
  const acct = JSON.parse(created.stdout.trim()) as {
    userId: string;
    accessKey: string;
    secretKey: string;
    webhookSecret: string;
  };
  assert.deepEqual(Object.keys(acct).sort(), ['accessKey', 'secretKey', 'userId', 'webhookSecret']);
  const topup = spawnSync(process.execPath, [dhs, 'account', 'topup', acct.accessKey, '--points', '8'], {
    env,
    encoding: 'utf8',
  });
  assert.equal(topup.status, 0, topup.stderr);
  const bad = spawnSync(process.execPath, [dhs, 'account', 'create', '--points', 'x'], {
    env,
    encoding: 'utf8',
  });
  assert.equal(bad.status, 2);
  const badEnv = spawnSync(process.execPath, [dhs, 'serve'], {
    env: { ...env, DHS_WORKER_CONCURRENCY: 'many' },
    encoding: 'utf8',
  });
  assert.equal(badEnv.status, 2);
  assert.match(badEnv.stderr, /DHS_WORKER_CONCURRENCY/);

  // serve's worker child looks for jobs every 10 s here: a submission reaches it at once over the IPC
  // channel (SQLite cannot tell another process), so the work below starts long before that
  const server = spawn(process.execPath, [dhs, 'serve'], {
    env: { ...env, DHS_POLL_INTERVAL_MS: '10000', DHS_METRICS_REFRESH_MS: '0' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  try {
    // the "dhs ready" log line carries the port (PORT=0 picks a free one)
    let buf = '';
    const logs = () => buf;
    const port = await new Promise<number>((resolve, reject) => {
      server.stdout.on('data', (d: Buffer) => {
        buf += d.toString();
        const m = /Server listening at http:\/\/127\.0\.0\.1:(\d+)/.exec(buf);
        if (m?.[1]) resolve(Number(m[1]));
      });
      server.once('exit', (code) => reject(new Error(`server exited ${code}: ${buf}`)));
    });
    const base = `http://127.0.0.1:${port}`;
    const hz = await fetch(`${base}/healthz`);
    assert.equal(hz.status, 200);
    const ts = String(Date.now());
    const sign = createHash('md5')
      .update(acct.accessKey + ts + acct.secretKey)
      .digest('hex');
    const tok = (await (
      await fetch(`${base}/api/model/v5/oauth/token?accessKey=${acct.accessKey}&timestamp=${ts}&sign=${sign}`)
    ).json()) as { code: number; data: { token: string } };
    assert.equal(tok.code, 0);
    const bal = (await (
      await fetch(`${base}/api/model/v5/user/balance`, { headers: { 'authorization-token': tok.data.token } })
    ).json()) as { code: number; data: { balance: number } };
    assert.equal(bal.data.balance, 50);
    const res = await fetch(`${base}/api/model/v5/works/inspect`, {
      method: 'POST',
      headers: { 'authorization-token': tok.data.token, 'content-type': 'application/json' },
      body: '{bad',
    });
    assert.equal(res.status, 200);
    assert.equal(((await res.json()) as { code: number }).code, 20004);
    assert.ok(res.headers.get('x-request-id'));
    // the work is made by the worker process serve started beside the API
    // once it has run the start-up retention sweep it is idle, its next poll 10 s away
    const workerIdle = Date.now() + 60_000;
    while (
      !/dhs_queue_items\{kind="retention",state="done"\} 1/.test(
        await (await fetch(`${base}/metrics`)).text(),
      )
    ) {
      assert.ok(Date.now() < workerIdle, 'the worker never ran the start-up retention sweep');
      await new Promise((r) => setTimeout(r, 50));
    }
    const submittedAt = Date.now();
    const created = (await (
      await fetch(`${base}/api/model/v5/works/create`, {
        method: 'POST',
        headers: { 'authorization-token': tok.data.token, 'content-type': 'application/json' },
        body: JSON.stringify({ text: 'Hello there.' }),
      })
    ).json()) as { code: number; data: { jobId: string } };
    assert.equal(created.code, 0);
    const deadline = Date.now() + 60_000;
    let status = 0;
    let startedAfter = Number.POSITIVE_INFINITY;
    while (status < 3 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 200));
      const inspect = (await (
        await fetch(`${base}/api/model/v5/works/inspect`, {
          method: 'POST',
          headers: { 'authorization-token': tok.data.token, 'content-type': 'application/json' },
          body: JSON.stringify({ jobId: created.data.jobId }),
        })
      ).json()) as { data: { status: number } };
      status = inspect.data.status;
      if (status >= 2 && startedAfter === Number.POSITIVE_INFINITY) startedAfter = Date.now() - submittedAt;
    }
    assert.equal(status, 3, 'the work was done');
    assert.ok(startedAfter < 5000, `the worker started the work ${startedAfter} ms after its submission`);
    assert.match(logs(), /"role":"worker"[^\n]*"msg":"worker started"/);
  } finally {
    server.kill('SIGTERM');
    const code = await new Promise<number | null>((r) => server.once('exit', (c) => r(c)));
    assert.equal(code, 0);
  }
});
