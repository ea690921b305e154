import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import SQLite from 'better-sqlite3';
import { Kysely, Migrator, PostgresDialect, SqliteDialect, sql } from 'kysely';
import pg from 'pg';
import { migrationProvider } from './migrations.ts';
import type { DB } from './schema.ts';

export type Dialect = 'sqlite' | 'postgres';

/** One database handle: Kysely plus what the repositories need to know about the backend. */
export interface Database {
  readonly db: Kysely<DB>;
  readonly dialect: Dialect;
  /**
   * Runs `fn` in one transaction. SQLite: BEGIN IMMEDIATE, so the write lock is taken up front and two
   * processes never deadlock upgrading a read lock. PostgreSQL: READ COMMITTED; repositories take row
   * locks (UPDATE first, or FOR UPDATE SKIP LOCKED) where order matters.
   */
  tx<T>(fn: (trx: Kysely<DB>) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

// int8 (bigint) columns hold Unix ms and points, all far below 2^53: read them as numbers.
pg.types.setTypeParser(20, (v) => Number.parseInt(v, 10));

export interface OpenOptions {
  /** postgres://... or sqlite:<file>; undefined: <dataDir>/dhs.sqlite */
  url: string | undefined;
  dataDir: string;
  /** PostgreSQL only: schema to create and use (tests isolate themselves with it). */
  pgSchema?: string;
  pgPoolSize?: number;
}

export async function openDatabase(opts: OpenOptions): Promise<Database> {
  const database =
    opts.url !== undefined && /^postgres(ql)?:/.test(opts.url)
      ? await openPostgres(opts.url, opts.pgSchema, opts.pgPoolSize ?? 10)
      : openSqlite(
          opts.url?.startsWith('sqlite:')
            ? opts.url.slice('sqlite:'.length)
            : join(opts.dataDir, 'dhs.sqlite'),
        );
  await migrate(database.db);
  return database;
}

function openSqlite(file: string): Database {
  if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true });
  const raw = new SQLite(file);
  raw.pragma('journal_mode = WAL');
  // FULL: a committed job, reservation or settlement survives power loss, not only a process crash.
  raw.pragma('synchronous = FULL');
  raw.pragma('busy_timeout = 10000');
  raw.pragma('foreign_keys = ON');
  const db = new Kysely<DB>({ dialect: new SqliteDialect({ database: raw }) });
  return {
    db,
    dialect: 'sqlite',
    async tx(fn) {
      return db.connection().execute(async (conn) => {
        await sql`begin immediate`.execute(conn);
        try {
          const result = await fn(conn);
          await sql`commit`.execute(conn);
          return result;
        } catch (err) {
          await sql`rollback`.execute(conn).catch(() => undefined);
          throw err;
        }
      });
    },
    close: () => db.destroy(),
  };
}

async function openPostgres(url: string, schema: string | undefined, poolSize: number): Promise<Database> {
  if (schema !== undefined && !/^[a-z_][a-z0-9_]*$/.test(schema))
    throw new Error(`bad schema name ${schema}`);
  if (schema !== undefined) {
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    try {
      await admin.query(`create schema if not exists ${schema}`);
    } finally {
      await admin.end();
    }
  }
  const pool = new pg.Pool({
    connectionString: url,
    max: poolSize,
    ...(schema === undefined ? {} : { options: `-c search_path=${schema}` }),
  });
  // An idle client's error (server restart) must not crash the process; the pool replaces it.
  pool.on('error', () => undefined);
  const db = new Kysely<DB>({ dialect: new PostgresDialect({ pool }) });
  return {
    db,
    dialect: 'postgres',
    tx: (fn) => db.transaction().execute(fn),
    close: () => db.destroy(),
  };
}

async function migrate(db: Kysely<DB>): Promise<void> {
  const migrator = new Migrator({ db, provider: migrationProvider });
  const { error, results } = await migrator.migrateToLatest();
  const failed = results?.find((r) => r.status === 'Error');
  if (error !== undefined || failed !== undefined) {
    throw new Error(
      `database migration failed${failed ? ` at ${failed.migrationName}` : ''}: ${String(error)}`,
    );
  }
}
