import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import {
  DhsClient,
  DhsError,
  ErrorCode,
  JobStatus,
  WebhookVerificationError,
  md5,
  signToken,
  verifyWebhook,
  type WaitProgress,
  type WorkStatus,
} from '../sdk/src/index.ts';
import { signWebhook, webhookHeaders } from '../src/domain/callbacks.ts';
import { speechWav, videoH264 } from './helpers/fixtures.ts';
import type { Credentials, Harness } from './helpers/harness.ts';
import { startLiveServer } from './helpers/live-server.ts';
import { startCallbackReceiver, startFileServer } from './helpers/servers.ts';

const root = join(import.meta.dirname, '..');

describe('sdk: md5 and signing', () => {
  test('md5 equals node:crypto on bytes of every length around the block edges, and on text', () => {
    for (let n = 0; n < 300; n++) {
      const b = randomBytes(n);
      assert.equal(md5(b), createHash('md5').update(b).digest('hex'), `length ${n}`);
    }
    const big = randomBytes(1_000_003);
    assert.equal(md5(big), createHash('md5').update(big).digest('hex'));
    for (const s of ['', 'abc', '你好，数字人', 'emoji 🎬 and ß', 'a'.repeat(1000)])
      assert.equal(md5(s), createHash('md5').update(s, 'utf8').digest('hex'), s);
    assert.equal(md5('abc'), '900150983cd24fb0d6963f7d28e17f72');
  });

  test('signToken is md5(accessKey + timestamp + secretKey), lowercase hex', () => {
    const expected = createHash('md5')
      .update('ak_1' + '1700000000000' + 'sk_2')
      .digest('hex');
    assert.equal(signToken('ak_1', 1700000000000, 'sk_2'), expected);
    assert.equal(signToken('ak_1', '1700000000000', 'sk_2'), expected);
  });
});

describe('sdk: verifyWebhook', () => {
  const secret = `whsec_${randomBytes(24).toString('base64')}`;
  const body = JSON.stringify({ jobId: 'w_1', status: 3, videoUrl: 'http://x/y.mp4', text: '你好' });
  const nowSec = Math.floor(Date.now() / 1000);

  test('accepts what the server signs, as a plain object or fetch Headers, string or bytes', async () => {
    const headers = webhookHeaders(secret, 'msg_w_1_3', nowSec, body);
    assert.deepEqual(await verifyWebhook(headers, body, secret), JSON.parse(body));
    assert.deepEqual(await verifyWebhook(new Headers(headers), Buffer.from(body), secret), JSON.parse(body));
    // Node's req.headers are lowercase; other servers may keep the case
    const upper = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toUpperCase(), v]));
    assert.equal((await verifyWebhook<{ jobId: string }>(upper, body, secret)).jobId, 'w_1');
    // several signatures (a secret being rotated): one match is enough
    const rotated = { ...headers, 'webhook-signature': `v1,AAAA ${headers['webhook-signature']}` };
    assert.ok(await verifyWebhook(rotated, body, secret));
  });

  test('refuses a changed body, another secret, an old timestamp, missing headers', async () => {
    const headers = webhookHeaders(secret, 'msg_w_1_3', nowSec, body);
    const refused = (p: Promise<unknown>, re: RegExp) =>
      assert.rejects(p, (err: unknown) => err instanceof WebhookVerificationError && re.test(err.message));
    await refused(
      verifyWebhook(headers, body.replace('"status":3', '"status":4'), secret),
      /no webhook-signature/,
    );
    await refused(verifyWebhook(headers, body, `whsec_${randomBytes(24).toString('base64')}`), /no webhook/);
    const old = webhookHeaders(secret, 'msg_w_1_3', nowSec - 3600, body);
    await refused(verifyWebhook(old, body, secret), /from now/);
    assert.ok(await verifyWebhook(old, body, secret, { toleranceSec: 7200 }));
    await refused(verifyWebhook({ 'webhook-id': 'x' }, body, secret), /missing/);
    await refused(verifyWebhook({ ...headers, 'webhook-timestamp': '1.5' }, body, secret), /Unix seconds/);
    await refused(verifyWebhook(headers, body, 'whsec_%%%'), /whsec_/);
  });

  test('without WebCrypto it falls back to node:crypto', async (t) => {
    const desc = Object.getOwnPropertyDescriptor(globalThis, 'crypto');
    if (desc?.configurable !== true) return t.skip('globalThis.crypto cannot be replaced here');
    Object.defineProperty(globalThis, 'crypto', { value: undefined, configurable: true });
    try {
      const headers = { 'webhook-id': 'm', 'webhook-timestamp': String(nowSec) };
      const signed = { ...headers, 'webhook-signature': signWebhook(secret, 'm', nowSec, body) };
      assert.ok(await verifyWebhook(signed, body, secret));
      await assert.rejects(verifyWebhook({ ...signed, 'webhook-id': 'n' }, body, secret));
    } finally {
      Object.defineProperty(globalThis, 'crypto', desc);
    }
  });
});

describe('sdk: upload request shape (a stub server)', () => {
  test('POST /files/upload, multipart field `file` with the name, a token header, from a path or a Blob', async () => {
    const seen: Array<{ url: string; headers: IncomingMessage['headers']; body: Buffer }> = [];
    const stub = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        seen.push({ url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks) });
        res.setHeader('content-type', 'application/json');
        if (req.url?.startsWith('/api/model/v5/oauth/token'))
          return res.end(
            JSON.stringify({ code: 0, msg: '', data: { token: 'tok', expiresIn: Date.now() + 3600_000 } }),
          );
        res.end(
          JSON.stringify({
            code: 0,
            msg: '',
            data: {
              url: 'http://s/files/uploads/a/clip.mp4',
              name: 'clip.mp4',
              size: 5,
              contentType: 'video/mp4',
              expiresAt: 1,
            },
          }),
        );
      });
    });
    await new Promise<void>((r) => stub.listen(0, '127.0.0.1', r));
    const dir = mkdtempSync(join(tmpdir(), 'dhs-sdk-'));
    try {
      const file = join(dir, 'clip.mp4');
      writeFileSync(file, 'hello');
      const client = new DhsClient({
        baseUrl: `http://127.0.0.1:${(stub.address() as AddressInfo).port}`,
        accessKey: 'ak',
        secretKey: 'sk',
      });
      const up = await client.upload(file);
      assert.equal(up.url, 'http://s/files/uploads/a/clip.mp4');
      await client.upload(new Blob(['bytes of a blob'], { type: 'audio/wav' }), { name: 'voice.wav' });
      const uploads = seen.filter((s) => s.url === '/api/model/v5/files/upload');
      assert.equal(uploads.length, 2);
      assert.equal(seen.filter((s) => s.url.startsWith('/api/model/v5/oauth/token')).length, 1, 'one token');
      for (const u of uploads) {
        assert.equal(u.headers['authorization-token'], 'tok');
        assert.match(String(u.headers['content-type']), /^multipart\/form-data; boundary=/);
      }
      const first = uploads[0]!.body.toString('utf8');
      assert.match(first, /Content-Disposition: form-data; name="file"; filename="clip.mp4"/i);
      assert.match(first, /Content-Type: video\/mp4\r\n\r\nhello\r\n/i);
      const second = uploads[1]!.body.toString('utf8');
      assert.match(second, /name="file"; filename="voice.wav"/);
      assert.match(second, /Content-Type: audio\/wav\r\n\r\nbytes of a blob\r\n/i);
      await assert.rejects(client.upload(join(dir, 'missing.mp4')), /ENOENT/);
    } finally {
      stub.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('sdk against the running server', () => {
  let h: Harness;
  let url: string;
  let c: Credentials;
  let files: Awaited<ReturnType<typeof startFileServer>>;
  let receiver: Awaited<ReturnType<typeof startCallbackReceiver>>;
  const tokenRequests: string[] = [];
  /** Counts token requests; `corruptNext` sends one wrong token (as if revoked) to see the client recover. */
  let corruptNext = false;
  const countingFetch: typeof fetch = async (input, init) => {
    const u = String(input);
    if (u.includes('/oauth/token')) tokenRequests.push(u);
    const headers = new Headers(init?.headers);
    if (corruptNext && headers.has('authorization-token')) {
      corruptNext = false;
      headers.set('authorization-token', 'revoked-token');
    }
    return fetch(input, { ...init, headers });
  };
  const client = (o: Partial<ConstructorParameters<typeof DhsClient>[0]> = {}) =>
    new DhsClient({
      baseUrl: url,
      accessKey: c.accessKey,
      secretKey: c.secretKey,
      fetch: countingFetch,
      ...o,
    });

  before(async () => {
    const [video, speech] = await Promise.all([
      videoH264({ seconds: 12 }),
      speechWav({ lang: 'en', seconds: 8 }),
    ]);
    files = await startFileServer({ 'v.mp4': video, 'en.wav': speech });
    receiver = await startCallbackReceiver();
    ({ h, url } = await startLiveServer({ DHS_TOKEN_TTL: '60' }));
    c = await h.account({ points: 1000, lite: 1, pro: 1 });
  });
  after(async () => {
    await h.close();
    await files.close();
    await receiver.close();
  });

  test('a token is cached, shared by concurrent calls, renewed before it expires', async () => {
    let offset = 0;
    const dhs = client({ now: () => Date.now() + offset });
    const before = tokenRequests.length;
    const balances = await Promise.all(Array.from({ length: 5 }, () => dhs.balance()));
    assert.equal(tokenRequests.length - before, 1, 'one token for five concurrent calls');
    assert.equal(balances[0]!.balance, 1000);
    assert.equal(balances[0]!.voiceLiteTotalQuantity, 1);
    const first = await dhs.token();
    assert.equal(tokenRequests.length - before, 1);
    // DHS_TOKEN_TTL 60 s: inside the last half of its life the client signs for a new one
    offset = 31_000;
    const second = await dhs.token();
    assert.notEqual(second, first);
    assert.equal(tokenRequests.length - before, 2);
    assert.equal((await dhs.balance()).balance, 1000);
  });

  test('a refused token (20002) is replaced once, transparently', async () => {
    const dhs = client();
    await dhs.balance();
    const before = tokenRequests.length;
    corruptNext = true;
    assert.equal((await dhs.balance()).balance, 1000);
    assert.equal(tokenRequests.length - before, 1);
  });

  test('a clock ten minutes off is corrected from the server Date header', async () => {
    const dhs = client({ now: () => Date.now() - 10 * 60_000 });
    assert.equal((await dhs.balance()).balance, 1000);
  });

  test('refusals are DhsError with the seed code and message (zh by default, en on request)', async () => {
    await assert.rejects(client().works.inspect('w_nope'), (err: unknown) => {
      assert.ok(err instanceof DhsError);
      assert.equal(err.code, ErrorCode.NOT_FOUND);
      assert.ok(err.requestId);
      return true;
    });
    await assert.rejects(
      client({ secretKey: 'wrong' }).balance(),
      (err: unknown) => err instanceof DhsError && err.code === ErrorCode.BAD_SIGNATURE,
    );
    await assert.rejects(
      client({ lang: 'en' }).works.create({ videoUrl: files.url('v.mp4') }),
      (err: unknown) => err instanceof DhsError && err.code === 20016 && /[a-z]/.test(err.message),
    );
    await assert.rejects(
      client().voice.pro.trainDetail('nobody'),
      (err: unknown) => (err as DhsError).code === 20006,
    );
    await assert.rejects(
      client().voice.lite.createDetail('sl_nothing'),
      (err: unknown) => (err as DhsError).code === 20006,
    );
    await assert.rejects(
      new DhsClient({ baseUrl: 'http://127.0.0.1:9', accessKey: 'a', secretKey: 'b' }).balance(),
      (err: unknown) => err instanceof DhsError && err.code === ErrorCode.NETWORK && err.transient,
    );
  });

  test('works: create, waitFor with progress, result, callback verified with verifyWebhook', async () => {
    const dhs = client();
    const { jobId } = await dhs.works.create({
      videoUrl: files.url('v.mp4'),
      text: 'Hello from the SDK.',
      title: 'sdk',
      callbackUrl: receiver.url('/sdk'),
    });
    assert.match(jobId, /^w_/);
    const seen: Array<WaitProgress<WorkStatus>> = [];
    const done = await dhs.waitFor(
      { jobId },
      { onProgress: (p) => seen.push(p), intervalMs: 100, maxIntervalMs: 500 },
    );
    assert.equal(done.status, JobStatus.DONE, done.errorMessage);
    assert.ok(done.duration >= 1);
    assert.equal(done.progress, 100);
    assert.ok(seen.length >= 1);
    assert.equal(seen.at(-1)?.status, JobStatus.DONE);
    for (let i = 1; i < seen.length; i++)
      assert.ok(seen[i]!.progress >= seen[i - 1]!.progress, 'progress only grows');
    const res = await fetch(done.videoUrl);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'video/mp4');

    await receiver.waitFor(1);
    const delivery = receiver.received.find((r) => r.body.includes(jobId));
    assert.ok(delivery);
    const payload = await verifyWebhook<{ jobId: string; status: number }>(
      delivery.headers,
      delivery.body,
      c.webhookSecret,
    );
    assert.equal(payload.jobId, jobId);
    assert.equal(payload.status, 3);
    await assert.rejects(
      verifyWebhook(delivery.headers, `${delivery.body} `, c.webhookSecret),
      WebhookVerificationError,
    );

    const bills = await dhs.bills({ pn: 1, ds: 10 });
    assert.ok(bills.list.some((b) => b.jobId === jobId && b.type === 'WORK' && b.fee === done.duration));

    // the works list (extension) shows it with the same status body, its fee and title; pages hold
    const works = await dhs.works.list({ pn: 1, ds: 100 });
    const row = works.list.find((w) => w.jobId === jobId);
    assert.ok(row, 'the finished work is listed');
    assert.equal(row.status, JobStatus.DONE);
    assert.equal(row.videoUrl, done.videoUrl);
    assert.equal(row.fee, done.duration);
    assert.ok(row.createdAt > 0 && row.finishedAt >= row.createdAt);
    assert.ok(works.total >= works.list.length);
    const times = works.list.map((w) => w.createdAt);
    assert.deepEqual(
      times,
      [...times].sort((x, y) => y - x),
      'newest first',
    );
    const pageOfOne = await dhs.works.list({ pn: 1, ds: 1 });
    assert.equal(pageOfOne.list.length, 1);
    assert.equal(pageOfOne.total, works.total);
  });

  test('waitFor: a failed job throws its code with the final body; timeouts and aborts end the wait', async () => {
    const dhs = client();
    const { jobId } = await dhs.works.create({ videoUrl: files.url('missing.mp4'), text: 'Hello.' });
    await assert.rejects(dhs.waitFor(jobId, { intervalMs: 50 }), (err: unknown) => {
      assert.ok(err instanceof DhsError);
      assert.equal(err.code, ErrorCode.VIDEO_FETCH_FAILED);
      assert.equal(err.jobId, jobId);
      assert.equal((err.data as WorkStatus).status, JobStatus.FAILED);
      assert.ok(err.message.length > 0);
      return true;
    });
    const slow = await dhs.works.create({ videoUrl: files.url('v.mp4'), text: 'Waiting is not forever.' });
    await assert.rejects(
      dhs.waitFor(slow.jobId, { timeoutMs: 1 }),
      (err: unknown) => err instanceof DhsError && err.code === ErrorCode.TIMEOUT && err.jobId === slow.jobId,
    );
    const controller = new AbortController();
    const waiting = dhs.waitFor(slow.jobId, { signal: controller.signal, intervalMs: 10_000 });
    setTimeout(() => controller.abort(new Error('stop')), 50);
    await assert.rejects(waiting, /stop/);
    await dhs.waitFor(slow.jobId); // let it finish before the next test counts bills
  });

  test('voices: LITE training waited on by speaker id, then speech waited on by its sl_ job id', async () => {
    const dhs = client();
    const { speakerId } = await dhs.voice.lite.train({ audioUrl: files.url('en.wav') });
    const trained = await dhs.waitFor({ speakerId, tier: 'lite' }, { intervalMs: 100 });
    assert.equal(trained.status, JobStatus.DONE, trained.errorMessage);
    assert.equal(trained.type, 'LITE');
    assert.equal((await dhs.voice.lite.trainDetail(speakerId)).status, 3);
    const voices = await dhs.voice.list();
    const listed = voices.list.find((v) => v.speakerId === speakerId);
    assert.equal(listed?.type, 'LITE');
    assert.equal(listed?.status, JobStatus.DONE);
    assert.equal(listed?.trainings, 1);
    const { jobId } = await dhs.voice.lite.create({
      speakerId,
      content: 'Testing the voice.',
      speedRatio: '1.1',
    });
    assert.match(jobId, /^sl_/);
    const speech = await dhs.waitFor(jobId, { intervalMs: 100 });
    assert.equal(speech.status, JobStatus.DONE);
    assert.ok('url' in speech && /\.mp3$/.test(speech.url));
    assert.equal((await dhs.voice.lite.createDetail(jobId)).jobId, jobId);
    // the speech list (extension): the finished job with its url, voice, text and fee
    const spoken = (await dhs.voice.speeches({ pn: 1, ds: 10 })).list.find((r) => r.jobId === jobId);
    assert.equal(spoken?.url, speech.url);
    assert.equal(spoken?.speakerId, speakerId);
    assert.equal(spoken?.text, 'Testing the voice.');
    assert.ok((spoken?.fee ?? 0) > 0 && (spoken?.finishedAt ?? 0) > 0);
    const balance = await dhs.balance();
    assert.equal(balance.voiceLiteUsedQuantity, 1);
  });

  test('upload to this server, then a work made from the uploaded file', async (t) => {
    const dhs = client();
    const video = await videoH264({ seconds: 12 });
    let uploaded;
    try {
      uploaded = await dhs.upload(video);
    } catch (err) {
      if (err instanceof DhsError && err.code === ErrorCode.NOT_FOUND && /files\/upload/.test(err.message))
        return t.skip('this server has no POST /files/upload yet');
      throw err;
    }
    assert.match(uploaded.url, /\/files\/uploads\//);
    assert.equal(uploaded.size, readFileSync(video).length);
    const { jobId } = await dhs.works.create({ videoUrl: uploaded.url, text: 'Made from an upload.' });
    const done = await dhs.waitFor({ jobId, kind: 'work' });
    assert.equal(done.status, 3, done.errorMessage);
  });

  test('the package builds (tsc) and runs on plain Node, without tsx', async () => {
    const run = promisify(execFile);
    const out = mkdtempSync(join(tmpdir(), 'dhs-sdk-dist-'));
    try {
      await run(process.execPath, [
        join(root, 'node_modules/typescript/bin/tsc'),
        ...['-p', join(root, 'sdk/tsconfig.json'), '--outDir', out],
      ]);
      const script = `
        const { DhsClient } = await import(${JSON.stringify(join(out, 'index.js'))});
        const dhs = new DhsClient({ baseUrl: process.env.URL, accessKey: process.env.AK, secretKey: process.env.SK });
        console.log(JSON.stringify(await dhs.balance()));`;
      // no --import tsx here: the built JavaScript alone
      const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], {
        env: { PATH: process.env.PATH, URL: url, AK: c.accessKey, SK: c.secretKey },
      });
      assert.equal(typeof JSON.parse(stdout).balance, 'number');
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});
