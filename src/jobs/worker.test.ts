import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { openTestDatabase, type TestDatabase } from '../../test/helpers/db.ts';
import { AppError, ErrorCode } from '../domain/errors.ts';
import { Metrics } from '../metrics.ts';
import { ManualClock } from '../repositories/clock.ts';
import { QueueRepository, type QueueItem } from '../repositories/queue.repository.ts';
import { cryptoRandom } from '../repositories/random.ts';
import { Worker, toAppError, type HandlerContext, type JobHandler } from './worker.ts';

const silent = { info() {}, warn() {}, error() {}, debug() {} };

let tdb: TestDatabase;
let clock: ManualClock;
let queue: QueueRepository;
before(async () => {
  tdb = await openTestDatabase('sqlite');
  clock = new ManualClock(Date.UTC(2026, 0, 1));
  queue = new QueueRepository(tdb.database, clock, cryptoRandom);
});
after(async () => tdb.cleanup());

/** Polls until `fn` holds (deadline 10 s): no sleeps standing in for events. */
async function until(fn: () => Promise<boolean> | boolean, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!(await fn())) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

function makeWorker(handler: JobHandler, leaseMs = 60_000): Worker {
  return new Worker({
    queue,
    handlers: [handler],
    clock,
    metrics: new Metrics(),
    log: silent,
    workerId: `w-${Math.random()}`,
    concurrency: 1,
    leaseMs,
    pollIntervalMs: 5,
    jobTimeoutMs: 60_000,
  });
}

function recorder(kind: string, run: (ctx: HandlerContext, n: number) => Promise<void>) {
  const gaveUp: Array<{ item: QueueItem; err: AppError }> = [];
  let runs = 0;
  const handler: JobHandler = {
    kind,
    run: (ctx) => run(ctx, ++runs),
    retryDelayMs: (attempt) => attempt * 1000,
    giveUp: async (item, err) => {
      gaveUp.push({ item, err });
    },
  };
  return { handler, gaveUp, runs: () => runs };
}

test('a permanent failure gives up at once, without retries', async () => {
  const r = recorder('perm', async () => {
    throw new AppError(ErrorCode.INVALID_AUDIO_DURATION, 'too short');
  });
  const id = await queue.enqueue(tdb.database.db, { kind: 'perm', refId: 'x', payload: {}, maxAttempts: 3 });
  const w = makeWorker(r.handler);
  w.start();
  await until(async () => (await queue.get(id!))?.state === 'failed', 'failed');
  await w.stop(1000);
  assert.equal(r.runs(), 1);
  assert.equal(r.gaveUp.length, 1);
  assert.equal(r.gaveUp[0]?.err.code, 20014);
});

test('a retryable failure is retried after its backoff; unexpected errors are retryable', async () => {
  const r = recorder('retry', async (_ctx, n) => {
    if (n === 1) throw new AppError(ErrorCode.AUDIO_FETCH_FAILED, 'reset', { retryable: true });
    if (n === 2) throw new Error('ffmpeg crashed');
  });
  const id = await queue.enqueue(tdb.database.db, { kind: 'retry', refId: 'x', payload: {}, maxAttempts: 3 });
  const w = makeWorker(r.handler);
  w.start();
  await until(
    async () => (await queue.get(id!))?.attempts === 1 && (await queue.get(id!))?.state === 'queued',
    'first retry',
  );
  assert.equal((await queue.get(id!))?.run_at, clock.now() + 1000);
  clock.advance(1000);
  await until(
    async () => (await queue.get(id!))?.attempts === 2 && (await queue.get(id!))?.state === 'queued',
    'second retry',
  );
  clock.advance(2000);
  await until(async () => (await queue.get(id!))?.state === 'done', 'done');
  await w.stop(1000);
  assert.equal(r.runs(), 3);
  assert.equal(r.gaveUp.length, 0);
});

test('attempts used up: the last retryable failure gives up with its own code', async () => {
  const r = recorder('exhaust', async () => {
    throw new AppError(ErrorCode.VIDEO_FETCH_FAILED, 'down', { retryable: true });
  });
  const id = await queue.enqueue(tdb.database.db, {
    kind: 'exhaust',
    refId: 'x',
    payload: {},
    maxAttempts: 2,
  });
  const w = makeWorker(r.handler);
  w.start();
  await until(
    async () => (await queue.get(id!))?.state === 'queued' && (await queue.get(id!))?.attempts === 1,
    'retry',
  );
  clock.advance(1000);
  await until(async () => (await queue.get(id!))?.state === 'failed', 'failed');
  await w.stop(1000);
  assert.equal(r.runs(), 2);
  assert.equal(r.gaveUp[0]?.err.code, 20012);
});

test('shutdown past the grace period aborts the handler and hands the item back uncounted', async () => {
  let started = false;
  const r = recorder('slow', (ctx) => {
    started = true;
    return new Promise((_res, rej) => ctx.signal.addEventListener('abort', () => rej(new Error('aborted'))));
  });
  const id = await queue.enqueue(tdb.database.db, { kind: 'slow', refId: 'x', payload: {}, maxAttempts: 3 });
  const w = makeWorker(r.handler);
  w.start();
  await until(() => started, 'started');
  await w.stop(0);
  const item = await queue.get(id!);
  assert.equal(item?.state, 'queued');
  assert.equal(item?.attempts, 0);
  assert.equal(r.gaveUp.length, 0);
});

test('an item whose lease was taken over is left to its new owner', async () => {
  let started = false;
  let aborted = false;
  const r = recorder('lease', (ctx) => {
    started = true;
    return new Promise((_res, rej) =>
      ctx.signal.addEventListener('abort', () => {
        aborted = true;
        rej(new Error('aborted'));
      }),
    );
  });
  const id = await queue.enqueue(tdb.database.db, { kind: 'lease', refId: 'x', payload: {}, maxAttempts: 3 });
  const w = makeWorker(r.handler, 1000);
  w.start();
  await until(() => started, 'started');
  clock.advance(1001); // the lease runs out; another worker takes the item
  const other = await queue.claim('other', 60_000, ['lease']);
  assert.equal(other?.id, id);
  await until(() => aborted, 'heartbeat notices the lost lease');
  await w.stop(1000);
  const item = await queue.get(id!);
  assert.equal(item?.state, 'active');
  assert.equal(item?.worker_id, 'other');
  assert.equal(r.gaveUp.length, 0);
});

test('callbacks have their own lane: one is delivered while a render holds the only slot', async () => {
  let renderStarted = false;
  let releaseRender: () => void = () => {};
  const render = recorder('lane-render', (_ctx, n) => {
    if (n > 1) return Promise.resolve();
    renderStarted = true;
    return new Promise<void>((res) => (releaseRender = res));
  });
  let delivered = 0;
  const callback = recorder('callback', async () => {
    delivered++;
  });
  const db = tdb.database.db;
  await queue.enqueue(db, { kind: 'lane-render', refId: 'r1', payload: {}, maxAttempts: 1 });
  await queue.enqueue(db, { kind: 'lane-render', refId: 'r2', payload: {}, maxAttempts: 1 });
  const w = new Worker({
    queue,
    handlers: [render.handler, callback.handler],
    clock,
    metrics: new Metrics(),
    log: silent,
    workerId: 'w-lane',
    concurrency: 1,
    leaseMs: 60_000,
    pollIntervalMs: 5,
    jobTimeoutMs: 60_000,
  });
  w.start();
  try {
    await until(() => renderStarted, 'render started');
    const cb = await queue.enqueue(db, { kind: 'callback', refId: 'c1', payload: {}, maxAttempts: 1 });
    await until(async () => (await queue.get(cb!))?.state === 'done', 'callback delivered');
    assert.equal(delivered, 1);
    assert.equal(render.runs(), 1, 'the second render still waits for the one slot');
  } finally {
    releaseRender();
    await w.stop(1000);
  }
});

test('an unexpected error reaches the customer in words, its message only the log and the queue record', async () => {
  const ffmpegFailure = new Error(
    'ffmpeg exited with code 1:\n/var/lib/dhs/work/q_1/missing.input: No such file or directory',
  );
  const err = toAppError(ffmpegFailure, 'w_123');
  assert.equal(err.code, ErrorCode.INTERNAL_STAGE);
  assert.equal(err.retryable, true);
  assert.equal(err.cause, ffmpegFailure);
  for (const text of [err.detail.en, err.detail.zh]) {
    assert.ok(!text.includes('/') && !/ffmpeg|No such file/.test(text), text);
    assert.ok(text.includes('w_123'), text);
  }
  const planned = new AppError(ErrorCode.NO_FACE);
  assert.equal(toAppError(planned, 'w_123'), planned, 'AppErrors made on purpose pass unchanged');

  const logged: Array<{ obj: Record<string, unknown>; msg: string }> = [];
  const log = {
    ...silent,
    error: (obj: unknown, msg?: string) => {
      logged.push({ obj: obj as Record<string, unknown>, msg: msg ?? '' });
    },
  };
  const failing: JobHandler = {
    kind: 'leaky',
    run: () => Promise.reject(ffmpegFailure),
    giveUp: () => Promise.resolve(),
  };
  const w = new Worker({
    queue,
    handlers: [failing],
    clock,
    metrics: new Metrics(),
    log,
    workerId: 'w-leaky',
    concurrency: 1,
    leaseMs: 60_000,
    pollIntervalMs: 5,
    jobTimeoutMs: 60_000,
  });
  const id = await queue.enqueue(tdb.database.db, {
    kind: 'leaky',
    refId: 'w_123',
    payload: {},
    maxAttempts: 1,
  });
  w.start();
  try {
    await until(async () => (await queue.get(id!))?.state === 'failed', 'item failed');
  } finally {
    await w.stop(1000);
  }
  assert.ok(
    logged.some((l) => l.obj.err === ffmpegFailure),
    'the failure itself is logged',
  );
  assert.match((await queue.get(id!))?.last_error ?? '', /missing\.input: No such file/);
});

test('a worker whose lease was taken over fails its try without giving the job up', async () => {
  // the lease runs out while the handler is held (as a long synchronous step would hold it), another
  // worker takes the item, then the first handler fails permanently: the job is the other worker's
  let release!: () => void;
  const held = new Promise<void>((r) => (release = r));
  let running = false;
  const gaveUp: string[] = [];
  const handler: JobHandler = {
    kind: 'stolen',
    run: async () => {
      running = true;
      await held;
      throw new AppError(ErrorCode.INTERNAL_STAGE, 'the files went away');
    },
    giveUp: async (item) => {
      gaveUp.push(item.id);
    },
  };
  const worker = new Worker({
    queue,
    handlers: [handler],
    clock,
    metrics: new Metrics(),
    log: silent,
    workerId: 'slow-worker',
    concurrency: 1,
    leaseMs: 60_000, // its heartbeat (every 20 s of real time) never comes in this test
    pollIntervalMs: 5,
    jobTimeoutMs: 60_000,
  });
  const id = await queue.enqueue(tdb.database.db, {
    kind: 'stolen',
    refId: 'x',
    payload: {},
    maxAttempts: 1,
  });
  assert.ok(id);
  worker.start();
  try {
    await until(() => running, 'the handler to start');
    clock.advance(60_001);
    const taken = await queue.claim('other-worker', 60_000, ['stolen']);
    assert.equal(taken?.id, id);
    release();
    await until(() => worker.activeCount === 0, 'the first try to end');
    assert.deepEqual(gaveUp, [], 'the job was not given up by the worker that lost it');
    const item = await queue.get(id);
    assert.equal(item?.state, 'active');
    assert.equal(item?.worker_id, 'other-worker');
  } finally {
    release();
    await worker.stop(1000);
  }
});
