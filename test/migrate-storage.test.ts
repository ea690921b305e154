import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { migrateStorage } from '../src/migrate-storage.ts';
import { LocalDiskBlobStore } from '../src/repositories/blobs.ts';
import { jobCallback } from '../src/services/views.ts';
import { openTestDatabase, postgresAvailable, tempDir, type TestDatabase } from './helpers/db.ts';
import { createHarness, type Harness } from './helpers/harness.ts';

/**
 * A single box (SQLite + local blobs) moved to PostgreSQL and another blob store, twice: the second
 * run changes nothing, and the money and the results are all there.
 */
describe('dhs migrate-storage', async () => {
  const havePg = await postgresAvailable();
  let box: Harness;
  let target: TestDatabase;
  let accountId: string;
  let resultKey: string;
  before(async () => {
    box = await createHarness({ env: { DHS_REPEAT_WINDOW_MS: '0' } });
    const c = await box.account({ points: 100, lite: 1 });
    accountId = c.userId;
    const token = await box.tokenFor(c);
    const created = await box.post<{ jobId: string }>('/works/create', { text: 'Hello there.' }, { token });
    assert.equal(created.code, 0);
    await box.post('/voice/lite/train', { audioUrl: 'http://127.0.0.1:9/me.wav' }, { token });
    // a finished work with its result on disk, as the worker leaves it
    resultKey = `results/${'ab'.repeat(16)}/audio.mp3`;
    const file = join(box.dataDir, 'result.mp3');
    writeFileSync(file, Buffer.alloc(4096, 7));
    await box.runtime.blobs.put(resultKey, file);
    const account = await box.runtime.accounts.findById(c.userId);
    assert.ok(account);
    await box.runtime.jobs.complete(
      created.data.jobId,
      { resultUrl: box.runtime.blobs.publicUrl(resultKey), resultKey, durationSec: 3 },
      jobCallback(account),
    );
    mkdirSync(join(box.dataDir, 'blobs', 'results', 'half'), { recursive: true });
    writeFileSync(join(box.dataDir, 'blobs', 'results', 'half', 'video.mp4.tmp-1-2'), 'unfinished');
    target = await openTestDatabase(havePg ? 'postgres' : 'sqlite');
  });
  after(async () => {
    await box.close();
    await target.cleanup();
  });

  test('copies every row and blob once; a second run finds nothing to do', async () => {
    const blobs = new LocalDiskBlobStore(target.dataDir, 'http://new.example');
    const run = () =>
      migrateStorage({
        source: box.runtime.database,
        target: target.database,
        sourceBlobDir: join(box.dataDir, 'blobs'),
        targetBlobs: blobs,
        log: () => undefined,
      });
    const first = await run();
    for (const table of ['accounts', 'jobs', 'ledger', 'voices', 'voice_trainings', 'queue']) {
      const r = first.rows[table];
      assert.ok(r !== undefined && r.read > 0 && r.inserted === r.read, `${table}: ${JSON.stringify(r)}`);
    }
    assert.deepEqual(first.blobs, { copied: 1, skipped: 0, bytes: 4096 });
    const second = await run();
    for (const [table, r] of Object.entries(second.rows)) assert.equal(r.inserted, 0, table);
    assert.deepEqual(second.blobs, { copied: 0, skipped: 1, bytes: 0 });

    const moved = await target.database.db
      .selectFrom('accounts')
      .selectAll()
      .where('id', '=', accountId)
      .executeTakeFirstOrThrow();
    const kept = await box.runtime.database.db
      .selectFrom('accounts')
      .selectAll()
      .where('id', '=', accountId)
      .executeTakeFirstOrThrow();
    assert.equal(moved.balance, kept.balance);
    const ledger = await target.database.db
      .selectFrom('ledger')
      .select(['kind', 'amount'])
      .where('account_id', '=', accountId)
      .execute();
    assert.equal(
      ledger.reduce((s, r) => s + r.amount, 0),
      moved.balance,
      'the balance is the ledger sum',
    );
    assert.equal((await blobs.stat(resultKey))?.size, 4096);
    assert.deepEqual(
      readFileSync(join(box.dataDir, 'blobs', resultKey)),
      Buffer.alloc(4096, 7),
      'the source stays',
    );
  });

  test('the command: twice from the README, refusing to copy a box onto itself', () => {
    const dir = tempDir();
    const env = {
      ...process.env,
      DHS_DATA_DIR: dir,
      DHS_DATABASE_URL: `sqlite:${join(dir, 'moved.sqlite')}`,
      DHS_BLOB_URL: `file://${join(dir, 'moved-blobs')}`,
    };
    const run = () =>
      spawnSync(
        process.execPath,
        [join(import.meta.dirname, '..', 'bin/dhs.mjs'), 'migrate-storage', '--from', box.dataDir],
        {
          env,
          encoding: 'utf8',
        },
      );
    const first = run();
    assert.equal(first.status, 0, first.stderr);
    assert.match(first.stdout, /accounts: \d+ rows read, [1-9]\d* new/);
    assert.match(first.stdout, /blobs: 1 copied \(4096 bytes\), 0 already there/);
    const second = run();
    assert.equal(second.status, 0, second.stderr);
    assert.match(second.stdout, /accounts: \d+ rows read, 0 new/);
    assert.match(second.stdout, /blobs: 0 copied \(0 bytes\), 1 already there/);
    const onto = spawnSync(
      process.execPath,
      [join(import.meta.dirname, '..', 'bin/dhs.mjs'), 'migrate-storage', '--from', box.dataDir],
      {
        env: { ...process.env, DHS_DATA_DIR: box.dataDir },
        encoding: 'utf8',
      },
    );
    assert.equal(onto.status, 2);
    assert.match(onto.stderr, /same database/);
  });
});
