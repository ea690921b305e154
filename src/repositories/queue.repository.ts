import type { Kysely, Selectable } from 'kysely';
import {
  CALLBACK_MAX_ATTEMPTS,
  callbackMessageId,
  type CallbackPayload,
  type CallbackRequest,
} from '../domain/callbacks.ts';
import { QueueKind } from '../domain/jobs.ts';
import type { Clock } from './clock.ts';
import type { Database } from './db/connect.ts';
import type { DB, QueueTable } from './db/schema.ts';
import { newId, type RandomSource } from './random.ts';

export type QueueItem = Selectable<QueueTable>;
export type QueueState = 'queued' | 'active' | 'done' | 'failed';
/** States an item never leaves (only the retention sweep deletes it). */
const FINISHED_STATES: readonly QueueState[] = ['done', 'failed'];
/**
 * Callbacks' lane: they are claimed before every other due item. A callback is one short POST (10 s
 * timeout) that a customer is waiting on; a render can take minutes. Putting them first costs a render
 * at most that one POST, while the other way round one account's renders would hold every account's
 * notifications. The worker also keeps one slot for callbacks alone (Worker), so they never wait for
 * a running render to end either.
 */
export const CALLBACK_PRIORITY = 10;

/**
 * The PostgreSQL channel a due item is announced on (NOTIFY in the enqueueing transaction, so it
 * arrives at commit): idle workers in every process wake at once instead of at their next poll.
 */
export const QUEUE_CHANNEL = 'dhs_queue';

export interface EnqueueInput {
  kind: string;
  refId: string;
  payload: unknown;
  maxAttempts: number;
  runAt?: number;
  priority?: number;
  /** The account the item works for; claims are fair between accounts. Absent: the server's own. */
  accountId?: string;
  /** A second enqueue with the same key is a no-op: effects keyed by job id are never doubled. */
  dedupeKey?: string;
}

/**
 * The durable queue, a table in the same database as the jobs it runs (so a submission and its queue
 * item commit together). At-least-once: a claimed item holds a lease that the worker's heartbeat
 * extends; an item whose lease ran out (worker killed) is claimable again.
 */
export class QueueRepository {
  /** In-process listeners of due items (a worker sharing this process, serve's worker child). */
  private readonly dueListeners = new Set<() => void>();

  constructor(
    private readonly database: Database,
    private readonly clock: Clock,
    private readonly random: RandomSource,
  ) {}

  /**
   * `fn` is called after an item due now was enqueued in this process and committed (or handed back
   * at shutdown). Returns the unsubscribe.
   */
  onDue(fn: () => void): () => void {
    this.dueListeners.add(fn);
    return () => this.dueListeners.delete(fn);
  }

  /**
   * A worker's wake-ups: this process's due items (onDue), and on PostgreSQL those of every process
   * (LISTEN). Polling stays the fallback: a notification lost while the listener reconnects costs at
   * most one poll interval. Returns the stop.
   */
  async listen(onDue: () => void, onError?: (err: unknown) => void): Promise<() => Promise<void>> {
    const off = this.onDue(onDue);
    const listener = await this.database.listen(QUEUE_CHANNEL, onDue, onError);
    return async () => {
      off();
      await listener.close();
    };
  }

  /** Tells listeners here and (PostgreSQL) in other processes, once `db`'s writes are committed. */
  private async announceDue(db: Kysely<DB>): Promise<void> {
    await this.database.notify(db, QUEUE_CHANNEL);
    this.database.afterCommit(db, () => {
      for (const fn of this.dueListeners) fn();
    });
  }

  /** Enqueues inside the caller's transaction (or on its own when `db` is the plain handle). */
  async enqueue(db: Kysely<DB>, input: EnqueueInput): Promise<string | null> {
    const now = this.clock.now();
    const id = newId(this.random, 'q_');
    const res = await db
      .insertInto('queue')
      .values({
        id,
        kind: input.kind,
        ref_id: input.refId,
        payload: JSON.stringify(input.payload),
        state: 'queued',
        priority: input.priority ?? 0,
        attempts: 0,
        max_attempts: input.maxAttempts,
        run_at: input.runAt ?? now,
        lease_until: null,
        worker_id: null,
        last_error: '',
        dedupe_key: input.dedupeKey ?? null,
        account_id: input.accountId ?? '',
        claimed_at: null,
        created_at: now,
        updated_at: now,
        started_at: null,
        finished_at: null,
      })
      .onConflict((oc) => oc.column('dedupe_key').doNothing())
      .executeTakeFirst();
    const inserted = Number(res.numInsertedOrUpdatedRows ?? 0) > 0;
    if (inserted && (input.runAt ?? now) <= now) await this.announceDue(db);
    return inserted ? id : null;
  }

  /**
   * A callback delivery for one event of a resource (a job or training reaching a status): the message
   * id and dedupe key are the event's, so retries reuse the id and the event is never queued twice.
   */
  async enqueueCallback(
    db: Kysely<DB>,
    e: { refId: string; accountId: string; eventKey: string; callback: CallbackRequest },
  ): Promise<void> {
    await this.enqueue(db, {
      kind: QueueKind.CALLBACK,
      refId: e.refId,
      payload: {
        url: e.callback.url,
        body: e.callback.body,
        accountId: e.accountId,
        messageId: callbackMessageId(e.eventKey),
        ...(e.callback.links === undefined ? {} : { links: e.callback.links }),
      } satisfies CallbackPayload,
      maxAttempts: CALLBACK_MAX_ATTEMPTS,
      priority: CALLBACK_PRIORITY,
      accountId: e.accountId,
      dedupeKey: `callback:${e.eventKey}`,
    });
  }

  /**
   * Takes the next due item (queued and due, or active with an expired lease), marks it active with a
   * lease, and counts the attempt. One statement, so two workers never take the same item.
   *
   * Which item is fair between accounts: by priority (callbacks first, CALLBACK_PRIORITY), then
   * round-robin by account: the account whose items a worker took least recently (never: first) goes
   * first, then the oldest due item. So one account with 20 queued jobs gets every other turn, not the
   * next 20. The "least recently" is read from claimed_at (index account_id, claimed_at), which every
   * claim sets. On PostgreSQL two claims at the same instant read the same snapshot, so both may serve
   * the same account once (the second skips the first's locked item and takes that account's next);
   * the turn evens out at the next claim. Exactness is not promised, never taking an item twice is.
   */
  async claim(workerId: string, leaseMs: number, kinds?: readonly string[]): Promise<QueueItem | null> {
    const now = this.clock.now();
    const db = this.database.db;
    let pick = db
      .selectFrom('queue')
      .select('queue.id')
      .where((eb) =>
        eb.or([
          eb.and([eb('queue.state', '=', 'queued'), eb('queue.run_at', '<=', now)]),
          eb.and([eb('queue.state', '=', 'active'), eb('queue.lease_until', '<', now)]),
        ]),
      )
      .orderBy('queue.priority', 'desc')
      .orderBy(
        (eb) =>
          eb.fn.coalesce(
            eb
              .selectFrom('queue as served')
              .select((s) => s.fn.max('served.claimed_at').as('last'))
              .whereRef('served.account_id', '=', 'queue.account_id'),
            eb.lit(0),
          ),
        'asc',
      )
      .orderBy('queue.run_at', 'asc')
      .limit(1);
    if (kinds !== undefined) pick = pick.where('queue.kind', 'in', kinds);
    if (this.database.dialect === 'postgres') pick = pick.forUpdate().skipLocked();
    const row = await db
      .updateTable('queue')
      .set((eb) => ({
        state: 'active',
        worker_id: workerId,
        lease_until: now + leaseMs,
        attempts: eb('attempts', '+', 1),
        started_at: eb.fn.coalesce('started_at', eb.val(now)),
        claimed_at: now,
        updated_at: now,
      }))
      .where('id', '=', pick)
      .returningAll()
      .executeTakeFirst();
    return row ?? null;
  }

  /** Extends the lease; false when the item is no longer this worker's (lease lost). */
  async heartbeat(id: string, workerId: string, leaseMs: number): Promise<boolean> {
    const now = this.clock.now();
    const res = await this.database.db
      .updateTable('queue')
      .set({ lease_until: now + leaseMs, updated_at: now })
      .where('id', '=', id)
      .where('worker_id', '=', workerId)
      .where('state', '=', 'active')
      .executeTakeFirst();
    return Number(res.numUpdatedRows) > 0;
  }

  async complete(id: string, workerId: string): Promise<boolean> {
    return this.finish(id, workerId, { state: 'done', last_error: '' });
  }

  async fail(id: string, workerId: string, error: string): Promise<boolean> {
    return this.finish(id, workerId, { state: 'failed', last_error: error.slice(0, 2000) });
  }

  /** Back to the queue after `delayMs`; the attempt stays counted. */
  async retry(id: string, workerId: string, delayMs: number, error: string): Promise<boolean> {
    return this.requeue(id, workerId, { delayMs, attemptsBack: 0, error: error.slice(0, 2000) });
  }

  /** Graceful shutdown: hand the item back at once, without counting the interrupted attempt. */
  async release(id: string, workerId: string): Promise<boolean> {
    const released = await this.requeue(id, workerId, { delayMs: 0, attemptsBack: 1 });
    // another process's worker may take it now rather than at its next poll
    if (released) await this.announceDue(this.database.db);
    return released;
  }

  private async requeue(
    id: string,
    workerId: string,
    o: { delayMs: number; attemptsBack: number; error?: string },
  ): Promise<boolean> {
    const now = this.clock.now();
    const res = await this.database.db
      .updateTable('queue')
      .set((eb) => ({
        state: 'queued',
        run_at: now + o.delayMs,
        lease_until: null,
        worker_id: null,
        attempts: eb('attempts', '-', o.attemptsBack),
        ...(o.error === undefined ? {} : { last_error: o.error }),
        updated_at: now,
      }))
      .where('id', '=', id)
      .where('worker_id', '=', workerId)
      .where('state', '=', 'active')
      .executeTakeFirst();
    return Number(res.numUpdatedRows) > 0;
  }

  async get(id: string): Promise<QueueItem | null> {
    return (
      (await this.database.db.selectFrom('queue').selectAll().where('id', '=', id).executeTakeFirst()) ?? null
    );
  }

  async listByRef(refId: string): Promise<QueueItem[]> {
    return this.database.db
      .selectFrom('queue')
      .selectAll()
      .where('ref_id', '=', refId)
      .orderBy('created_at')
      .execute();
  }

  /** Items per (kind, state), for /metrics. */
  async countByState(): Promise<Array<{ kind: string; state: string; count: number }>> {
    const rows = await this.database.db
      .selectFrom('queue')
      .select(['kind', 'state', (eb) => eb.fn.countAll<number>().as('count')])
      .groupBy(['kind', 'state'])
      .execute();
    return rows.map((r) => ({ kind: r.kind, state: r.state, count: Number(r.count) }));
  }

  /**
   * Deletes up to `limit` finished items (done or failed) that finished before `before`, oldest first;
   * returns how many went. Queued and active items are never touched (the state is checked in the
   * DELETE itself), and finished states are final, so a claim can never race the deletion. Their
   * dedupe keys go with them: every key is enqueued once, inside the transaction that opens the job,
   * training or final status it belongs to, or is an hour bucket long past (retention), so none comes
   * back. The caller repeats until fewer than `limit` go, so each statement holds its locks briefly.
   */
  async deleteFinished(before: number, limit: number): Promise<number> {
    const db = this.database.db;
    const oldest = db
      .selectFrom('queue')
      .select('id')
      .where('state', 'in', FINISHED_STATES)
      .where('finished_at', '<', before)
      .orderBy('finished_at')
      .limit(limit);
    const res = await db
      .deleteFrom('queue')
      .where('id', 'in', oldest)
      .where('state', 'in', FINISHED_STATES)
      .executeTakeFirst();
    return Number(res.numDeletedRows);
  }

  private async finish(
    id: string,
    workerId: string,
    set: { state: 'done' | 'failed'; last_error: string },
  ): Promise<boolean> {
    const now = this.clock.now();
    const res = await this.database.db
      .updateTable('queue')
      .set({ ...set, lease_until: null, finished_at: now, updated_at: now })
      .where('id', '=', id)
      .where('worker_id', '=', workerId)
      .where('state', '=', 'active')
      .executeTakeFirst();
    return Number(res.numUpdatedRows) > 0;
  }
}
