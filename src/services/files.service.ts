import type { BlobStore } from '../repositories/blobs.ts';
import { isSafeBlobKey } from '../repositories/blobs.ts';

/** What `GET /files/...` may hand out: finished results only, never kept inputs or avatar data. */
const SERVED_PREFIXES = ['results/'] as const;

const CONTENT_TYPES: Record<string, string> = {
  mp4: 'video/mp4',
  mp3: 'audio/mpeg',
  wav: 'audio/wav',
  m4a: 'audio/mp4',
  json: 'application/json',
};

export interface ServedFile {
  key: string;
  size: number;
  contentType: string;
  /** Changes whenever the stored object does. */
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
    const ext = key.slice(key.lastIndexOf('.') + 1).toLowerCase();
    return {
      key,
      size: info.size,
      contentType: CONTENT_TYPES[ext] ?? 'application/octet-stream',
      etag: `"${info.size.toString(16)}-${Math.floor(info.mtimeMs).toString(16)}"`,
    };
  }

  /** The file's bytes, whole or one inclusive range. */
  open(file: ServedFile, range?: { start: number; end: number }) {
    return this.blobs.read(file.key, range);
  }
}
