import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  S3Client,
  S3ServiceException,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { contentTypeOf } from '../domain/content-types.ts';
import { filesUrl, isSafeBlobKey, type BlobInfo, type BlobStore, type ResultLinks } from './blobs.ts';

export interface S3BlobStoreOptions {
  bucket: string;
  /** Key prefix inside the bucket ('' = the bucket's root), without slashes at either end. */
  prefix: string;
  /** Base of `publicUrl` (DHS_PUBLIC_URL): `GET /files/...` of any API process streams from here. */
  publicBaseUrl: string;
  /**
   * The client's settings. Endpoint, credentials and region come from the SDK's standard environment
   * (AWS_ENDPOINT_URL_S3, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION, profiles) unless given.
   */
  client?: S3ClientConfig;
  /**
   * Multipart upload: part size (S3's minimum is 5 MiB) and parts in flight. At most
   * partSize * queueSize bytes of a file are in memory while it is uploaded.
   */
  partSize?: number;
  queueSize?: number;
}

/** Connections to the object store at once (results streamed through `GET /files/...`, uploads). */
const SOCKETS = 256;

/** DeleteObjects takes at most 1000 keys; ListObjectsV2 returns at most 1000 a page. */
const DELETE_BATCH = 1000;

/**
 * The BlobStore port on an S3-compatible object store (AWS S3, MinIO, Cloudflare R2, Ceph RGW).
 * Files go up as streams (multipart above one part), come down as streams; nothing holds a whole
 * result in memory. Keys are the same relative paths as on disk, under `prefix/`.
 */
export class S3BlobStore implements BlobStore {
  readonly client: S3Client;
  private readonly bucket: string;
  private readonly prefix: string;
  private readonly partSize: number;
  private readonly queueSize: number;

  constructor(private readonly o: S3BlobStoreOptions) {
    this.client = new S3Client({
      // Each `GET /files/...` being streamed holds a connection to the store for as long as the client
      // takes (the SDK's default pool is 50); an unreachable store fails fast instead of hanging a job.
      // No request or idle timeout: a slow client pauses its object's stream, and that is no fault.
      requestHandler: {
        connectionTimeout: 10_000,
        httpAgent: { maxSockets: SOCKETS },
        httpsAgent: { maxSockets: SOCKETS },
      },
      ...o.client,
    });
    this.bucket = o.bucket;
    this.prefix = o.prefix === '' ? '' : `${o.prefix}/`;
    this.partSize = o.partSize ?? 8 * 1024 * 1024;
    this.queueSize = o.queueSize ?? 4;
  }

  private objectKey(key: string): string {
    if (!isSafeBlobKey(key)) throw new Error(`unsafe blob key ${key}`);
    return this.prefix + key;
  }

  async put(key: string, srcFile: string): Promise<void> {
    const Key = this.objectKey(key);
    // One PutObject below partSize, a multipart upload above (aborted on failure: no parts left behind).
    // S3 makes an object visible only once it is complete.
    const upload = new Upload({
      client: this.client,
      params: { Bucket: this.bucket, Key, Body: createReadStream(srcFile), ContentType: contentTypeOf(key) },
      partSize: this.partSize,
      queueSize: this.queueSize,
      leavePartsOnError: false,
    });
    await upload.done();
  }

  async download(key: string, destFile: string): Promise<void> {
    const Key = this.objectKey(key);
    await mkdir(dirname(destFile), { recursive: true });
    const res = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key }));
    try {
      await pipeline(bodyOf(res.Body), createWriteStream(destFile));
    } catch (err) {
      await rm(destFile, { force: true });
      throw err;
    }
  }

  async stat(key: string): Promise<BlobInfo | null> {
    if (!isSafeBlobKey(key)) return null;
    try {
      const head = await this.client.send(
        new HeadObjectCommand({ Bucket: this.bucket, Key: this.objectKey(key) }),
      );
      const size = head.ContentLength ?? 0;
      const mtimeMs = head.LastModified?.getTime() ?? 0;
      return {
        size,
        mtimeMs,
        etag: head.ETag ?? `"${size.toString(16)}-${Math.floor(mtimeMs).toString(16)}"`,
      };
    } catch (err) {
      if (isNotFound(err)) return null;
      throw err;
    }
  }

  read(key: string, range?: { start: number; end: number }): Readable {
    const Key = this.objectKey(key);
    // A reader that goes away (a client that hung up) ends the request and frees the connection.
    const abort = new AbortController();
    const stream = Readable.from(this.bytes(Key, range, abort.signal), { objectMode: false });
    stream.once('close', () => abort.abort());
    return stream;
  }

  /**
   * The object's bytes, exactly the range asked for. HTTP lets a server answer a Range with more
   * than asked (the whole object, or a wider range: s3rver answers `bytes=0-0` with everything), and
   * the files route has already promised a Content-Length: so the bytes are cut to the range here, and
   * a short answer is an error rather than a silently truncated file.
   */
  private async *bytes(
    Key: string,
    range: { start: number; end: number } | undefined,
    abortSignal: AbortSignal,
  ): AsyncGenerator<Buffer> {
    const res = await this.client.send(
      new GetObjectCommand({
        Bucket: this.bucket,
        Key,
        ...(range === undefined ? {} : { Range: `bytes=${range.start}-${range.end}` }),
      }),
      { abortSignal },
    );
    const body = bodyOf(res.Body);
    const first = Number(/^bytes (\d+)-/.exec(res.ContentRange ?? '')?.[1] ?? 0);
    let skip = (range?.start ?? 0) - first;
    const want = range === undefined ? Number.POSITIVE_INFINITY : range.end - range.start + 1;
    if (skip < 0) {
      body.destroy();
      throw new Error(`object store answered ${res.ContentRange} to bytes=${range?.start}-${range?.end}`);
    }
    let left = want;
    // leaving the loop early (range complete, or the reader gone) destroys the response body
    for await (const chunk of body) {
      let b = chunk as Buffer;
      if (skip > 0) {
        const n = Math.min(skip, b.length);
        b = b.subarray(n);
        skip -= n;
      }
      if (b.length > left) b = b.subarray(0, left);
      left -= b.length;
      if (b.length > 0) yield b;
      if (left === 0) return;
    }
    if (range !== undefined && left > 0) {
      throw new Error(`object store sent ${want - left} of the ${want} bytes asked for`);
    }
  }

  async delete(key: string): Promise<void> {
    await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.objectKey(key) }));
  }

  async deletePrefix(prefix: string): Promise<void> {
    // the folder's slash: `results/ab` never takes `results/abc/...` with it
    const folder = `${this.objectKey(prefix)}/`;
    // A page of up to 1000 keys, deleted in one request, then the next page: memory stays at one page
    // however many blobs the folder holds (an avatar's samples, a migration's leftovers).
    let ContinuationToken: string | undefined;
    for (;;) {
      const page = await this.client.send(
        new ListObjectsV2Command({
          Bucket: this.bucket,
          Prefix: folder,
          MaxKeys: DELETE_BATCH,
          ContinuationToken,
        }),
      );
      const keys = (page.Contents ?? []).flatMap((o) => (o.Key === undefined ? [] : [{ Key: o.Key }]));
      if (keys.length > 0) {
        const res = await this.client.send(
          new DeleteObjectsCommand({ Bucket: this.bucket, Delete: { Objects: keys, Quiet: true } }),
        );
        const failed = res.Errors ?? [];
        if (failed.length > 0) {
          const why = `${failed[0]?.Key ?? '?'}: ${failed[0]?.Code ?? ''} ${failed[0]?.Message ?? ''}`;
          throw new Error(`could not delete ${failed.length} blob(s) under ${prefix} (${why.trim()})`);
        }
      }
      if (page.IsTruncated !== true || page.NextContinuationToken === undefined) return;
      ContinuationToken = page.NextContinuationToken;
    }
  }

  publicUrl(key: string): string {
    return filesUrl(this.o.publicBaseUrl, key);
  }

  /** A GET URL of the object, valid `expiresInSec` (S3 allows at most 7 days). No request is made. */
  presignedUrl(key: string, expiresInSec: number): Promise<string> {
    const get = new GetObjectCommand({ Bucket: this.bucket, Key: this.objectKey(key) });
    return getSignedUrl(this.client, get, { expiresIn: expiresInSec });
  }
}

/** DHS_RESULT_URLS=presigned: every URL handed out is a fresh presigned GET of the object. */
export function presignedResultLinks(store: S3BlobStore, expiresInSec: number): ResultLinks {
  return { expiring: true, url: (key) => store.presignedUrl(key, expiresInSec) };
}

function bodyOf(body: unknown): Readable {
  // In Node the SDK's body is the HTTP response, a Readable (with the SDK's helpers mixed in).
  if (body instanceof Readable) return body;
  throw new Error('object store answered without a readable body');
}

function isNotFound(err: unknown): boolean {
  return (
    err instanceof S3ServiceException &&
    (err.name === 'NotFound' || err.name === 'NoSuchKey' || err.$metadata.httpStatusCode === 404)
  );
}
