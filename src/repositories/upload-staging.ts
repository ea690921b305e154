import { randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

/** An upload that went past its byte cap; nothing of it is kept. */
export class UploadTooLargeError extends Error {
  override name = 'UploadTooLargeError';
  constructor(readonly maxBytes: number) {
    super(`upload is over ${maxBytes} bytes`);
  }
}

/**
 * Where an upload is written while it arrives: a file of its own under `<dataDir>/uploads-tmp`,
 * streamed (never whole in memory) and cut at its byte cap, then handed to the blob store, which
 * takes it (the disk store renames it into place: same file system).
 */
export class UploadStaging {
  constructor(private readonly dir: string) {}

  /** Streams `source` to a new file; past `maxBytes` the file is removed and UploadTooLargeError thrown. */
  async receive(source: Readable, maxBytes: number): Promise<{ file: string; bytes: number }> {
    await mkdir(this.dir, { recursive: true });
    const file = join(this.dir, `${Date.now()}-${randomUUID()}`);
    let bytes = 0;
    const cap = new Transform({
      transform(chunk: Buffer, _enc, done) {
        bytes += chunk.length;
        if (bytes > maxBytes) done(new UploadTooLargeError(maxBytes));
        else done(null, chunk);
      },
    });
    try {
      await pipeline(source, cap, createWriteStream(file, { flags: 'wx' }));
    } catch (err) {
      await rm(file, { force: true });
      throw err;
    }
    return { file, bytes };
  }

  /** Removes a staged file (whether or not the blob store took it). */
  async discard(file: string): Promise<void> {
    await rm(file, { force: true });
  }

  /** Removes staged files older than `maxAgeMs` (a process that died mid-upload left them). */
  async removeStale(maxAgeMs: number, now = Date.now()): Promise<number> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch {
      return 0;
    }
    let removed = 0;
    for (const name of names) {
      const file = join(this.dir, name);
      const s = await stat(file).catch(() => null);
      if (s !== null && now - s.mtimeMs > maxAgeMs) {
        await rm(file, { force: true });
        removed++;
      }
    }
    return removed;
  }
}
