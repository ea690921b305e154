import { contentTypeOf } from '../domain/content-types.ts';
import type { BlobStore } from '../repositories/blobs.ts';
import { isSafeBlobKey } from '../repositories/blobs.ts';

/**
 * What `GET /files/...` may hand out: finished results, and customers' uploads (to whoever holds
 * their unguessable URL, like results: docs/decisions.md "Uploads"); never kept inputs (training
 * recordings) or avatar data.
 */
const SERVED_PREFIXES = ['results/', 'uploads/'] as const;

export interface ServedFile {
  key: string;
  size: number;
  contentType: string;
  /** Changes whenever the stored object does: the store's own (S3's ETag; size and mtime on disk). */
  etag: string;
}

/** The results behind their public URLs (`BlobStore.publicUrl`), looked up for the files route. */
export class FilesService {
  constructor(private readonly blobs: Pick<BlobStore, 'stat' | 'read'>) {}

  /** The file at this decoded URL path, or null: unknown, unsafe, or not a servable kind of blob. */
  async find(key: string): Promise<ServedFile | null> {
    if (!isSafeBlobKey(key) || !SERVED_PREFIXES.some((p) => key.startsWith(p))) return null;
    const info = await this.blobs.stat(key);
    if (info === null) return null;
    return { key, size: info.size, contentType: contentTypeOf(key), etag: info.etag };
  }

  /** The file's bytes, whole or one inclusive range. */
  open(file: ServedFile, range?: { start: number; end: number }) {
    return this.blobs.read(file.key, range);
  }
}
