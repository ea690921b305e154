import type { Selectable } from 'kysely';
import type { Clock } from './clock.ts';
import type { Database } from './db/connect.ts';
import type { AvatarsTable } from './db/schema.ts';
import { newId, type RandomSource } from './random.ts';

export type AvatarRow = Selectable<AvatarsTable>;

export interface Avatar {
  id: string;
  accountId: string;
  videoUrl: string;
  contentHash: string;
  parts: Record<string, unknown>;
  createdAt: number;
  usedAt: number;
}

function toAvatar(row: AvatarRow): Avatar {
  let parts: Record<string, unknown> = {};
  try {
    const parsed: unknown = JSON.parse(row.parts);
    if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)) {
      parts = parsed as Record<string, unknown>;
    }
  } catch {
    // a damaged parts column is an empty cache: the parts are made again
  }
  return {
    id: row.id,
    accountId: row.account_id,
    videoUrl: row.video_url,
    contentHash: row.content_hash,
    parts,
    createdAt: row.created_at,
    usedAt: row.used_at,
  };
}

function isUniqueViolation(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === '23505' || code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}

/**
 * The avatar cache's rows: what has been prepared from a video, once per account and URL, and made
 * again when the file behind the URL changes. The prepared files live in the blob store under
 * `avatars/<id>/`; a row replaced for new content hands back the old id so its files can be deleted.
 */
export class AvatarsRepository {
  constructor(
    private readonly database: Database,
    private readonly clock: Clock,
    private readonly random: RandomSource,
  ) {}

  /**
   * The avatar for this account, URL and content: the existing row when its content matches (marked
   * used now), otherwise a fresh row with no parts. `replaced` is the id of a row for the same URL but
   * other content that this call removed (its blobs are the caller's to delete).
   */
  async ensure(
    accountId: string,
    videoUrl: string,
    contentHash: string,
  ): Promise<{ avatar: Avatar; replaced: string | null }> {
    try {
      return await this.ensureOnce(accountId, videoUrl, contentHash);
    } catch (err) {
      // Two first works on one new video: the second insert meets the unique index (PostgreSQL; SQLite
      // serializes writers). The row exists now; the second attempt finds it.
      if (!isUniqueViolation(err)) throw err;
      return this.ensureOnce(accountId, videoUrl, contentHash);
    }
  }

  private async ensureOnce(
    accountId: string,
    videoUrl: string,
    contentHash: string,
  ): Promise<{ avatar: Avatar; replaced: string | null }> {
    const now = this.clock.now();
    return this.database.tx(async (trx) => {
      // UPDATE first: it takes the row lock (PostgreSQL) before anything is read.
      const touched = await trx
        .updateTable('avatars')
        .set({ used_at: now })
        .where('account_id', '=', accountId)
        .where('video_url', '=', videoUrl)
        .returningAll()
        .executeTakeFirst();
      if (touched && touched.content_hash === contentHash)
        return { avatar: toAvatar(touched), replaced: null };
      if (touched) await trx.deleteFrom('avatars').where('id', '=', touched.id).execute();
      const row = await trx
        .insertInto('avatars')
        .values({
          id: newId(this.random, 'av'),
          account_id: accountId,
          video_url: videoUrl,
          content_hash: contentHash,
          parts: '{}',
          created_at: now,
          used_at: now,
        })
        .returningAll()
        .executeTakeFirstOrThrow();
      return { avatar: toAvatar(row), replaced: touched?.id ?? null };
    });
  }

  async get(id: string): Promise<Avatar | null> {
    const row = await this.database.db
      .selectFrom('avatars')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirst();
    return row ? toAvatar(row) : null;
  }

  /**
   * Stores one part unless another job stored it first. Returns the part now stored (ours or the
   * other one) and whether ours was taken; null when the avatar row is gone (replaced meanwhile).
   */
  async putPart(
    id: string,
    name: string,
    value: unknown,
  ): Promise<{ value: unknown; stored: boolean } | null> {
    const now = this.clock.now();
    return this.database.tx(async (trx) => {
      const row = await trx
        .updateTable('avatars')
        .set({ used_at: now })
        .where('id', '=', id)
        .returningAll()
        .executeTakeFirst();
      if (!row) return null;
      const avatar = toAvatar(row);
      if (Object.hasOwn(avatar.parts, name)) return { value: avatar.parts[name], stored: false };
      const parts = { ...avatar.parts, [name]: value };
      await trx
        .updateTable('avatars')
        .set({ parts: JSON.stringify(parts) })
        .where('id', '=', id)
        .execute();
      return { value, stored: true };
    });
  }

  /** Drops one part (e.g. when its files turned out to be missing). */
  async dropPart(id: string, name: string): Promise<void> {
    await this.database.tx(async (trx) => {
      const row = await trx
        .updateTable('avatars')
        .set({ used_at: this.clock.now() })
        .where('id', '=', id)
        .returningAll()
        .executeTakeFirst();
      if (!row) return;
      const parts = { ...toAvatar(row).parts };
      delete parts[name];
      await trx
        .updateTable('avatars')
        .set({ parts: JSON.stringify(parts) })
        .where('id', '=', id)
        .execute();
    });
  }

  /** Avatars not used since `before` (oldest first, at most `limit`), for the retention sweep. */
  async listUnusedSince(before: number, limit: number): Promise<Avatar[]> {
    const rows = await this.database.db
      .selectFrom('avatars')
      .selectAll()
      .where('used_at', '<', before)
      .orderBy('used_at')
      .limit(limit)
      .execute();
    return rows.map(toAvatar);
  }

  /** Deletes the row if it is still unused since `before` (a job may have picked it up meanwhile). */
  async deleteIfUnused(id: string, before: number): Promise<boolean> {
    const res = await this.database.db
      .deleteFrom('avatars')
      .where('id', '=', id)
      .where('used_at', '<', before)
      .executeTakeFirst();
    return Number(res.numDeletedRows) > 0;
  }
}
