import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import SQLite from 'better-sqlite3';
import pg from 'pg';
import { openDatabase } from '../src/repositories/db/connect.ts';
import { migrationProvider } from '../src/repositories/db/migrations.ts';
import { PG_URL, postgresAvailable, tempDir } from './helpers/db.ts';

/**
 * Several processes starting together on a fresh database (API processes and workers after a
 * deployment): every one opens it without error, and the schema is made once.
 */

const root = join(import.meta.dirname, '..');
const migrationNames = Object.keys(await migrationProvider.getMigrations()).sort();
const pgSkip = (await postgresAvailable()) ? false : 'no PostgreSQL at DHS_TEST_DATABASE_URL';

async function pgTables(admin: pg.Client, schema: string): Promise<string[]> {
  const { rows } = await admin.query<{ name: string }>(
    `select table_name as name from information_schema.tables where table_schema = $1 order by 1`,
    [schema],
  );
  return rows.map((r) => r.name);
}

describe('migrations when several processes start at once', () => {
  test(
    'PostgreSQL: 8 connections migrate one fresh schema together: no error, one set of tables',
    {
      skip: pgSkip,
    },
    async () => {
      const tag = `${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
      const schema = `t_${tag}_together`;
      const alone = `t_${tag}_alone`;
      const dataDir = tempDir();
      const admin = new pg.Client({ connectionString: PG_URL });
      await admin.connect();
      try {
        const opened = await Promise.allSettled(
          Array.from({ length: 8 }, () =>
            openDatabase({ url: PG_URL, dataDir, pgSchema: schema, pgPoolSize: 2 }),
          ),
        );
        const failed = opened.filter((r) => r.status === 'rejected');
        assert.deepEqual(
          failed.map((r) => String(r.reason)),
          [],
          'every process opens the database',
        );
        for (const r of opened) if (r.status === 'fulfilled') await r.value.close();

        const applied = await admin.query<{ name: string }>(
          `select name from ${schema}.kysely_migration order by name`,
        );
        assert.deepEqual(
          applied.rows.map((r) => r.name),
          migrationNames,
          'each migration recorded once',
        );
        // the same tables as a schema migrated by one process alone
        const reference = await openDatabase({ url: PG_URL, dataDir, pgSchema: alone });
        await reference.close();
        const tables = await pgTables(admin, schema);
        assert.ok(tables.includes('jobs') && tables.includes('queue'), tables.join(', '));
        assert.deepEqual(tables, await pgTables(admin, alone));
      } finally {
        await admin.query(`drop schema if exists ${schema} cascade`);
        await admin.query(`drop schema if exists ${alone} cascade`);
        await admin.end();
        rmSync(dataDir, { recursive: true, force: true });
      }
    },
  );

  test(
    'PostgreSQL: other schemas made and dropped all the while (other installs, tests) do not fail a migration',
    { skip: pgSkip },
    async () => {
      const tag = `${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
      const dataDir = tempDir();
      const admin = new pg.Client({ connectionString: PG_URL });
      await admin.connect();
      let churning = true;
      // a neighbour that keeps making and dropping a schema with a serial column, as the tests do
      const churn = (async () => {
        for (let i = 0; churning; i++) {
          const other = `t_${tag}_churn${i % 4}`;
          await admin.query(`create schema if not exists ${other}`);
          await admin.query(`create table if not exists ${other}.t (id serial primary key, v text)`);
          await admin.query(`drop schema ${other} cascade`);
        }
      })();
      const schemas: string[] = [];
      try {
        for (let round = 0; round < 6; round++) {
          const schema = `t_${tag}_m${round}`;
          schemas.push(schema);
          const opened = await Promise.allSettled(
            Array.from({ length: 3 }, () =>
              openDatabase({ url: PG_URL, dataDir, pgSchema: schema, pgPoolSize: 1 }),
            ),
          );
          for (const r of opened) if (r.status === 'fulfilled') await r.value.close();
          assert.deepEqual(
            opened.filter((r) => r.status === 'rejected').map((r) => String(r.reason)),
            [],
            `round ${round}: every process opens the database`,
          );
        }
      } finally {
        churning = false;
        await churn;
        for (const s of schemas) await admin.query(`drop schema if exists ${s} cascade`);
        for (let i = 0; i < 4; i++) await admin.query(`drop schema if exists t_${tag}_churn${i} cascade`);
        await admin.end();
        rmSync(dataDir, { recursive: true, force: true });
      }
    },
  );

  test('SQLite: 4 processes open one fresh file together: no error, each migration applied once', async () => {
    const dataDir = tempDir();
    const file = join(dataDir, 'together.sqlite');
    const script = `
      const { openDatabase } = await import(${JSON.stringify(join(root, 'src/repositories/db/connect.ts'))});
      const db = await openDatabase({ url: ${JSON.stringify(`sqlite:${file}`)}, dataDir: ${JSON.stringify(dataDir)} });
      await db.close();
    `;
    try {
      const runs = await Promise.all(
        Array.from(
          { length: 4 },
          () =>
            new Promise<{ code: number | null; stderr: string }>((resolve) => {
              const child = spawn(
                process.execPath,
                ['--import', 'tsx', '--input-type=module', '-e', script],
                {
                  cwd: root,
                  stdio: ['ignore', 'ignore', 'pipe'],
                },
              );
              let stderr = '';
              child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
              child.on('exit', (code) => resolve({ code, stderr }));
            }),
        ),
      );
      assert.deepEqual(
        runs.map((r) => r.code),
        [0, 0, 0, 0],
        runs.map((r) => r.stderr).join('\n'),
      );
      const raw = new SQLite(file, { readonly: true });
      try {
        const applied = raw.prepare('select name from kysely_migration order by name').all() as Array<{
          name: string;
        }>;
        assert.deepEqual(
          applied.map((r) => r.name),
          migrationNames,
        );
      } finally {
        raw.close();
      }
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
