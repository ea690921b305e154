import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { openTestDatabase, type TestDatabase } from '../../test/helpers/db.ts';
import { AppError, ErrorCode } from '../domain/errors.ts';
import { Metrics } from '../metrics.ts';
import { ManualClock } from '../repositories/clock.ts';
import { QueueRepository } from '../repositories/queue.repository.ts';
import { cryptoRandom } from '../repositories/random.ts';
import { Worker, type JobHandler } from './worker.ts';

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

async function until(fn: () => Promise<boolean> | boolean, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!(await fn())) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

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
