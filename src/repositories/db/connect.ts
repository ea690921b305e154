import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import SQLite from 'better-sqlite3';
import { Kysely, Migrator, SqliteDialect, sql } from 'kysely';
import pg from 'pg';
import { migrationProvider } from './migrations.ts';
import { OneSchemaPostgresDialect } from './pg-introspector.ts';
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
  /**
   * Runs `fn` once what `db` wrote is visible to others: after the commit when `db` is a transaction
   * of `tx` (never, if it rolls back), at once on the plain handle (its statements commit alone).
   */
  afterCommit(db: Kysely<DB>, fn: () => void): void;
  /**
   * PostgreSQL: NOTIFY `channel` from inside `db`'s transaction (delivered at its commit, dropped on
   * rollback), to listeners of this schema only. SQLite: nothing (no other process can be told).
   */
  notify(db: Kysely<DB>, channel: string): Promise<void>;
  /**
   * PostgreSQL: LISTEN on `channel` on a connection of its own, calling `onNotify` for each
   * notification of this schema, and once after every reconnect (one may have been missed while
   * down). Never throws: a failed connection is retried in the background and reported to `onError`.
   * SQLite: nothing to listen to.
   */
  listen(
    channel: string,
    onNotify: () => void,
    onError?: (err: unknown) => void,
  ): Promise<{ close(): Promise<void> }>;
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
  // Several processes may start at once: each migrates under a lock (PostgreSQL: an advisory lock;
  // SQLite: the database's write lock), so one migrates and the others find nothing left to do.
  if (opts.url !== undefined && /^postgres(ql)?:/.test(opts.url))
    return openPostgres(opts.url, opts.pgSchema, opts.pgPoolSize ?? 10);
  const database = openSqlite(
    opts.url?.startsWith('sqlite:') ? opts.url.slice('sqlite:'.length) : join(opts.dataDir, 'dhs.sqlite'),
  );
  try {
    await migrateSqlite(database.db);
  } catch (err) {
    await database.close().catch(() => undefined);
    throw err;
  }
  return database;
}

/**
 * Kysely's Migrator takes no lock on SQLite (it assumes one process) and runs each migration outside a
 * transaction. Run it all inside one BEGIN IMMEDIATE on the single connection instead: a second process
 * waits (busy_timeout) for the first to finish, then finds every migration applied; and a crash
 * mid-migration leaves no half-made schema (SQLite's DDL is transactional).
 */
async function migrateSqlite(db: Kysely<DB>): Promise<void> {
  await db.connection().execute(async (conn) => {
    await sql`begin immediate`.execute(conn);
    try {
      await migrate(conn);
      await sql`commit`.execute(conn);
    } catch (err) {
      await sql`rollback`.execute(conn).catch(() => undefined);
      throw err;
    }
  });
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
  const hooks = new CommitHooks();
  return {
    db,
    dialect: 'sqlite',
    async tx(fn) {
      return hooks.around(
        (body) =>
          db.connection().execute(async (conn) => {
            await sql`begin immediate`.execute(conn);
            try {
              const result = await body(conn);
              await sql`commit`.execute(conn);
              return result;
            } catch (err) {
              await sql`rollback`.execute(conn).catch(() => undefined);
              throw err;
            }
          }),
        fn,
      );
    },
    afterCommit: (trx, fn) => hooks.add(trx, fn),
    notify: async () => undefined,
    listen: async () => ({ close: async () => undefined }),
    close: () => db.destroy(),
  };
}

/**
 * Callbacks to run after a transaction of `tx` commits, kept per transaction handle (a WeakMap, so a
 * handle that is gone takes its list with it).
 */
class CommitHooks {
  private readonly pending = new WeakMap<Kysely<DB>, Array<() => void>>();

  /** Runs `fn` in the transaction `open` starts, then the callbacks registered for it. */
  async around<T>(
    open: (body: (trx: Kysely<DB>) => Promise<T>) => Promise<T>,
    fn: (trx: Kysely<DB>) => Promise<T>,
  ): Promise<T> {
    const hooks: Array<() => void> = [];
    const result = await open(async (trx) => {
      this.pending.set(trx, hooks);
      try {
        return await fn(trx);
      } finally {
        this.pending.delete(trx);
      }
    });
    for (const hook of hooks) {
      try {
        hook();
      } catch {
        // a listener's failure is not the committed transaction's
      }
    }
    return result;
  }

  add(db: Kysely<DB>, fn: () => void): void {
    const hooks = this.pending.get(db);
    if (hooks === undefined) fn();
    else hooks.push(fn);
  }
}

/**
 * The advisory lock key (two int4 halves) of the migrations: "dhs" and a hash of the schema. Every
 * process that starts takes it around creating its schema and migrating, so when several start
 * together one migrates and the others then find nothing left to do. Kysely's Migrator takes its own
 * transaction-level lock too, but only after creating its bookkeeping tables, and `create schema if
 * not exists` run at the same instant by two sessions can fail on the catalog's unique index.
 */
const MIGRATION_LOCK_CLASS = 0x64687300;

async function openPostgres(url: string, schema: string | undefined, poolSize: number): Promise<Database> {
  if (schema !== undefined && !/^[a-z_][a-z0-9_]*$/.test(schema))
    throw new Error(`bad schema name ${schema}`);
  const searchPath = schema === undefined ? {} : { options: `-c search_path=${schema}` };
  // A session lock on a connection of its own: released when that connection ends, even if this
  // process dies while migrating.
  const lock = new pg.Client({ connectionString: url, ...searchPath });
  await lock.connect();
  const pool = new pg.Pool({ connectionString: url, max: poolSize, ...searchPath });
  // An idle client's error (server restart) must not crash the process; the pool replaces it.
  pool.on('error', () => undefined);
  const db = new Kysely<DB>({ dialect: new OneSchemaPostgresDialect({ pool }, schema) });
  try {
    await lock.query("select pg_advisory_lock($1, hashtext(coalesce($2, current_schema(), '')))", [
      MIGRATION_LOCK_CLASS,
      schema ?? null,
    ]);
    if (schema !== undefined) await lock.query(`create schema if not exists ${schema}`);
    // Kysely looks for its bookkeeping tables in every schema unless told which: with another schema
    // of the database already migrated (another install, a test running alongside) it would skip
    // creating its own and fail. Name the one this process uses.
    const current =
      schema ?? (await lock.query<{ s: string | null }>('select current_schema() as s')).rows[0]?.s;
    await migrate(db, current ?? undefined);
  } catch (err) {
    await db.destroy().catch(() => undefined);
    throw err;
  } finally {
    await lock.end().catch(() => undefined);
  }
  const hooks = new CommitHooks();
  return {
    db,
    dialect: 'postgres',
    tx: (fn) => hooks.around((body) => db.transaction().execute(body), fn),
    afterCommit: (trx, fn) => hooks.add(trx, fn),
    async notify(trx, channel) {
      // the payload names the schema: listeners of other schemas (tests, a second install on the same
      // database) ignore it. Inside a transaction PostgreSQL delivers it at commit, or never.
      await sql`select pg_notify(${channel}, current_schema())`.execute(trx);
    },
    listen: (channel, onNotify, onError) =>
      listenPostgres({
        url,
        // named, so an operator (or a test) can tell the listeners apart in pg_stat_activity
        config: { ...searchPath, application_name: `dhs-listen${schema === undefined ? '' : `:${schema}`}` },
        channel,
        onNotify,
        onError: onError ?? (() => undefined),
      }),
    close: () => db.destroy(),
  };
}

/**
 * A LISTEN connection that stays up: when it drops (server restart, network) it is opened again after
 * a backoff of 0.5 s doubling to 30 s, and `onNotify` is called once it is back, since notifications
 * sent meanwhile are lost. Callers poll as well, so a listener that is down only costs latency.
 */
async function listenPostgres(o: {
  url: string;
  config: { options?: string; application_name: string };
  channel: string;
  onNotify: () => void;
  onError: (err: unknown) => void;
}): Promise<{ close(): Promise<void> }> {
  let client: pg.Client | null = null;
  let closed = false;
  let timer: NodeJS.Timeout | undefined;
  let delayMs = 500;

  const open = async (): Promise<void> => {
    const c = new pg.Client({ connectionString: o.url, keepAlive: true, ...o.config });
    c.on('error', (err) => o.onError(err)); // 'end' follows and reconnects
    c.on('end', () => {
      if (client !== c) return;
      client = null;
      retry();
    });
    try {
      await c.connect();
      const { rows } = await c.query<{ schema: string | null }>('select current_schema() as schema');
      const mine = rows[0]?.schema ?? '';
      c.on('notification', (n) => {
        if (n.channel === o.channel && (n.payload ?? '') === mine) o.onNotify();
      });
      await c.query(`listen ${c.escapeIdentifier(o.channel)}`);
    } catch (err) {
      await c.end().catch(() => undefined);
      throw err;
    }
    if (closed) {
      await c.end().catch(() => undefined);
      return;
    }
    client = c;
    delayMs = 500;
  };
  const retry = (): void => {
    if (closed) return;
    timer = setTimeout(() => {
      open()
        .then(() => {
          if (!closed) o.onNotify();
        })
        .catch((err: unknown) => {
          o.onError(err);
          delayMs = Math.min(30_000, delayMs * 2);
          retry();
        });
    }, delayMs);
    timer.unref();
  };

  await open().catch((err: unknown) => {
    o.onError(err);
    retry();
  });
  return {
    async close() {
      closed = true;
      clearTimeout(timer);
      const c = client;
      client = null;
      await c?.end().catch(() => undefined);
    },
  };
}

async function migrate(db: Kysely<DB>, migrationTableSchema?: string): Promise<void> {
  const migrator = new Migrator({
    db,
    provider: migrationProvider,
    ...(migrationTableSchema === undefined ? {} : { migrationTableSchema }),
  });
  const { error, results } = await migrator.migrateToLatest();
  const failed = results?.find((r) => r.status === 'Error');
  if (error !== undefined || failed !== undefined) {
    throw new Error(
      `database migration failed${failed ? ` at ${failed.migrationName}` : ''}: ${String(error)}`,
    );
  }
}
