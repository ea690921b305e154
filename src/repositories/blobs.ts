import { createReadStream } from 'node:fs';
import { copyFile, mkdir, rename, rm, stat } from 'node:fs/promises';
import { dirname, join, normalize, sep } from 'node:path';
import type { Readable } from 'node:stream';

export interface BlobInfo {
  size: number;
  mtimeMs: number;
}

/**
 * Where results and kept inputs live. The local-disk adapter is the embedded default; an object-store
 * adapter implements the same port. Keys are relative paths like `results/<random>/video.mp4`.
 */
export interface BlobStore {
  /** Stores a local file under `key` (atomically: readers never see half a file). */
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

const SAFE_KEY = /^[A-Za-z0-9_-]+(\/[A-Za-z0-9_.-]+)*$/;

export function isSafeBlobKey(key: string): boolean {
  return SAFE_KEY.test(key) && !key.split('/').some((p) => p === '.' || p === '..');
}

export class LocalDiskBlobStore implements BlobStore {
  private readonly root: string;

  constructor(
    dataDir: string,
    private readonly publicBaseUrl: string,
  ) {
    this.root = join(dataDir, 'blobs');
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
      return s.isFile() ? { size: s.size, mtimeMs: s.mtimeMs } : null;
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
    return `${this.publicBaseUrl}/files/${key.split('/').map(encodeURIComponent).join('/')}`;
  }
}
