import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import {
  createReadStream,
  createWriteStream,
  existsSync,
  mkdirSync,
  readFileSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { text } from 'node:stream/consumers';
import { after, before, describe, test } from 'node:test';
import type { BlobStore } from '../../src/repositories/blobs.ts';

/**
 * The BlobStore contract, written once and run on every adapter (local disk, S3 through s3rver): what
 * the rest of the server relies on, whatever holds the bytes.
 */
export interface BlobStoreFixture {
  store: BlobStore;
  /** A folder for source files and downloads. */
  scratch: string;
  /**
   * Object stores: the requests made since the last call, by operation, with the size of the body
   * sent when it was in memory (null for a stream). Lets the suite check uploads went up in parts.
   */
  takeRequests?: () => Array<{ op: string; bytes: number | null }>;
  /** Object stores: the multipart part size the store was opened with. */
  partSize?: number;
  close(): Promise<void>;
}

const MiB = 1024 * 1024;

/** Deterministic bytes of a large test file: any range can be recomputed without keeping the file. */
function byteAt(p: number): number {
  return (p * 31 + (p >>> 13) + (p >>> 21)) & 0xff;
}
function expectedBytes(start: number, end: number): Buffer {
  const b = Buffer.allocUnsafe(end - start + 1);
  for (let p = start; p <= end; p++) b[p - start] = byteAt(p);
  return b;
}

async function readAll(stream: Readable): Promise<{ size: number; sha256: string; largestChunk: number }> {
  const hash = createHash('sha256');
  let size = 0;
  let largestChunk = 0;
  for await (const chunk of stream) {
    const b = chunk as Buffer;
    hash.update(b);
    size += b.length;
    largestChunk = Math.max(largestChunk, b.length);
  }
  return { size, sha256: hash.digest('hex'), largestChunk };
}

/** A read that must fail: the store may throw at once or error the stream. */
async function readFails(read: () => Readable): Promise<void> {
  await assert.rejects(async () => text(read()));
}

export function blobStoreContract(name: string, open: () => Promise<BlobStoreFixture>): void {
  describe(`BlobStore contract: ${name}`, () => {
    let f: BlobStoreFixture;
    let n = 0;
    before(async () => {
      f = await open();
    });
    after(async () => {
      await f.close();
    });
    /** A new source file (the store may take it: the disk store moves it). */
    const source = (content: string | Buffer): string => {
      const p = join(f.scratch, `src-${++n}`);
      writeFileSync(p, content);
      return p;
    };

    test('put, then stat, read (whole and inclusive ranges) and download', async () => {
      const key = 'results/c0ffee01/video.mp4';
      const before = Date.now();
      await f.store.put(key, source('0123456789'));
      const info = await f.store.stat(key);
      assert.ok(info);
      assert.equal(info.size, 10);
      assert.match(info.etag, /^(W\/)?"[^"]+"$/, 'an HTTP entity tag, quotes included');
      // object stores keep whole seconds
      assert.ok(info.mtimeMs >= before - 2000 && info.mtimeMs <= Date.now() + 2000, `mtime ${info.mtimeMs}`);

      assert.equal(await text(f.store.read(key)), '0123456789');
      assert.equal(await text(f.store.read(key, { start: 0, end: 0 })), '0');
      assert.equal(await text(f.store.read(key, { start: 2, end: 4 })), '234');
      assert.equal(await text(f.store.read(key, { start: 9, end: 9 })), '9');
      assert.equal(await text(f.store.read(key, { start: 0, end: 9 })), '0123456789');

      const dest = join(f.scratch, 'downloads', 'nested', 'video.mp4');
      await f.store.download(key, dest);
      assert.equal(readFileSync(dest, 'utf8'), '0123456789');
    });

    test('a second put replaces the blob whole; its ETag changes', async () => {
      const key = 'results/c0ffee02/speech.mp3';
      await f.store.put(key, source('first'));
      const first = await f.store.stat(key);
      await f.store.put(key, source('second version'));
      const second = await f.store.stat(key);
      assert.ok(first && second);
      assert.equal(second.size, 'second version'.length);
      assert.notEqual(second.etag, first.etag);
      assert.equal(await text(f.store.read(key)), 'second version');
    });

    test('a missing blob: stat is null, read errors its stream, download rejects and leaves no file', async () => {
      const key = 'results/c0ffee03/none.mp4';
      assert.equal(await f.store.stat(key), null);
      await readFails(() => f.store.read(key));
      await readFails(() => f.store.read(key, { start: 0, end: 3 }));
      const dest = join(f.scratch, 'missing.mp4');
      await assert.rejects(f.store.download(key, dest));
      assert.equal(existsSync(dest), false);
    });

    test('put of a source file that is not there rejects and stores nothing', async () => {
      const key = 'results/c0ffee05/video.mp4';
      await assert.rejects(f.store.put(key, join(f.scratch, 'never-written.mp4')));
      assert.equal(await f.store.stat(key), null);
    });

    test('delete removes one blob; deleting a missing one is no error', async () => {
      const key = 'voices/sp_1/recording-1.wav';
      await f.store.put(key, source('wav'));
      await f.store.put('voices/sp_1/recording-2.wav', source('wav2'));
      await f.store.delete(key);
      assert.equal(await f.store.stat(key), null);
      assert.ok(await f.store.stat('voices/sp_1/recording-2.wav'));
      await f.store.delete(key);
      await f.store.delete('voices/never/there.wav');
    });

    test('deletePrefix removes the folder and everything under it, nothing beside it', async () => {
      await f.store.put('results/pp/video.mp4', source('a'));
      await f.store.put('results/pp/sub/part.json', source('b'));
      await f.store.put('results/pp2/video.mp4', source('c'));
      await f.store.put('results/p/video.mp4', source('d'));
      await f.store.deletePrefix('results/pp');
      assert.equal(await f.store.stat('results/pp/video.mp4'), null);
      assert.equal(await f.store.stat('results/pp/sub/part.json'), null);
      assert.ok(await f.store.stat('results/pp2/video.mp4'), 'a sibling sharing the name as a prefix stays');
      assert.ok(await f.store.stat('results/p/video.mp4'));
      await f.store.deletePrefix('results/pp');
      await f.store.deletePrefix('results/never-there');
    });

    test('deletePrefix of more than 1000 blobs (an object store lists and deletes in pages)', async () => {
      const count = 1050;
      const keys = Array.from(
        { length: count },
        (_, i) => `avatars/av_many/samples/${String(i).padStart(4, '0')}.bin`,
      );
      let next = 0;
      await Promise.all(
        Array.from({ length: 16 }, async () => {
          for (let i = next++; i < count; i = next++) await f.store.put(keys[i] ?? '', source(`s${i}`));
        }),
      );
      await f.store.put('avatars/av_other/model.json', source('{}'));
      f.takeRequests?.();
      await f.store.deletePrefix('avatars/av_many');
      const requests = f.takeRequests?.();
      if (requests !== undefined) {
        const ops = (op: string) => requests.filter((r) => r.op === op).length;
        assert.ok(ops('ListObjectsV2Command') >= 2, `listed in pages: ${JSON.stringify(requests)}`);
        assert.ok(ops('DeleteObjectsCommand') >= 2, 'deleted in batches of at most 1000');
        assert.equal(ops('DeleteObjectCommand'), 0, 'never one request per key');
      }
      for (const i of [0, 1, 499, 999, 1000, 1001, count - 1]) {
        assert.equal(await f.store.stat(keys[i] ?? ''), null, `${keys[i]} deleted`);
      }
      assert.ok(await f.store.stat('avatars/av_other/model.json'));
    });

    test('unsafe keys are refused by every operation', async () => {
      const bad = [
        '',
        '/etc/passwd',
        '../outside',
        'results/../../outside',
        'results/./x.mp4',
        'results//x.mp4',
        'results/x/',
        'results\\x.mp4',
        'results/a b.mp4',
        'results/%2e%2e/x.mp4',
        'results/x/..',
      ];
      for (const key of bad) {
        await assert.rejects(f.store.put(key, source('x')), `put ${JSON.stringify(key)}`);
        await assert.rejects(
          f.store.download(key, join(f.scratch, 'unsafe')),
          `download ${JSON.stringify(key)}`,
        );
        await assert.rejects(f.store.delete(key), `delete ${JSON.stringify(key)}`);
        await assert.rejects(f.store.deletePrefix(key), `deletePrefix ${JSON.stringify(key)}`);
        assert.equal(await f.store.stat(key), null, `stat ${JSON.stringify(key)}`);
        await readFails(() => f.store.read(key));
      }
    });

    test('a 20 MB file goes up and comes down as streams (multipart on an object store), ranges across parts', async () => {
      const size = 20 * MiB + 12_345;
      const file = join(f.scratch, 'large.bin');
      const hash = createHash('sha256');
      const out = createWriteStream(file);
      for (let at = 0; at < size; at += MiB) {
        const chunk = expectedBytes(at, Math.min(size, at + MiB) - 1);
        hash.update(chunk);
        if (!out.write(chunk)) await new Promise<void>((r) => out.once('drain', () => r()));
      }
      out.end();
      await finished(out);
      const sha256 = hash.digest('hex');
      const key = 'results/c0ffee04/video.mp4';

      f.takeRequests?.();
      await f.store.put(key, file);
      const requests = f.takeRequests?.();
      if (requests !== undefined) {
        const partSize = f.partSize ?? 5 * MiB;
        const parts = requests.filter((r) => r.op === 'UploadPartCommand');
        assert.equal(
          parts.length,
          Math.ceil(size / partSize),
          `uploaded in parts: ${JSON.stringify(requests)}`,
        );
        assert.ok(
          parts.every((p) => p.bytes !== null && p.bytes <= partSize),
          'each part at most one part size in memory',
        );
        assert.equal(requests.filter((r) => r.op === 'PutObjectCommand').length, 0, 'never one whole PUT');
        assert.equal(requests.filter((r) => r.op === 'CompleteMultipartUploadCommand').length, 1);
      }

      const info = await f.store.stat(key);
      assert.equal(info?.size, size);

      // the whole blob as a stream of small chunks, not one buffer
      const whole = await readAll(f.store.read(key));
      assert.equal(whole.size, size);
      assert.equal(whole.sha256, sha256);
      assert.ok(whole.largestChunk <= MiB, `largest chunk ${whole.largestChunk} bytes`);

      // ranges: across the first part boundary, the tail, one byte in the middle
      const boundary = f.partSize ?? 5 * MiB;
      for (const [start, end] of [
        [boundary - 100, boundary + 99],
        [size - 1000, size - 1],
        [10 * MiB + 7, 10 * MiB + 7],
      ] as const) {
        const got = await readAll(f.store.read(key, { start, end }));
        assert.equal(got.size, end - start + 1);
        assert.equal(got.sha256, createHash('sha256').update(expectedBytes(start, end)).digest('hex'));
      }

      const dest = join(f.scratch, 'large-down.bin');
      await f.store.download(key, dest);
      const down = await readAll(createReadStream(dest));
      assert.equal(down.size, size);
      assert.equal(down.sha256, sha256);
    });
  });
}

/** A scratch folder inside `root`. */
export function scratchIn(root: string): string {
  const dir = join(root, 'scratch');
  mkdirSync(dir, { recursive: true });
  return dir;
}
