import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { HeadObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { loadConfig } from '../src/config.ts';
import { openBlobStore } from '../src/repositories/blob-stores.ts';
import { S3BlobStore } from '../src/repositories/s3-blobs.ts';
import { jobCallback } from '../src/services/views.ts';
import { blobStoreContract, scratchIn } from './contract/blobs.contract.ts';
import { tempDir } from './helpers/db.ts';
import { createHarness, type Harness } from './helpers/harness.ts';
import { startS3rver, type S3rverInstance } from './helpers/s3rver.ts';
import { startCallbackReceiver } from './helpers/servers.ts';

const MiB = 1024 * 1024;

// One s3rver (a child process on a free loopback port) for the whole file.
let server: Promise<S3rverInstance> | undefined;
const s3 = () => (server ??= startS3rver());
after(async () => {
  if (server !== undefined) await (await server).stop();
});

/** An S3 store on s3rver whose requests are recorded (operation, size of an in-memory body). */
function recordingStore(s: S3rverInstance, prefix: string, partSize = 5 * MiB) {
  const store = new S3BlobStore({
    bucket: s.bucket,
    prefix,
    publicBaseUrl: 'http://127.0.0.1:9',
    client: s.client,
    partSize,
    queueSize: 2,
  });
  let requests: Array<{ op: string; bytes: number | null }> = [];
  store.client.middlewareStack.add(
    (next, context) => async (args) => {
      const body = (args.input as { Body?: unknown }).Body;
      requests.push({
        op: context.commandName ?? '?',
        bytes: body instanceof Uint8Array ? body.byteLength : typeof body === 'string' ? body.length : null,
      });
      return next(args);
    },
    { step: 'initialize', name: 'recordRequests' },
  );
  const takeRequests = () => {
    const taken = requests;
    requests = [];
    return taken;
  };
  return { store, takeRequests };
}

blobStoreContract('S3 (s3rver, path-style)', async () => {
  const s = await s3();
  const root = tempDir('dhs-blobs-s3-');
  const partSize = 5 * MiB;
  const { store, takeRequests } = recordingStore(s, 'contract/dhs', partSize);
  return {
    store,
    scratch: scratchIn(root),
    takeRequests,
    partSize,
    close: async () => rmSync(root, { recursive: true, force: true }),
  };
});

describe('S3 store wiring', () => {
  test('DHS_BLOB_URL=s3://bucket/prefix with the SDK standard environment: objects land under the prefix', async () => {
    const s = await s3();
    const env = { DHS_DATA_DIR: tempDir(), DHS_PUBLIC_URL: 'http://dhs.example', ...s.env('tenant-a/dhs') };
    const config = loadConfig(env);
    assert.deepEqual(config.blobs, {
      kind: 's3',
      bucket: s.bucket,
      prefix: 'tenant-a/dhs',
      forcePathStyle: true,
      region: 'us-east-1',
    });
    // the client reads AWS_ENDPOINT_URL_S3 and the keys from the process environment, as in production
    const saved = { ...process.env };
    Object.assign(process.env, env);
    try {
      const store = openBlobStore(config.blobs, config);
      const src = join(scratchIn(config.dataDir), 'speech.mp3');
      writeFileSync(src, 'mp3');
      await store.put('results/feed01/speech.mp3', src);
      assert.equal((await store.stat('results/feed01/speech.mp3'))?.size, 3);
      assert.equal(
        store.publicUrl('results/feed01/speech.mp3'),
        'http://dhs.example/files/results/feed01/speech.mp3',
      );
    } finally {
      for (const k of Object.keys(env)) if (!(k in saved)) delete process.env[k];
      Object.assign(process.env, saved);
      rmSync(config.dataDir, { recursive: true, force: true });
    }
    const raw = new S3Client(s.client);
    const listed = await raw.send(new ListObjectsV2Command({ Bucket: s.bucket, Prefix: 'tenant-a/' }));
    assert.deepEqual(
      listed.Contents?.map((o) => o.Key),
      ['tenant-a/dhs/results/feed01/speech.mp3'],
    );
    const head = await raw.send(
      new HeadObjectCommand({ Bucket: s.bucket, Key: 'tenant-a/dhs/results/feed01/speech.mp3' }),
    );
    assert.equal(
      head.ContentType,
      'audio/mpeg',
      'stored with its media type (presigned GETs answer with it)',
    );
    raw.destroy();
  });
});

describe('results on S3 through the HTTP API', () => {
  let s: S3rverInstance;
  let root: string;
  let store: S3BlobStore;
  before(async () => {
    s = await s3();
    root = tempDir('dhs-blobs-s3-http-');
    store = new S3BlobStore({
      bucket: s.bucket,
      prefix: 'http',
      publicBaseUrl: 'http://127.0.0.1:9',
      client: s.client,
    });
    const src = join(scratchIn(root), 'video.mp4');
    writeFileSync(src, 'abcdefghij');
    await store.put('results/beef01/video.mp4', src);
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  test('GET /files streams the object: Content-Length, the store ETag, If-None-Match, ranges, 404', async () => {
    const h = await createHarness({ overrides: { blobs: store } });
    try {
      const info = await store.stat('results/beef01/video.mp4');
      assert.ok(info);
      const whole = await h.app.inject({ method: 'GET', url: '/files/results/beef01/video.mp4' });
      assert.equal(whole.statusCode, 200);
      assert.equal(whole.body, 'abcdefghij');
      assert.equal(whole.headers['content-length'], '10');
      assert.equal(whole.headers['content-type'], 'video/mp4');
      assert.equal(whole.headers['etag'], info.etag, "the object store's own ETag");
      assert.match(String(whole.headers['etag']), /^"[0-9a-f]{32}"$/);

      const same = await h.app.inject({
        method: 'GET',
        url: '/files/results/beef01/video.mp4',
        headers: { 'if-none-match': info.etag },
      });
      assert.equal(same.statusCode, 304);

      const part = await h.app.inject({
        method: 'GET',
        url: '/files/results/beef01/video.mp4',
        headers: { range: 'bytes=3-5' },
      });
      assert.equal(part.statusCode, 206);
      assert.equal(part.body, 'def');
      assert.equal(part.headers['content-range'], 'bytes 3-5/10');
      assert.equal(part.headers['content-length'], '3');
      const tail = await h.app.inject({
        method: 'GET',
        url: '/files/results/beef01/video.mp4',
        headers: { range: 'bytes=-4' },
      });
      assert.equal(tail.body, 'ghij');
      const beyond = await h.app.inject({
        method: 'GET',
        url: '/files/results/beef01/video.mp4',
        headers: { range: 'bytes=10-' },
      });
      assert.equal(beyond.statusCode, 416);

      assert.equal(
        (await h.app.inject({ method: 'GET', url: '/files/results/beef01/none.mp4' })).statusCode,
        404,
      );
    } finally {
      await h.close();
    }
  });
});

describe('DHS_RESULT_URLS=presigned', () => {
  let s: S3rverInstance;
  let h: Harness;
  let receiver: Awaited<ReturnType<typeof startCallbackReceiver>>;
  let scratch: string;
  before(async () => {
    s = await s3();
    receiver = await startCallbackReceiver();
    const store = new S3BlobStore({
      bucket: s.bucket,
      prefix: 'presigned',
      publicBaseUrl: 'http://127.0.0.1:9',
      client: s.client,
    });
    h = await createHarness({
      worker: true,
      env: { ...s.env('presigned'), DHS_RESULT_URLS: 'presigned', DHS_RESULT_URL_TTL: '600' },
      overrides: { blobs: store },
    });
    scratch = scratchIn(h.dataDir);
  });
  after(async () => {
    await h.close();
    await receiver.close();
  });

  test('inspect and the callback hand out time-limited URLs of the bucket, made when handed out', async () => {
    const c = await h.account({ points: 100 });
    const token = await h.tokenFor(c);
    const res = await h.post<{ jobId: string }>(
      '/works/create',
      { videoUrl: 'https://media.example/v.mp4', text: 'Hello.', callbackUrl: receiver.url() },
      { token },
    );
    assert.equal(res.code, 0);
    const jobId = res.data.jobId;
    const before = await h.post<Record<string, unknown>>('/works/inspect', { jobId }, { token });
    assert.equal(before.data.videoUrl, '', 'nothing to link to before the job is done');

    // finish the job as the work handler does: results stored, then the job completed
    const video = join(scratch, 'video.mp4');
    writeFileSync(video, 'video bytes');
    const speech = join(scratch, 'speech.mp3');
    writeFileSync(speech, 'speech bytes');
    await h.runtime.blobs.put('results/f00d01/video.mp4', video);
    await h.runtime.blobs.put('results/f00d01/speech.mp3', speech);
    const account = await h.runtime.accounts.findById(c.userId);
    assert.ok(account);
    await h.runtime.jobs.complete(
      jobId,
      {
        resultUrl: h.runtime.blobs.publicUrl('results/f00d01/video.mp4'),
        resultKey: 'results/f00d01/video.mp4',
        newAudioUrl: h.runtime.blobs.publicUrl('results/f00d01/speech.mp3'),
        newAudioKey: 'results/f00d01/speech.mp3',
        durationSec: 1,
      },
      jobCallback(account),
    );

    const done = await h.post<{ videoUrl: string; newAudioUrl: string }>(
      '/works/inspect',
      { jobId },
      { token },
    );
    for (const [url, body, type] of [
      [done.data.videoUrl, 'video bytes', 'video/mp4'],
      [done.data.newAudioUrl, 'speech bytes', 'audio/mpeg'],
    ] as const) {
      const u = new URL(url);
      assert.equal(u.origin, s.endpoint, 'straight from the object store: no hop through the API');
      assert.equal(u.searchParams.get('X-Amz-Expires'), '600', 'valid DHS_RESULT_URL_TTL seconds');
      assert.ok(u.searchParams.get('X-Amz-Signature'));
      const got = await fetch(url);
      assert.equal(got.status, 200);
      assert.equal(got.headers.get('content-type'), type);
      assert.equal(await got.text(), body);
    }
    const ranged = await fetch(done.data.videoUrl, { headers: { range: 'bytes=0-4' } });
    assert.equal(ranged.status, 206, 'ranges and ETags are the object store own');
    assert.equal(await ranged.text(), 'video');

    // the row keeps keys and the permanent URL; the callback's queued body too, with the links to refresh
    const row = await h.runtime.jobs.get(jobId);
    assert.equal(row?.result_key, 'results/f00d01/video.mp4');
    assert.equal(row?.new_audio_key, 'results/f00d01/speech.mp3');
    const queued = (await h.runtime.queue.listByRef(jobId)).find((q) => q.kind === 'callback');
    const payload = JSON.parse(String(queued?.payload)) as { body: Record<string, unknown>; links?: unknown };
    assert.equal(payload.body['videoUrl'], 'http://127.0.0.1:9/files/results/f00d01/video.mp4');
    assert.deepEqual(payload.links, {
      videoUrl: 'results/f00d01/video.mp4',
      newAudioUrl: 'results/f00d01/speech.mp3',
    });

    h.worker.wake();
    await receiver.waitFor(1);
    const sent = JSON.parse(receiver.received[0]?.body ?? '{}') as Record<string, string>;
    assert.equal(new URL(String(sent['videoUrl'])).origin, s.endpoint, 'made at delivery');
    assert.equal(new URL(String(sent['newAudioUrl'])).origin, s.endpoint);
    assert.equal(await (await fetch(String(sent['videoUrl']))).text(), 'video bytes');
  });
});
