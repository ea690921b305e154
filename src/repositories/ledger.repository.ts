import type { Selectable } from 'kysely';
import type { Database } from './db/connect.ts';
import { newestFirstPage } from './db/paging.ts';
import type { LedgerTable } from './db/schema.ts';

export type LedgerEntry = Selectable<LedgerTable>;

/** Reads of the ledger: the bill list (seed 5.2) and audits. Writes happen inside money transactions. */
export class LedgerRepository {
  constructor(private readonly database: Database) {}

  /** Charges (settlements of successful jobs), newest first. `page` is 1-based. */
  async charges(
    accountId: string,
    page: number,
    size: number,
  ): Promise<{ total: number; list: LedgerEntry[] }> {
    const filtered = this.database.db
      .selectFrom('ledger')
      .where('account_id', '=', accountId)
      .where('kind', '=', 'settle')
      .where('fee', '>', 0);
    return newestFirstPage(filtered, page, size, (q) => q.selectAll());
  }

  async entriesForJob(jobId: string): Promise<LedgerEntry[]> {
    return this.database.db
      .selectFrom('ledger')
      .selectAll()
      .where('job_id', '=', jobId)
      .orderBy('created_at')
      .execute();
  }

  /** Sum of every entry of an account: always equal to its balance. */
  async sum(accountId: string): Promise<number> {
    const row = await this.database.db
      .selectFrom('ledger')
      .select((eb) => eb.fn.sum<number>('amount').as('s'))
      .where('account_id', '=', accountId)
      .executeTakeFirst();
    return Number(row?.s ?? 0);
  }
}
