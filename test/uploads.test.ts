import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { connect, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { JobStatus } from '../src/domain/jobs.ts';
import { uploadData } from '../src/domain/responses.ts';
import type { Fetcher } from '../src/repositories/fetcher.ts';
import { SafeFetcher } from '../src/repositories/safe-fetcher.ts';
import { safeFileName } from '../src/services/uploads.service.ts';
import { speechWav, videoH264 } from './helpers/fixtures.ts';
import { createHarness, type Credentials, type Envelope, type Harness } from './helpers/harness.ts';

/** A multipart/form-data body as a browser or curl -F sends it (serialized by undici's FormData). */
async function formData(parts: Array<{ field: string; bytes: Uint8Array; filename?: string }>) {
  const fd = new FormData();
  for (const p of parts) fd.append(p.field, new Blob([p.bytes]), p.filename ?? 'file.bin');
  const req = new Request('http://localhost/', { method: 'POST', body: fd });
  return {
    payload: Buffer.from(await req.arrayBuffer()),
    contentType: req.headers.get('content-type') ?? '',
  };
}

const CAP = 1024 * 1024;

describe('uploads (extension): POST /api/model/v5/files/upload', () => {
  let h: Harness;
  let c: Credentials;
  let token: string;
  let videoFile: string;
  let audioFile: string;
  const downloads: string[] = [];

  before(async () => {
    [videoFile, audioFile] = await Promise.all([
      videoH264({ seconds: 12, height: 360 }),
      speechWav({ lang: 'en', seconds: 6 }),
    ]);
    // No host is exempt from the private-address block (the harness's default allows 127.0.0.1, where
    // DHS_PUBLIC_URL points): an upload URL that were fetched would fail. Every fetch is recorded too.
    const real = new SafeFetcher({ allowHosts: [] });
    const fetcher: Fetcher = {
      checkUrl: (url) => real.checkUrl(url),
      download: (url, file, o) => {
        downloads.push(url);
        return real.download(url, file, o);
      },
      post: (url, body, headers, o) => real.post(url, body, headers, o),
    };
    h = await createHarness({
      worker: true,
      env: {
        DHS_FETCH_ALLOW_HOSTS: '',
        DHS_UPLOAD_MAX_BYTES: String(CAP),
        DHS_UPLOAD_TTL_DAYS: '7',
        DHS_REPEAT_WINDOW_MS: '0',
        DHS_LIPSYNC_ENGINE: 'passthrough',
      },
      overrides: {
        fetcher,
        // the face check has its own tests; this one is about where the file comes from
        face: { check: () => Promise.resolve({ framesChecked: 5, framesWithFace: 5 }) },
      },
    });
    c = await h.account({ points: 100, lite: 1 });
    token = await h.tokenFor(c);
  });
  after(() => h.close());

  const upload = async (
    parts: Array<{ field: string; bytes: Uint8Array; filename?: string }>,
    o: { token?: string | null; contentType?: string } = {},
  ) => {
    const body = await formData(parts);
    const tok = o.token === undefined ? token : o.token;
    const res = await h.app.inject({
      method: 'POST',
      url: '/api/model/v5/files/upload',
      headers: {
        'content-type': o.contentType ?? body.contentType,
        ...(tok === null ? {} : { 'authorization-token': tok }),
      },
      payload: body.payload,
    });
    assert.equal(res.statusCode, 200, res.body);
    return res.json<
      Envelope<{ url: string; name: string; size: number; contentType: string; expiresAt: number }>
    >();
  };

  const finished = (path: string, body: Record<string, unknown>) =>
    h.waitFor(
      async () => {
        const r = await h.post<Record<string, unknown>>(path, body, { token });
        return Number(r.data.status) >= JobStatus.DONE ? r.data : undefined;
      },
      120_000,
      `${path} to finish`,
    );

  test('an upload is streamed to the store and answered with its URL, which serves the bytes', async () => {
    const bytes = readFileSync(videoFile);
    const res = await upload([{ field: 'file', bytes, filename: '我的 clip (1).MP4' }]);
    assert.equal(res.code, 0, res.msg);
    uploadData.strict().parse(res.data);
    assert.equal(res.data.size, bytes.length);
    assert.equal(res.data.name, 'clip_1.mp4');
    assert.equal(res.data.contentType, 'video/mp4');
    assert.equal(res.data.expiresAt, h.clock.now() + 7 * 86_400_000);
    assert.match(
      res.data.url,
      /^http:\/\/127\.0\.0\.1:9\/files\/uploads\/[0-9a-f]{16}\/[0-9a-f]{32}\/clip_1\.mp4$/,
    );

    const path = new URL(res.data.url).pathname;
    const served = await h.app.inject({ method: 'GET', url: path });
    assert.equal(served.statusCode, 200);
    assert.equal(served.headers['content-type'], 'video/mp4');
    assert.ok(served.rawPayload.equals(bytes), 'the same bytes come back');
    const part = await h.app.inject({ method: 'GET', url: path, headers: { range: 'bytes=0-9' } });
    assert.equal(part.statusCode, 206);
    assert.ok(part.rawPayload.equals(bytes.subarray(0, 10)));
    assert.deepEqual(readdirSync(join(h.dataDir, 'uploads-tmp')), [], 'nothing staged is left behind');
  });

  test('a work and a voice training made from uploads run without any fetch', async () => {
    const video = await upload([{ field: 'file', bytes: readFileSync(videoFile), filename: 'face.mp4' }]);
    const audio = await upload([{ field: 'file', bytes: readFileSync(audioFile), filename: 'speech.wav' }]);
    assert.equal(video.code, 0, video.msg);
    assert.equal(audio.code, 0, audio.msg);

    const work = await h.post<{ jobId: string }>(
      '/works/create',
      { videoUrl: video.data.url, audioUrl: audio.data.url },
      { token },
    );
    assert.equal(work.code, 0, work.msg);
    const done = await finished('/works/inspect', { jobId: work.data.jobId });
    assert.equal(done.status, 3, String(done.errorMessage));
    assert.equal(done.duration, 6);

    const voice = await h.post<{ speakerId: string }>(
      '/voice/lite/train',
      { audioUrl: audio.data.url },
      { token },
    );
    assert.equal(voice.code, 0, voice.msg);
    const trained = await finished('/voice/lite/train/detail', { speakerId: voice.data.speakerId });
    assert.equal(trained.status, 3, String(trained.errorMessage));

    assert.deepEqual(downloads, [], 'the fetcher was never asked');
    // a file on the same machine by any other URL is refused, and the answer says what to do
    const outside = await h.post(
      '/works/create',
      { videoUrl: 'http://127.0.0.1:8080/v.mp4', text: 'hi' },
      { token, headers: { 'accept-language': 'en' } },
    );
    assert.equal(outside.code, 20012);
    assert.match(outside.msg, /127\.0\.0\.1 is .*loopback.*DHS_FETCH_ALLOW_HOSTS/);
    assert.match(outside.msg, /POST \/api\/model\/v5\/files\/upload/);
  });

  test("another account's upload URL is 20006 at submission", async () => {
    const mine = await upload([{ field: 'file', bytes: readFileSync(audioFile), filename: 'a.wav' }]);
    const other = await h.account({ points: 100, lite: 1 });
    const otherToken = await h.tokenFor(other);
    const work = await h.post(
      '/works/create',
      { videoUrl: 'https://example.com/v.mp4', audioUrl: mine.data.url },
      { token: otherToken },
    );
    assert.equal(work.code, 20006, work.msg);
    const asVideo = await h.post(
      '/works/create',
      { videoUrl: mine.data.url, text: 'hello' },
      { token: otherToken },
    );
    assert.equal(asVideo.code, 20006, asVideo.msg);
    const train = await h.post('/voice/lite/train', { audioUrl: mine.data.url }, { token: otherToken });
    assert.equal(train.code, 20006, train.msg);
    // an upload URL that names no upload at all is 20006 as well
    const made = mine.data.url.replace(/[0-9a-f]{32}/, '0'.repeat(32));
    assert.equal((await h.post('/voice/lite/train', { audioUrl: made }, { token })).code, 20006);
    // no slot was taken, no point moved
    const balance = await h.get<{ balance: number; voiceLiteUsedQuantity: number }>('/user/balance', {
      token: otherToken,
    });
    assert.deepEqual([balance.data.balance, balance.data.voiceLiteUsedQuantity], [100, 0]);
  });

  test('an upload over DHS_UPLOAD_MAX_BYTES is 20009 and leaves nothing behind', async () => {
    const res = await upload([{ field: 'file', bytes: new Uint8Array(CAP + 1), filename: 'big.mp4' }]);
    assert.equal(res.code, 20009, res.msg);
    const atCap = await upload([{ field: 'file', bytes: new Uint8Array(CAP).fill(1), filename: 'edge.bin' }]);
    assert.equal(atCap.code, 0, 'exactly the cap is allowed');
    assert.deepEqual(readdirSync(join(h.dataDir, 'uploads-tmp')), []);
    const rows = await h.runtime.database.db.selectFrom('uploads').select('name').execute();
    assert.ok(!rows.some((r) => r.name === 'big.mp4'));
  });

  test('what is not one file in a field named file is refused with a reason', async () => {
    const empty = await upload([{ field: 'file', bytes: new Uint8Array(0), filename: 'e.mp4' }]);
    assert.equal(empty.code, 20015);
    const wrongField = await upload([{ field: 'video', bytes: new Uint8Array(10) }]);
    assert.equal(wrongField.code, 20004);
    assert.match(wrongField.msg, /file/);
    const json = await h.post('/files/upload', { url: 'x' }, { token });
    assert.equal(json.code, 20004);
    assert.match(json.msg, /multipart/);
    const noToken = await upload([{ field: 'file', bytes: new Uint8Array(10) }], { token: null });
    assert.equal(noToken.code, 20002);
    // other routes keep reading any body as JSON: a multipart body there is 20004, not a file
    const body = await formData([{ field: 'file', bytes: new Uint8Array(10) }]);
    const elsewhere = await h.app.inject({
      method: 'POST',
      url: '/api/model/v5/works/inspect',
      headers: { 'content-type': body.contentType, 'authorization-token': token },
      payload: body.payload,
    });
    assert.equal(elsewhere.json<Envelope>().code, 20004);
  });

  test('uploads expire after DHS_UPLOAD_TTL_DAYS through the retention sweep', async () => {
    const up = await upload([{ field: 'file', bytes: readFileSync(audioFile), filename: 'old.wav' }]);
    assert.equal(up.code, 0);
    const path = new URL(up.data.url).pathname;
    h.clock.advance(7 * 86_400_000 + 1);
    // expired: refused at once, before the sweep has deleted it
    const late = await h.post('/voice/lite/train', { audioUrl: up.data.url }, { token: await h.tokenFor(c) });
    assert.equal(late.code, 20006);
    await h.runtime.scheduleRetention(0);
    h.worker.wake();
    const key = decodeURIComponent(path.slice('/files/'.length));
    await h.waitFor(
      async () =>
        (await h.runtime.database.db
          .selectFrom('uploads')
          .select('key')
          .where('key', '=', key)
          .executeTakeFirst()) === undefined
          ? true
          : undefined,
      20_000,
      'the sweep',
    );
    assert.equal(await h.runtime.blobs.stat(key), null);
    assert.equal((await h.app.inject({ method: 'GET', url: path })).statusCode, 404);
  });
});

test('safeFileName keeps a plain name and its extension, nothing else', () => {
  assert.equal(safeFileName('clip.mp4'), 'clip.mp4');
  assert.equal(safeFileName('C:\\Users\\me\\My Video.MOV'), 'My_Video.mov');
  assert.equal(safeFileName('../../etc/passwd'), 'passwd');
  assert.equal(safeFileName('视频.mp4'), 'file.mp4');
  assert.equal(safeFileName('..'), 'file');
  assert.equal(safeFileName(''), 'file');
  assert.equal(safeFileName('.hidden'), 'file.hidden');
  assert.ok(safeFileName(`${'a'.repeat(300)}.wav`).length <= 90);
});

test('an upload may take longer than DHS_REQUEST_TIMEOUT_MS; any other request may not', async () => {
  const h = await createHarness({
    env: { DHS_REQUEST_TIMEOUT_MS: '1000', DHS_HEADERS_TIMEOUT_MS: '1000', DHS_UPLOAD_TIMEOUT_MS: '60000' },
  });
  try {
    const token = await h.tokenFor(await h.account());
    await h.app.listen({ port: 0, host: '127.0.0.1' });
    const { port } = h.app.server.address() as AddressInfo;
    /** Sends the request's body in 8 pieces, 300 ms apart (2.4 s in all); the server's answer. */
    const trickle = (path: string, contentType: string, body: Buffer) =>
      new Promise<string>((resolve, reject) => {
        const s = connect(port, '127.0.0.1', () => {
          s.write(
            `POST ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nauthorization-token: ${token}\r\n` +
              `Content-Type: ${contentType}\r\nContent-Length: ${body.length}\r\n\r\n`,
          );
          const step = Math.ceil(body.length / 8);
          let at = 0;
          const drip = setInterval(() => {
            if (s.destroyed || at >= body.length) {
              clearInterval(drip);
              return;
            }
            s.write(body.subarray(at, at + step));
            at += step;
          }, 300);
          s.once('close', () => clearInterval(drip));
        });
        let answer = '';
        s.on('data', (d: Buffer) => (answer += d.toString()));
        s.on('close', () => resolve(answer));
        s.on('error', () => undefined);
        setTimeout(() => reject(new Error('no answer in 20 s')), 20_000).unref();
      });
    const form = await formData([
      { field: 'file', bytes: new Uint8Array(64 * 1024).fill(7), filename: 'slow.wav' },
    ]);
    const uploaded = await trickle('/api/model/v5/files/upload', form.contentType, form.payload);
    assert.match(uploaded, /^HTTP\/1\.1 200 /);
    assert.match(uploaded, /"code":0/);
    const json = Buffer.from(JSON.stringify({ jobId: 'x'.repeat(100) }));
    const inspect = await trickle('/api/model/v5/works/inspect', 'application/json', json);
    assert.match(inspect, /^HTTP\/1\.1 408 /);
  } finally {
    await h.close();
  }
});
