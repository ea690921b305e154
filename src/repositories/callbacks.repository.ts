import type { Selectable } from 'kysely';
import type { Clock } from './clock.ts';
import type { Database } from './db/connect.ts';
import type { CallbackDeliveriesTable } from './db/schema.ts';
import { newId, type RandomSource } from './random.ts';

export type CallbackDelivery = Selectable<CallbackDeliveriesTable>;

/** The record of every callback delivery attempt (what was answered, or why nothing was). */
export class CallbacksRepository {
  constructor(
    private readonly database: Database,
    private readonly clock: Clock,
    private readonly random: RandomSource,
  ) {}

  async record(d: {
    queueId: string;
    refId: string;
    url: string;
    attempt: number;
    httpStatus: number | null;
    error: string;
    durationMs: number;
  }): Promise<void> {
    await this.database.db
      .insertInto('callback_deliveries')
      .values({
        id: newId(this.random, 'd_'),
        queue_id: d.queueId,
        ref_id: d.refId,
        url: d.url,
        attempt: d.attempt,
        http_status: d.httpStatus,
        error: d.error.slice(0, 1000),
        duration_ms: d.durationMs,
        created_at: this.clock.now(),
      })
      .execute();
  }

  /**
   * Deletes up to `limit` delivery records made before `before`, oldest first; returns how many went.
   * Records of a callback still queued or being delivered stay, however old, so its history is whole
   * while it can still change. The caller repeats until fewer than `limit` go.
   */
  async deleteOlderThan(before: number, limit: number): Promise<number> {
    const db = this.database.db;
    const oldest = db
      .selectFrom('callback_deliveries as d')
      .select('d.id')
      .where('d.created_at', '<', before)
      .where(({ not, exists, selectFrom }) =>
        not(
          exists(
            selectFrom('queue as q')
              .select('q.id')
              .whereRef('q.id', '=', 'd.queue_id')
              .where('q.state', 'in', ['queued', 'active']),
          ),
        ),
      )
      .orderBy('d.created_at')
      .limit(limit);
    const res = await db.deleteFrom('callback_deliveries').where('id', 'in', oldest).executeTakeFirst();
    return Number(res.numDeletedRows);
  }

  async forRef(refId: string): Promise<CallbackDelivery[]> {
    return this.database.db
      .selectFrom('callback_deliveries')
      .selectAll()
      .where('ref_id', '=', refId)
      .orderBy('created_at')
      .orderBy('attempt')
      .execute();
  }
}
