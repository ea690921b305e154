/**
 * `dhs migrate-storage`: moves a single-box install (SQLite file + blobs on local disk) to the shared
 * setup (PostgreSQL + an object store), or between any two of them. Rows are copied table by table in
 * key order with "insert, or leave the existing row", blobs file by file unless the target already
 * holds one of the same size: so it can be run twice, or again after an interruption, safely. Run it
 * with the single box stopped (a job running during the copy would be copied half way).
 */
import { copyFile, mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative, sep } from 'node:path';
import type { Kysely } from 'kysely';
import type { Database } from './repositories/db/connect.ts';
import type { DB } from './repositories/db/schema.ts';
import type { BlobStore } from './repositories/blobs.ts';

/** Tables with their key column, parents before children (foreign keys hold at every step). */
const TABLES: ReadonlyArray<[keyof DB, string]> = [
  ['accounts', 'id'],
  ['tokens', 'token_hash'],
  ['token_signs', 'sign_hash'],
  ['voices', 'id'],
  ['voice_trainings', 'id'],
  ['jobs', 'id'],
  ['ledger', 'id'],
  ['queue', 'id'],
  ['callback_deliveries', 'id'],
  ['avatars', 'id'],
  ['uploads', 'key'],
];

const PAGE = 500;

type AnyTables = Kysely<Record<string, Record<string, unknown>>>;

export interface MigrationReport {
  rows: Record<string, { read: number; inserted: number }>;
  blobs: { copied: number; skipped: number; bytes: number };
}

export async function migrateStorage(o: {
  source: Database;
  target: Database;
  /** The single box's blob folder (`$DHS_DATA_DIR/blobs`). */
  sourceBlobDir: string;
  targetBlobs: BlobStore;
  log: (what: string) => void;
}): Promise<MigrationReport> {
  const report: MigrationReport = { rows: {}, blobs: { copied: 0, skipped: 0, bytes: 0 } };
  for (const [table, key] of TABLES) {
    report.rows[table] = await copyTable(o.source, o.target, table, key);
    const r = report.rows[table];
    o.log(`${table}: ${r?.read ?? 0} rows read, ${r?.inserted ?? 0} new`);
  }
  await copyBlobs(o.sourceBlobDir, o.targetBlobs, report.blobs);
  o.log(
    `blobs: ${report.blobs.copied} copied (${report.blobs.bytes} bytes), ${report.blobs.skipped} already there`,
  );
  return report;
}

async function copyTable(
  source: Database,
  target: Database,
  table: keyof DB,
  key: string,
): Promise<{ read: number; inserted: number }> {
  // The tables differ in shape; rows travel as they are between two databases of one schema.
  const from = source.db as unknown as AnyTables;
  const to = target.db as unknown as AnyTables;
  let after: unknown = null;
  let read = 0;
  let inserted = 0;
  for (;;) {
    let q = from.selectFrom(table).selectAll().orderBy(key).limit(PAGE);
    if (after !== null) q = q.where(key, '>', after);
    const rows = await q.execute();
    if (rows.length === 0) break;
    read += rows.length;
    const res = await to
      .insertInto(table)
      .values(rows)
      .onConflict((oc) => oc.doNothing())
      .executeTakeFirst();
    inserted += Number(res.numInsertedOrUpdatedRows ?? 0);
    after = rows[rows.length - 1]?.[key] ?? null;
    if (rows.length < PAGE) break;
  }
  return { read, inserted };
}

async function copyBlobs(root: string, target: BlobStore, counts: MigrationReport['blobs']): Promise<void> {
  const scratch = await mkdtemp(join(tmpdir(), 'dhs-migrate-'));
  try {
    for await (const file of walk(root)) {
      const key = relative(root, file).split(sep).join('/');
      if (key.includes('.tmp-')) continue; // a write the old server never finished
      const size = (await stat(file)).size;
      const there = await target.stat(key);
      if (there !== null && there.size === size) {
        counts.skipped++;
        continue;
      }
      // the store takes ownership of the file it is given: hand it a copy, the source stays intact
      const copy = join(scratch, 'blob');
      await copyFile(file, copy);
      await target.put(key, copy);
      await rm(copy, { force: true });
      counts.copied++;
      counts.bytes += size;
    }
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

async function* walk(dir: string): AsyncGenerator<string> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  for (const e of entries.sort((a, b) => a.name.localeCompare(b.name))) {
    const full = join(dir, e.name);
    if (e.isDirectory()) yield* walk(full);
    else if (e.isFile()) yield full;
  }
}
