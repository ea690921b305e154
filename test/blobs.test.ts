import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { text } from 'node:stream/consumers';
import { test } from 'node:test';
import { LocalDiskBlobStore, type BlobInfo, type BlobStore } from '../src/repositories/blobs.ts';
import { createHarness } from './helpers/harness.ts';

/** A store that is not a disk: what an object-store adapter looks like to the rest of the server. */
class MemoryBlobStore implements BlobStore {
  readonly blobs = new Map<string, Buffer>();
  async put(): Promise<void> {
    throw new Error('not used');
  }
  async download(): Promise<void> {
    throw new Error('not used');
  }
  async stat(key: string): Promise<BlobInfo | null> {
    const b = this.blobs.get(key);
    return b === undefined ? null : { size: b.length, mtimeMs: 1, etag: `"mem-${b.length}"` };
  }
  read(key: string, range?: { start: number; end: number }): Readable {
    const b = this.blobs.get(key) ?? Buffer.alloc(0);
    return Readable.from([range === undefined ? b : b.subarray(range.start, range.end + 1)]);
  }
  async delete(key: string): Promise<void> {
    this.blobs.delete(key);
  }
  async deletePrefix(): Promise<void> {}
  publicUrl(key: string): string {
    return `http://127.0.0.1:9/files/${key}`;
  }
}

test('BlobStore.read: a plain stream, whole or one inclusive range (local disk)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'dhs-blobs-'));
  try {
    const store = new LocalDiskBlobStore(dir, 'http://localhost');
    const src = join(dir, 'src.txt');
    writeFileSync(src, '0123456789');
    await store.put('results/a/x.txt', src);
    assert.equal(await text(store.read('results/a/x.txt')), '0123456789');
    assert.equal(await text(store.read('results/a/x.txt', { start: 2, end: 4 })), '234');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('results are served from any BlobStore whose read gives a Readable, ranges included', async () => {
  const blobs = new MemoryBlobStore();
  blobs.blobs.set('results/abc/audio.mp3', Buffer.from('abcdefghij'));
  const h = await createHarness({ overrides: { blobs } });
  try {
    const whole = await h.app.inject({ method: 'GET', url: '/files/results/abc/audio.mp3' });
    assert.equal(whole.statusCode, 200);
    assert.equal(whole.body, 'abcdefghij');
    const part = await h.app.inject({
      method: 'GET',
      url: '/files/results/abc/audio.mp3',
      headers: { range: 'bytes=3-5' },
    });
    assert.equal(part.statusCode, 206);
    assert.equal(part.body, 'def');
    assert.equal(part.headers['content-range'], 'bytes 3-5/10');
  } finally {
    await h.close();
  }
});
