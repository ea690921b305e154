import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { contentTypeOf } from '../domain/content-types.ts';
import { AppError, ErrorCode, t } from '../domain/errors.ts';
import type { Account } from '../repositories/accounts.repository.ts';
import { filesUrl, isSafeBlobKey, type BlobStore } from '../repositories/blobs.ts';
import type { Clock } from '../repositories/clock.ts';
import type { RandomSource } from '../repositories/random.ts';
import { UploadTooLargeError, type UploadStaging } from '../repositories/upload-staging.ts';
import type { UploadRow, UploadsRepository } from '../repositories/uploads.repository.ts';
import { downloadError, fetchErrorCode, type UploadUrls } from './urls.ts';

const DAY_MS = 24 * 60 * 60 * 1000;
/** The retention sweep deletes this many expired uploads per query. */
const SWEEP_BATCH = 200;

/** seed-style answer of `POST /api/model/v5/files/upload` (an extension of the seed). */
export interface UploadedFile {
  /** `DHS_PUBLIC_URL/files/uploads/...`: give it to works/create or voice training as is. */
  url: string;
  name: string;
  size: number;
  contentType: string;
  /** Unix ms after which the file is deleted (DHS_UPLOAD_TTL_DAYS). */
  expiresAt: number;
}

export interface UploadsPorts {
  uploads: Pick<UploadsRepository, 'insert' | 'get' | 'listExpired' | 'delete'>;
  staging: Pick<UploadStaging, 'receive' | 'discard'>;
  blobs: Pick<BlobStore, 'put' | 'stat' | 'download' | 'delete' | 'deletePrefix'>;
  clock: Clock;
  random: RandomSource;
}

export interface UploadSettings {
  /** DHS_PUBLIC_URL, without a trailing slash. */
  publicUrl: string;
  /** DHS_UPLOAD_MAX_BYTES: larger uploads are refused (20009) while they arrive. */
  maxBytes: number;
  /** DHS_UPLOAD_TTL_DAYS. */
  ttlDays: number;
}

/**
 * Files customers upload instead of hosting them (docs/decisions.md "Uploads"): streamed to the blob
 * store under `uploads/<owner>/<128 random bits>/<name>`, recorded with their account and expiry,
 * served at their URL like results, and read straight from the store (no HTTP fetch) when their
 * owner's works or trainings use them. What the seed allows per kind is checked when they are used.
 */
export class UploadsService implements UploadUrls {
  constructor(
    private readonly ports: UploadsPorts,
    private readonly settings: UploadSettings,
  ) {}

  get maxBytes(): number {
    return this.settings.maxBytes;
  }

  get ttlDays(): number {
    return this.settings.ttlDays;
  }

  /** Stores one uploaded file for `account`; 20009 over the cap, 20015 when empty, 20017 when cut off. */
  async receive(account: Account, upload: { filename: string; stream: Readable }): Promise<UploadedFile> {
    let staged: { file: string; bytes: number };
    try {
      staged = await this.ports.staging.receive(upload.stream, this.settings.maxBytes);
    } catch (err) {
      if (err instanceof UploadTooLargeError) throw this.tooLarge();
      if (isCutOff(err)) throw uploadCutOff(err);
      throw err;
    }
    try {
      if (staged.bytes === 0) {
        throw new AppError(
          ErrorCode.INVALID_FILE_SIZE,
          t('上传的文件为空（0 字节）', 'the uploaded file is empty (0 bytes)'),
        );
      }
      const name = safeFileName(upload.filename);
      const key = `uploads/${ownerTag(account.id)}/${this.ports.random.bytes(16).toString('hex')}/${name}`;
      await this.ports.blobs.put(key, staged.file);
      const now = this.ports.clock.now();
      const row: UploadRow = {
        key,
        account_id: account.id,
        name,
        content_type: contentTypeOf(key),
        size: staged.bytes,
        created_at: now,
        expires_at: now + this.settings.ttlDays * DAY_MS,
      };
      try {
        await this.ports.uploads.insert(row);
      } catch (err) {
        await this.ports.blobs.delete(key).catch(() => undefined);
        throw err;
      }
      return this.view(row);
    } finally {
      await this.ports.staging.discard(staged.file);
    }
  }

  /** 20009 for an upload over the cap (the HTTP layer uses it when the multipart parser cuts first). */
  tooLarge(): AppError {
    const mb = formatMb(this.settings.maxBytes);
    return new AppError(
      ErrorCode.FILE_TOO_LARGE,
      t(`上传的文件超过 ${mb} MB`, `the uploaded file is over ${mb} MB (${this.settings.maxBytes} bytes)`),
    );
  }

  /** The blob key behind one of this server's upload URLs, or null for any other URL. */
  keyOf(url: string): string | null {
    let u: URL;
    let base: URL;
    try {
      u = new URL(url);
      base = new URL(`${this.settings.publicUrl}/files/`);
    } catch {
      return null;
    }
    if (u.origin !== base.origin || u.search !== '' || u.hash !== '') return null;
    if (!u.pathname.startsWith(`${base.pathname}uploads/`)) return null;
    let key: string;
    try {
      key = u.pathname.slice(base.pathname.length).split('/').map(decodeURIComponent).join('/');
    } catch {
      return null;
    }
    return isSafeBlobKey(key) ? key : null;
  }

  /**
   * At submission: false when `url` is not an upload URL of this server (check it as any URL);
   * true when it is one of `accountId`'s live uploads; 20006 when it is unknown, expired or another
   * account's.
   */
  async requireOwned(url: string, accountId: string): Promise<boolean> {
    const key = this.keyOf(url);
    if (key === null) return false;
    const row = await this.ports.uploads.get(key);
    if (row === null || row.account_id !== accountId || row.expires_at <= this.ports.clock.now()) {
      throw new AppError(
        ErrorCode.NOT_FOUND,
        t(
          `上传的文件不存在、已过期或不属于本账号: ${url}`,
          `no such upload (unknown, expired, or of another account): ${url}`,
        ),
      );
    }
    return true;
  }

  /**
   * In a job: copies the upload behind `url` to `destFile` straight from the store, with the checks
   * and codes of a download (too large 20009; gone 20011 / 20012; another account's 20006). Returns
   * the bytes copied, or null when `url` is no upload URL of this server (then it is fetched).
   */
  async copyTo(
    url: string,
    accountId: string,
    role: 'audio' | 'video',
    maxBytes: number,
    destFile: string,
  ): Promise<number | null> {
    const key = this.keyOf(url);
    if (key === null) return null;
    const row = await this.ports.uploads.get(key);
    if (row !== null && row.account_id !== accountId) {
      throw new AppError(
        ErrorCode.NOT_FOUND,
        t('上传的文件不属于本账号', 'the upload belongs to another account'),
      );
    }
    const info =
      row === null || row.expires_at <= this.ports.clock.now() ? null : await this.ports.blobs.stat(key);
    if (info === null) {
      throw new AppError(
        fetchErrorCode(role, 'http_status'),
        t(
          '上传的文件已过期或已删除，请重新上传',
          'the uploaded file has expired or was deleted; upload it again',
        ),
      );
    }
    if (info.size > maxBytes) {
      throw new AppError(
        ErrorCode.FILE_TOO_LARGE,
        t(
          `上传的${role === 'audio' ? '音频' : '视频'}文件为 ${formatMb(info.size)} MB，最多 ${formatMb(maxBytes)} MB`,
          `the uploaded ${role} file is ${formatMb(info.size)} MB; at most ${formatMb(maxBytes)} MB allowed`,
        ),
      );
    }
    try {
      await this.ports.blobs.download(key, destFile);
    } catch (err) {
      throw downloadError(role, err);
    }
    return info.size;
  }

  /** The retention sweep: deletes uploads whose time ran out, file and record. Returns how many. */
  async sweep(signal: AbortSignal): Promise<number> {
    let removed = 0;
    for (;;) {
      const batch = await this.ports.uploads.listExpired(this.ports.clock.now(), SWEEP_BATCH);
      for (const row of batch) {
        if (signal.aborted) throw new Error('aborted');
        await this.ports.blobs.deletePrefix(row.key.slice(0, row.key.lastIndexOf('/')));
        await this.ports.uploads.delete(row.key);
        removed++;
      }
      if (batch.length < SWEEP_BATCH) return removed;
    }
  }

  private view(row: UploadRow): UploadedFile {
    return {
      url: filesUrl(this.settings.publicUrl, row.key),
      name: row.name,
      size: row.size,
      contentType: row.content_type,
      expiresAt: row.expires_at,
    };
  }
}

/** The account's folder under `uploads/`: a digest, so a URL does not carry the account id. */
function ownerTag(accountId: string): string {
  return createHash('sha256').update(accountId).digest('hex').slice(0, 16);
}

/**
 * A client's file name made into one blob-key segment: the last path part, letters, digits, `_`, `-`
 * and `.` only, at most 100 characters, its extension kept (lowercase) so the file is served with its
 * media type. `视频 (1).MP4` becomes `file.mp4`, `my clip.mov` `my_clip.mov`.
 */
export function safeFileName(filename: string): string {
  const base = filename.split(/[\\/]/).pop() ?? '';
  const ext = /\.([A-Za-z0-9]{1,10})$/.exec(base)?.[1]?.toLowerCase() ?? '';
  const stem = (ext === '' ? base : base.slice(0, -(ext.length + 1)))
    .replace(/[^A-Za-z0-9_.-]+/g, '_')
    .replace(/[_.]{2,}/g, '_')
    .replace(/^[_.-]+|[_.-]+$/g, '')
    .slice(0, 80);
  return `${stem === '' ? 'file' : stem}${ext === '' ? '' : `.${ext}`}`;
}

function formatMb(bytes: number): string {
  const mb = bytes / (1024 * 1024);
  return mb >= 10 ? String(Math.round(mb)) : mb.toFixed(mb >= 1 ? 1 : 3).replace(/\.?0+$/, '');
}

/** The client went away, or its multipart body ended before the file did. */
function isCutOff(err: unknown): boolean {
  const e = err as { code?: unknown; message?: unknown } | null;
  return (
    e?.code === 'ERR_STREAM_PREMATURE_CLOSE' ||
    e?.code === 'ECONNRESET' ||
    e?.message === 'aborted' ||
    e?.message === 'Unexpected end of form' ||
    e?.message === 'Unexpected end of file'
  );
}

function uploadCutOff(cause: unknown): AppError {
  return new AppError(
    ErrorCode.UPLOAD_FAILED,
    t('上传在文件传完之前中断', 'the upload ended before the whole file arrived'),
    { cause },
  );
}
