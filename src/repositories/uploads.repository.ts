import type { Selectable } from 'kysely';
import type { Database } from './db/connect.ts';
import type { UploadsTable } from './db/schema.ts';

export type UploadRow = Selectable<UploadsTable>;

/** The record of every uploaded file: whose it is, and until when it is kept. */
export class UploadsRepository {
  constructor(private readonly database: Database) {}

  async insert(row: UploadRow): Promise<void> {
    await this.database.db.insertInto('uploads').values(row).execute();
  }

  async get(key: string): Promise<UploadRow | null> {
    const row = await this.database.db
      .selectFrom('uploads')
      .selectAll()
      .where('key', '=', key)
      .executeTakeFirst();
    return row ?? null;
  }

  /** Uploads whose time ran out before `now`, oldest first, at most `limit` (the retention sweep). */
  async listExpired(now: number, limit: number): Promise<UploadRow[]> {
    return this.database.db
      .selectFrom('uploads')
      .selectAll()
      .where('expires_at', '<=', now)
      .orderBy('expires_at')
      .limit(limit)
      .execute();
  }

  async delete(key: string): Promise<void> {
    await this.database.db.deleteFrom('uploads').where('key', '=', key).execute();
  }
}
