import { createHash } from 'node:crypto';
import { rmSync } from 'node:fs';
import pg from 'pg';
import { loadConfig } from '../../src/config.ts';
import type { Worker } from '../../src/jobs/worker.ts';
import { ManualClock, systemClock } from '../../src/repositories/clock.ts';
import { createRuntime, type Runtime, type RuntimeOverrides } from '../../src/runtime.ts';
import { PG_URL, tempDir } from './db.ts';

export interface Credentials {
  userId: string;
  accessKey: string;
  secretKey: string;
  webhookSecret: string;
}

export interface Envelope<T = Record<string, unknown>> {
  code: number;
  msg: string;
  data: T;
}

const silent = { info() {}, warn() {}, error() {}, debug() {} };

/**
 * An in-process server for tests: real runtime (SQLite in a temp dir, or a fresh PostgreSQL schema),
 * a manual clock, Fastify `inject` for requests, and an optional worker.
 */
export async function createHarness(
  opts: {
    db?: 'sqlite' | 'postgres';
    env?: Record<string, string>;
    overrides?: RuntimeOverrides;
    worker?: boolean;
    /** The system clock (when other processes share the database) instead of a manual one. */
    realClock?: boolean;
  } = {},
) {
  const dataDir = tempDir();
  const pgSchema =
    opts.db === 'postgres' ? `t_${process.pid}_${Math.random().toString(36).slice(2, 10)}` : undefined;
  const config = loadConfig({
    DHS_DATA_DIR: dataDir,
    DHS_FETCH_ALLOW_HOSTS: '127.0.0.1,localhost',
    DHS_POLL_INTERVAL_MS: '20',
    DHS_LOG_LEVEL: 'silent',
    DHS_PUBLIC_URL: 'http://127.0.0.1:9',
    // tests poll status endpoints in tight loops; the rate-limit tests set their own limit
    DHS_RATE_LIMIT_PER_MIN: '1000000',
    DHS_ADDRESS_RATE_LIMIT_PER_MIN: '1000000',
    // gauges counted at every scrape (tests look right after a change)
    DHS_METRICS_REFRESH_MS: '0',
    ...(opts.db === 'postgres' ? { DHS_DATABASE_URL: PG_URL } : {}),
    ...opts.env,
  });
  const manual = new ManualClock(Date.now());
  const clock = opts.realClock
    ? {
        now: () => Date.now(),
        advance: (_ms: number) => {
          throw new Error('real clock');
        },
      }
    : manual;
  const runtime: Runtime = await createRuntime(config, {
    clock: opts.realClock ? systemClock : manual,
    quiet: true,
    log: silent,
    ...(pgSchema === undefined ? {} : { pgSchema }),
    ...opts.overrides,
  });
  const app = await runtime.app();
  await app.ready();
  runtime.ready = true;
  const worker: Worker = runtime.worker(silent);
  if (opts.worker) worker.start();

  const h = {
    runtime,
    app,
    clock,
    worker,
    dataDir,
    config,
    /** PostgreSQL: the schema of this harness (other processes reach it with `?options=`). */
    pgSchema,
    async account(a: { points?: number; lite?: number; pro?: number } = {}): Promise<Credentials> {
      return runtime.accounts.create({ points: a.points ?? 0, lite: a.lite ?? 0, pro: a.pro ?? 0 });
    },
    sign(c: Credentials, timestamp: number) {
      return createHash('md5').update(`${c.accessKey}${timestamp}${c.secretKey}`).digest('hex');
    },
    async tokenFor(c: Credentials): Promise<string> {
      const ts = clock.now();
      const res = await h.get<{ token: string }>('/oauth/token', {
        query: { accessKey: c.accessKey, timestamp: String(ts), sign: h.sign(c, ts) },
      });
      if (res.code !== 0) throw new Error(`token: ${res.code} ${res.msg}`);
      if (!opts.realClock) clock.advance(1); // a new timestamp for the next signature
      return res.data.token;
    },
    async get<T = Record<string, unknown>>(
      path: string,
      o: { token?: string; query?: Record<string, string>; headers?: Record<string, string> } = {},
    ) {
      const res = await app.inject({
        method: 'GET',
        url: `/api/model/v5${path}`,
        ...(o.query ? { query: o.query } : {}),
        headers: { ...(o.token ? { 'authorization-token': o.token } : {}), ...o.headers },
      });
      if (res.statusCode !== 200) throw new Error(`HTTP ${res.statusCode}: ${res.body}`);
      return res.json<Envelope<T>>();
    },
    async post<T = Record<string, unknown>>(
      path: string,
      body: unknown,
      o: { token?: string; headers?: Record<string, string>; raw?: string } = {},
    ) {
      const res = await app.inject({
        method: 'POST',
        url: `/api/model/v5${path}`,
        headers: {
          'content-type': 'application/json',
          ...(o.token ? { 'authorization-token': o.token } : {}),
          ...o.headers,
        },
        payload: o.raw ?? JSON.stringify(body),
      });
      if (res.statusCode !== 200) throw new Error(`HTTP ${res.statusCode}: ${res.body}`);
      return res.json<Envelope<T>>();
    },
    /** Polls `fn` until it returns a value other than undefined, or fails after `timeoutMs`. */
    async waitFor<T>(fn: () => Promise<T | undefined>, timeoutMs = 60_000, what = 'condition'): Promise<T> {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const v = await fn();
        if (v !== undefined) return v;
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
        await new Promise((r) => setTimeout(r, 25));
      }
    },
    async close() {
      await worker.stop(5000);
      await app.close();
      await runtime.close();
      if (pgSchema !== undefined) {
        const c = new pg.Client({ connectionString: PG_URL });
        await c.connect();
        await c.query(`drop schema if exists ${pgSchema} cascade`);
        await c.end();
      }
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
  return h;
}

export type Harness = Awaited<ReturnType<typeof createHarness>>;
