import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { openDatabase, type Database } from '../../src/repositories/db/connect.ts';

export const PG_URL = process.env.DHS_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

export interface TestDatabase {
  database: Database;
  /** For a runtime: DHS_DATABASE_URL and the schema to use. */
  url: string | undefined;
  pgSchema: string | undefined;
  dataDir: string;
  cleanup(): Promise<void>;
}

/** Can this machine reach the test PostgreSQL? Under CI it must: a missing server fails the run. */
export async function postgresAvailable(): Promise<boolean> {
  const client = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    await client.query('select 1');
    return true;
  } catch (err) {
    if (process.env.CI) throw new Error(`PostgreSQL at ${PG_URL} is required under CI: ${String(err)}`);
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

export function tempDir(prefix = 'dhs-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** A fresh SQLite file, or a fresh PostgreSQL schema dropped afterwards. */
export async function openTestDatabase(kind: 'sqlite' | 'postgres'): Promise<TestDatabase> {
  const dataDir = tempDir();
  if (kind === 'sqlite') {
    const database = await openDatabase({ url: undefined, dataDir });
    return {
      database,
      url: undefined,
      pgSchema: undefined,
      dataDir,
      async cleanup() {
        await database.close();
        rmSync(dataDir, { recursive: true, force: true });
      },
    };
  }
  const schema = `t_${process.pid}_${Math.random().toString(36).slice(2, 10)}`;
  const database = await openDatabase({ url: PG_URL, dataDir, pgSchema: schema });
  return {
    database,
    url: PG_URL,
    pgSchema: schema,
    dataDir,
    async cleanup() {
      await database.close();
      const c = new pg.Client({ connectionString: PG_URL });
      await c.connect();
      await c.query(`drop schema if exists ${schema} cascade`);
      await c.end();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
