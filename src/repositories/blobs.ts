import { createReadStream } from 'node:fs';
import { copyFile, mkdir, rename, rm, stat } from 'node:fs/promises';
import { dirname, join, normalize, resolve, sep } from 'node:path';
import type { Readable } from 'node:stream';

export interface BlobInfo {
  size: number;
  mtimeMs: number;
  /** Changes whenever the stored bytes do (an HTTP entity tag, quotes included). */
  etag: string;
}

/**
 * Where results and kept inputs live. The local-disk adapter is the embedded default; an object-store
 * adapter implements the same port. Keys are relative paths like `results/<random>/video.mp4`.
 */
export interface BlobStore {
  /**
   * Stores a local file under `key` (atomically: readers never see half a file). The store may take
   * the file (the disk store moves it): callers hand it a file they no longer need.
   */
  put(key: string, srcFile: string): Promise<void>;
  /** Copies the blob to a local file. */
  download(key: string, destFile: string): Promise<void>;
  stat(key: string): Promise<BlobInfo | null>;
  /**
   * The blob's bytes, or those from `start` to `end` (both inclusive, as in an HTTP Range). A plain
   * stream, so an object store can hand back its response body; a missing blob errors the stream.
   */
  read(key: string, range?: { start: number; end: number }): Readable;
  delete(key: string): Promise<void>;
  /** Deletes every blob under `prefix/` (a result's folder). */
  deletePrefix(prefix: string): Promise<void>;
  /** The URL clients fetch the blob at. */
  publicUrl(key: string): string;
}

/**
 * How the URL handed out for a stored result is made (inspect's videoUrl and newAudioUrl, speech
 * detail's url, the callbacks): asked when the URL is handed out, so a time-limited URL is fresh.
 */
export interface ResultLinks {
  /** Whether the URLs expire (presigned): then they are made at read time, never stored. */
  readonly expiring: boolean;
  url(key: string): Promise<string>;
}

/** The server's own `/files/...` URLs (`BlobStore.publicUrl`): permanent, served by any API process. */
export function publicResultLinks(blobs: Pick<BlobStore, 'publicUrl'>): ResultLinks {
  return { expiring: false, url: (key) => Promise.resolve(blobs.publicUrl(key)) };
}

/** `${base}/files/<key>`, each path segment URL-encoded. */
export function filesUrl(publicBaseUrl: string, key: string): string {
  return `${publicBaseUrl}/files/${key.split('/').map(encodeURIComponent).join('/')}`;
}

/** Where blobs live (DHS_BLOB_URL): a folder on this machine, or a bucket (and key prefix) of S3. */
export type BlobLocation =
  | { kind: 'file'; root: string }
  | { kind: 's3'; bucket: string; prefix: string; forcePathStyle: boolean; region: string | undefined };

const SAFE_KEY = /^[A-Za-z0-9_-]+(\/[A-Za-z0-9_.-]+)*$/;

export function isSafeBlobKey(key: string): boolean {
  return SAFE_KEY.test(key) && !key.split('/').some((p) => p === '.' || p === '..');
}

export class LocalDiskBlobStore implements BlobStore {
  private readonly root: string;

  /** Blobs under `root` (DHS_BLOB_URL=file:///root), by default `<dataDir>/blobs`. */
  constructor(
    dataDir: string,
    private readonly publicBaseUrl: string,
    root?: string,
  ) {
    this.root = resolve(root ?? join(dataDir, 'blobs'));
  }

  private path(key: string): string {
    if (!isSafeBlobKey(key)) throw new Error(`unsafe blob key ${key}`);
    const p = normalize(join(this.root, key));
    if (!p.startsWith(this.root + sep)) throw new Error(`unsafe blob key ${key}`);
    return p;
  }

  async put(key: string, srcFile: string): Promise<void> {
    const dest = this.path(key);
    await mkdir(dirname(dest), { recursive: true });
    const tmp = `${dest}.tmp-${process.pid}-${Date.now()}`;
    try {
      await rename(srcFile, tmp).catch(async (err: NodeJS.ErrnoException) => {
        if (err.code !== 'EXDEV') throw err;
        await copyFile(srcFile, tmp);
      });
      await rename(tmp, dest);
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
  }

  async download(key: string, destFile: string): Promise<void> {
    await mkdir(dirname(destFile), { recursive: true });
    await copyFile(this.path(key), destFile);
  }

  async stat(key: string): Promise<BlobInfo | null> {
    try {
      const s = await stat(this.path(key));
      if (!s.isFile()) return null;
      // a file is replaced by a rename, never rewritten in place: size and mtime tell its versions apart
      const etag = `"${s.size.toString(16)}-${Math.floor(s.mtimeMs).toString(16)}"`;
      return { size: s.size, mtimeMs: s.mtimeMs, etag };
    } catch {
      return null;
    }
  }

  read(key: string, range?: { start: number; end: number }): Readable {
    return createReadStream(this.path(key), range);
  }

  async delete(key: string): Promise<void> {
    await rm(this.path(key), { force: true });
  }

  async deletePrefix(prefix: string): Promise<void> {
    await rm(this.path(prefix), { recursive: true, force: true });
  }

  publicUrl(key: string): string {
    return filesUrl(this.publicBaseUrl, key);
  }
}
