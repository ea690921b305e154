import { sql, type SelectQueryBuilder } from 'kysely';

/** Tables the account lists page through: newest first, by creation time then id. */
type Listed = 'jobs' | 'voices' | 'ledger';

/**
 * One page (1-based, `size` rows) of a filtered query of a listed table, newest first, with the
 * count of all rows the filter matches (the lists' `total`).
 */
export async function newestFirstPage<DB, TB extends Listed & keyof DB, Row>(
  filtered: SelectQueryBuilder<DB, TB, object>,
  page: number,
  size: number,
  rows: (q: SelectQueryBuilder<DB, TB, object>) => SelectQueryBuilder<DB, TB, Row>,
): Promise<{ total: number; list: Row[] }> {
  const totalRow = (await filtered.select(sql<number>`count(*)`.as('n')).executeTakeFirst()) as
    { n?: number | string | bigint } | undefined;
  const list = await rows(filtered)
    .orderBy(sql`created_at`, 'desc')
    .orderBy(sql`id`, 'desc')
    .limit(size)
    .offset((page - 1) * size)
    .execute();
  return { total: Number(totalRow?.n ?? 0), list };
}
