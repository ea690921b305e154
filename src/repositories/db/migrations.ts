import { sql, type Kysely, type Migration, type MigrationProvider } from 'kysely';

/** Migrations are code (no files to find at run time) and portable between SQLite and PostgreSQL. */
const migrations: Record<string, Migration> = {
  '0001_initial': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('accounts')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('access_key', 'text', (c) => c.notNull().unique())
        .addColumn('secret_key', 'text', (c) => c.notNull())
        .addColumn('webhook_secret', 'text', (c) => c.notNull())
        .addColumn('balance', 'bigint', (c) => c.notNull().check(sql`balance >= 0`))
        .addColumn('lite_total', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('lite_used', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('pro_total', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('pro_used', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('disabled', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('version', 'bigint', (c) => c.notNull().defaultTo(0))
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .execute();

      await db.schema
        .createTable('tokens')
        .addColumn('token_hash', 'text', (c) => c.primaryKey())
        .addColumn('account_id', 'text', (c) => c.notNull().references('accounts.id'))
        .addColumn('expires_at', 'bigint', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('tokens_expires').on('tokens').column('expires_at').execute();

      await db.schema
        .createTable('token_signs')
        .addColumn('sign_hash', 'text', (c) => c.primaryKey())
        .addColumn('expires_at', 'bigint', (c) => c.notNull())
        .execute();

      await db.schema
        .createTable('jobs')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('account_id', 'text', (c) => c.notNull().references('accounts.id'))
        .addColumn('type', 'text', (c) => c.notNull())
        .addColumn('mode', 'text', (c) => c.notNull())
        .addColumn('status', 'integer', (c) => c.notNull())
        .addColumn('progress', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('error_code', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('error_message', 'text', (c) => c.notNull().defaultTo(''))
        .addColumn('error_message_en', 'text', (c) => c.notNull().defaultTo(''))
        .addColumn('params', 'text', (c) => c.notNull())
        .addColumn('title', 'text', (c) => c.notNull())
        .addColumn('callback_url', 'text', (c) => c.notNull().defaultTo(''))
        .addColumn('result_url', 'text', (c) => c.notNull().defaultTo(''))
        .addColumn('result_key', 'text', (c) => c.notNull().defaultTo(''))
        .addColumn('new_audio_url', 'text', (c) => c.notNull().defaultTo(''))
        .addColumn('duration', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('reserved_points', 'bigint', (c) => c.notNull().defaultTo(0))
        .addColumn('fee', 'bigint', (c) => c.notNull().defaultTo(0))
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .addColumn('started_at', 'bigint')
        .addColumn('finished_at', 'bigint')
        .execute();
      await db.schema
        .createIndex('jobs_account_status')
        .on('jobs')
        .columns(['account_id', 'status'])
        .execute();

      await db.schema
        .createTable('voices')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('account_id', 'text', (c) => c.notNull().references('accounts.id'))
        .addColumn('type', 'text', (c) => c.notNull())
        .addColumn('status', 'integer', (c) => c.notNull())
        .addColumn('error_code', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('error_message', 'text', (c) => c.notNull().defaultTo(''))
        .addColumn('error_message_en', 'text', (c) => c.notNull().defaultTo(''))
        .addColumn('trainings', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('profile', 'text')
        .addColumn('callback_url', 'text', (c) => c.notNull().defaultTo(''))
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('voices_account').on('voices').column('account_id').execute();

      await db.schema
        .createTable('voice_trainings')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('voice_id', 'text', (c) => c.notNull().references('voices.id'))
        .addColumn('seq', 'integer', (c) => c.notNull())
        .addColumn('audio_url', 'text', (c) => c.notNull())
        .addColumn('audio_key', 'text', (c) => c.notNull().defaultTo(''))
        .addColumn('status', 'integer', (c) => c.notNull())
        .addColumn('error_code', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('error_message', 'text', (c) => c.notNull().defaultTo(''))
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('finished_at', 'bigint')
        .addUniqueConstraint('voice_trainings_voice_seq', ['voice_id', 'seq'])
        .execute();

      await db.schema
        .createTable('ledger')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('account_id', 'text', (c) => c.notNull().references('accounts.id'))
        .addColumn('job_id', 'text')
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('amount', 'bigint', (c) => c.notNull())
        .addColumn('fee', 'bigint', (c) => c.notNull().defaultTo(0))
        .addColumn('duration', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('type', 'text', (c) => c.notNull().defaultTo(''))
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        // one reservation, one settlement... per job: a retried handler can never book twice
        .addUniqueConstraint('ledger_job_kind', ['job_id', 'kind'])
        .execute();
      await db.schema
        .createIndex('ledger_account_time')
        .on('ledger')
        .columns(['account_id', 'created_at'])
        .execute();

      await db.schema
        .createTable('queue')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('ref_id', 'text', (c) => c.notNull())
        .addColumn('payload', 'text', (c) => c.notNull())
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('priority', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('max_attempts', 'integer', (c) => c.notNull())
        .addColumn('run_at', 'bigint', (c) => c.notNull())
        .addColumn('lease_until', 'bigint')
        .addColumn('worker_id', 'text')
        .addColumn('last_error', 'text', (c) => c.notNull().defaultTo(''))
        .addColumn('dedupe_key', 'text', (c) => c.unique())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .addColumn('started_at', 'bigint')
        .addColumn('finished_at', 'bigint')
        .execute();
      await db.schema.createIndex('queue_claim').on('queue').columns(['state', 'run_at']).execute();
      await db.schema.createIndex('queue_ref').on('queue').column('ref_id').execute();

      await db.schema
        .createTable('callback_deliveries')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('queue_id', 'text', (c) => c.notNull())
        .addColumn('ref_id', 'text', (c) => c.notNull())
        .addColumn('url', 'text', (c) => c.notNull())
        .addColumn('attempt', 'integer', (c) => c.notNull())
        .addColumn('http_status', 'integer')
        .addColumn('error', 'text', (c) => c.notNull().defaultTo(''))
        .addColumn('duration_ms', 'integer', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema
        .createIndex('callback_deliveries_ref')
        .on('callback_deliveries')
        .column('ref_id')
        .execute();
    },
  },
  '0002_avatars': {
    async up(db: Kysely<unknown>) {
      // The prepared form of a video ("same URL = same digital human"): one row per account and URL,
      // replaced when the file behind the URL changes (content_hash). Parts are JSON by engine/purpose.
      await db.schema
        .createTable('avatars')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('account_id', 'text', (c) => c.notNull().references('accounts.id'))
        .addColumn('video_url', 'text', (c) => c.notNull())
        .addColumn('content_hash', 'text', (c) => c.notNull())
        .addColumn('parts', 'text', (c) => c.notNull().defaultTo('{}'))
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('used_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema
        .createIndex('avatars_account_url')
        .on('avatars')
        .columns(['account_id', 'video_url'])
        .unique()
        .execute();
      await db.schema.createIndex('avatars_used').on('avatars').column('used_at').execute();
    },
  },
  '0003_retention_indexes': {
    async up(db: Kysely<unknown>) {
      // The retention sweep deletes the oldest finished queue items and delivery records in batches:
      // these keep each batch an index range instead of a scan of the whole table.
      await db.schema.createIndex('queue_finished').on('queue').column('finished_at').execute();
      await db.schema
        .createIndex('callback_deliveries_created')
        .on('callback_deliveries')
        .column('created_at')
        .execute();
    },
  },
  '0004_fair_queue': {
    async up(db: Kysely<unknown>) {
      // Fair claiming (QueueRepository.claim): every item names the account it works for ('' for the
      // server's own housekeeping), and claimed_at is when a worker last took it, so "the account
      // that got a worker least recently" is one index lookup per account.
      await db.schema
        .alterTable('queue')
        .addColumn('account_id', 'text', (c) => c.notNull().defaultTo(''))
        .execute();
      await db.schema.alterTable('queue').addColumn('claimed_at', 'bigint').execute();
      await db.schema
        .createIndex('queue_account_claimed')
        .on('queue')
        .columns(['account_id', 'claimed_at'])
        .execute();
      // items queued before this migration: their account from the job or voice they belong to (work,
      // synth and job callbacks name a job; train and training callbacks a voice)
      await sql`update queue set account_id = coalesce(
          (select j.account_id from jobs j where j.id = queue.ref_id),
          (select v.account_id from voices v where v.id = queue.ref_id),
          '')`.execute(db);
      // callbacks go first among due items (their lane); earlier ones had priority 0
      await sql`update queue set priority = 10 where kind = 'callback'`.execute(db);
      // A failed job's speech (a text work's, kept before lip-sync) was left behind; the retention
      // sweep removes a failed job's result folder named by result_key: name the folders of jobs that
      // failed before this version (their outputKey is in the params).
      for (let after = ''; ;) {
        const failed = await sql<{ id: string; params: string }>`
          select id, params from jobs where status = 4 and result_key = '' and id > ${after}
          order by id limit 500`.execute(db);
        for (const row of failed.rows) {
          const outputKey = /"outputKey"\s*:\s*"([a-f0-9]{8,64})"/.exec(row.params)?.[1];
          if (outputKey === undefined) continue;
          await sql`update jobs set result_key = ${`results/${outputKey}/`} where id = ${row.id}`.execute(db);
        }
        const last = failed.rows.at(-1);
        if (last === undefined || failed.rows.length < 500) break;
        after = last.id;
      }
    },
  },
  '0005_new_audio_key': {
    async up(db: Kysely<unknown>) {
      // Presigned result URLs (DHS_RESULT_URLS=presigned) expire, so they are made from the stored key
      // whenever they are handed out: a text work's speech keeps its key like the result does. Works
      // finished before this keep their stored /files/ URL, which any API process serves.
      await db.schema
        .alterTable('jobs')
        .addColumn('new_audio_key', 'text', (c) => c.notNull().defaultTo(''))
        .execute();
    },
  },
  '0006_uploads': {
    async up(db: Kysely<unknown>) {
      // Files customers upload (POST /api/model/v5/files/upload): the blob under `key` belongs to
      // the account and is deleted by the retention sweep once expires_at has passed.
      await db.schema
        .createTable('uploads')
        .addColumn('key', 'text', (c) => c.primaryKey())
        .addColumn('account_id', 'text', (c) => c.notNull().references('accounts.id'))
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('content_type', 'text', (c) => c.notNull())
        .addColumn('size', 'bigint', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('expires_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('uploads_expires').on('uploads').column('expires_at').execute();
      await db.schema.createIndex('uploads_account').on('uploads').column('account_id').execute();
    },
  },
  '0007_engine_note': {
    async up(db: Kysely<unknown>) {
      // DHS_ENGINE_FALLBACK=local: a job the local engine made because the remote one was unreachable
      // says so (`engineNote`): the note as JSON {"zh","en"}; null for every other job.
      await db.schema.alterTable('jobs').addColumn('engine_note', 'text').execute();
    },
  },
  '0008_subtitles': {
    async up(db: Kysely<unknown>) {
      // Text works and speech jobs store subtitles beside their result (src/domain/captions.ts): the
      // WebVTT file's blob key, the SRT one beside it with .srt; null for jobs without (audio-driven
      // works, jobs finished before this).
      await db.schema.alterTable('jobs').addColumn('subtitle_key', 'text').execute();
    },
  },
};

export const migrationProvider: MigrationProvider = {
  getMigrations: () => Promise.resolve(migrations),
};
