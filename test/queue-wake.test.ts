import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import pg from 'pg';
import { Worker, type JobHandler } from '../src/jobs/worker.ts';
import { Metrics } from '../src/metrics.ts';
import { systemClock } from '../src/repositories/clock.ts';
import { openDatabase, type Database } from '../src/repositories/db/connect.ts';
import { QueueRepository, type QueueItem } from '../src/repositories/queue.repository.ts';
import { cryptoRandom } from '../src/repositories/random.ts';
import { openTestDatabase, PG_URL, postgresAvailable, type TestDatabase } from './helpers/db.ts';

/**
 * Workers wake when an item is due instead of at their next poll: on PostgreSQL through LISTEN/NOTIFY
 * (any process's submission), on SQLite within the process. Each worker here polls every 10 s, so an
 * item taken within a couple of seconds was taken because of the wake-up. The test waits until the
 * worker has looked, found nothing and gone idle before each submission, so the pick-up cannot be the
 * worker's own next look.
 */

const POLL_MS = 10_000;
/** Far below the poll interval, far above a wake-up on a busy machine. */
const WAKE_BOUND_MS = 3000;
const silent = { info() {}, warn() {}, error() {}, debug() {} };

/** The queue as a worker sees it, counting the claims that found nothing (the worker then idles). */
class CountingQueue extends QueueRepository {
  emptyClaims = 0;
  override async claim(
    workerId: string,
    leaseMs: number,
    kinds?: readonly string[],
  ): Promise<QueueItem | null> {
    const item = await super.claim(workerId, leaseMs, kinds);
    if (item === null) this.emptyClaims++;
    return item;
  }
}

async function until<T>(
  fn: () => Promise<T | undefined> | T | undefined,
  what: string,
  ms = 10_000,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

function sleepyWorker(queue: QueueRepository, started: Map<string, number>): Worker {
  const handler: JobHandler = {
    kind: 'wake-test',
    run: async ({ item }) => {
      started.set(item.ref_id, Date.now());
    },
    giveUp: async () => undefined,
  };
  return new Worker({
    queue,
    handlers: [handler],
    clock: systemClock,
    metrics: new Metrics(),
    log: silent,
    workerId: `wake-${process.pid}`,
    concurrency: 1,
    leaseMs: 60_000,
    pollIntervalMs: POLL_MS,
    jobTimeoutMs: 60_000,
  });
}

/**
 * Submits `ref` through `submit` once the worker is idle, and returns how long it took to start.
 * `idleClaims`: the empty claims the worker has made once idle now (one at start, one after each item,
 * one after each wake-up that found nothing).
 */
async function pickUpTime(
  o: { queue: CountingQueue; started: Map<string, number> },
  idleClaims: number,
  ref: string,
  submit: (ref: string) => Promise<unknown>,
): Promise<number> {
  await until(() => (o.queue.emptyClaims >= idleClaims ? true : undefined), 'the worker to go idle');
  const t0 = Date.now();
  await submit(ref);
  const at = await until(() => o.started.get(ref), `${ref} to start`, POLL_MS * 2);
  return at - t0;
}

function enqueue(queue: QueueRepository, database: Database, ref: string, inTransaction: boolean) {
  const input = { kind: 'wake-test', refId: ref, payload: {}, maxAttempts: 1 };
  return inTransaction ? database.tx((trx) => queue.enqueue(trx, input)) : queue.enqueue(database.db, input);
}

const pgSkip = (await postgresAvailable()) ? false : 'no PostgreSQL at DHS_TEST_DATABASE_URL';

describe('queue wake-ups', () => {
  test(
    'PostgreSQL: another process enqueues, a worker polling every 10 s starts it at once (NOTIFY)',
    {
      skip: pgSkip,
    },
    async () => {
      const tdb: TestDatabase = await openTestDatabase('postgres');
      // another process's database handle: its own pool on the same schema
      const other = await openDatabase({ url: tdb.url, dataDir: tdb.dataDir, pgSchema: tdb.pgSchema! });
      const otherQueue = new QueueRepository(other, systemClock, cryptoRandom);
      const queue = new CountingQueue(tdb.database, systemClock, cryptoRandom);
      const started = new Map<string, number>();
      const worker = sleepyWorker(queue, started);
      const admin = new pg.Client({ connectionString: PG_URL });
      await admin.connect();
      try {
        worker.start();
        await worker.listening();
        const o = { queue, started };
        // in the submitting transaction (delivered at commit), and a lone statement
        const inTx = await pickUpTime(o, 1, 'tx', (ref) => enqueue(otherQueue, other, ref, true));
        const plain = await pickUpTime(o, 2, 'plain', (ref) => enqueue(otherQueue, other, ref, false));
        assert.ok(inTx < WAKE_BOUND_MS, `picked up after ${inTx} ms (polling every ${POLL_MS} ms)`);
        assert.ok(plain < WAKE_BOUND_MS, `picked up after ${plain} ms (polling every ${POLL_MS} ms)`);

        // the listening connection drops (server restart, network): it comes back, and wakes still work
        const appName = `dhs-listen:${tdb.pgSchema}`;
        const listenerPid = async () => {
          const { rows } = await admin.query<{ pid: number }>(
            `select pid from pg_stat_activity where application_name = $1 and query ilike 'listen%'`,
            [appName],
          );
          return rows[0]?.pid;
        };
        const before = await until(listenerPid, 'the listener');
        await admin.query('select pg_terminate_backend($1)', [before]);
        await until(async () => {
          const pid = await listenerPid();
          return pid !== undefined && pid !== before ? pid : undefined;
        }, 'the listener to reconnect');
        // the reconnect wakes the worker once (a notification may have been missed), then it idles again
        const afterReconnect = await pickUpTime(o, 4, 'after-reconnect', (ref) =>
          enqueue(otherQueue, other, ref, true),
        );
        assert.ok(afterReconnect < WAKE_BOUND_MS, `picked up after ${afterReconnect} ms after a reconnect`);
      } finally {
        await worker.stop(1000);
        await admin.end();
        await other.close();
        await tdb.cleanup();
      }
    },
  );

  test(
    'PostgreSQL: a rolled-back submission wakes nobody and leaves nothing to take',
    { skip: pgSkip },
    async () => {
      const tdb = await openTestDatabase('postgres');
      const queue = new QueueRepository(tdb.database, systemClock, cryptoRandom);
      let wakes = 0;
      const stop = await queue.listen(() => wakes++);
      try {
        await assert.rejects(
          tdb.database.tx(async (trx) => {
            await queue.enqueue(trx, {
              kind: 'wake-test',
              refId: 'rolled-back',
              payload: {},
              maxAttempts: 1,
            });
            throw new Error('the submission fails after enqueueing');
          }),
        );
        // a committed one afterwards: its wake-up arrives, and none came before it
        await tdb.database.tx((trx) =>
          queue.enqueue(trx, { kind: 'wake-test', refId: 'committed', payload: {}, maxAttempts: 1 }),
        );
        await until(() => (wakes >= 2 ? true : undefined), 'the committed submission to wake the listener');
        // two wake-ups for the committed one (this process's, and the NOTIFY), none for the rolled back
        assert.equal(wakes, 2);
        assert.equal((await queue.listByRef('rolled-back')).length, 0);
        assert.equal((await queue.listByRef('committed')).length, 1);
      } finally {
        await stop();
        await tdb.cleanup();
      }
    },
  );

  test('SQLite: a submission in this process wakes its worker at once', async () => {
    const tdb = await openTestDatabase('sqlite');
    const queue = new CountingQueue(tdb.database, systemClock, cryptoRandom);
    const started = new Map<string, number>();
    const worker = sleepyWorker(queue, started);
    try {
      worker.start();
      await worker.listening();
      const o = { queue, started };
      const inTx = await pickUpTime(o, 1, 'tx', (ref) => enqueue(queue, tdb.database, ref, true));
      const plain = await pickUpTime(o, 2, 'plain', (ref) => enqueue(queue, tdb.database, ref, false));
      assert.ok(inTx < WAKE_BOUND_MS, `picked up after ${inTx} ms (polling every ${POLL_MS} ms)`);
      assert.ok(plain < WAKE_BOUND_MS, `picked up after ${plain} ms (polling every ${POLL_MS} ms)`);
    } finally {
      await worker.stop(1000);
      await tdb.cleanup();
    }
  });
});
