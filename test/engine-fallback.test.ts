import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { JobStatus } from '../src/domain/jobs.ts';
import { startFakeHeyGem, type FakeHeyGem } from '../src/engines/remote/fake-heygem.ts';
import { speechWav, testMedia, videoH264 } from './helpers/fixtures.ts';
import { createHarness, type Harness } from './helpers/harness.ts';
import { startCallbackReceiver, startFileServer } from './helpers/servers.ts';

/**
 * DHS_ENGINE_FALLBACK=local through the API: remote engines that cannot be reached (a loopback port
 * with nothing listening) are replaced by the local ones, and the job says so in `engineNote`; without
 * the variable the same jobs fail naming the engine; an engine that answers badly fails the job even
 * with it.
 */

type Files = Awaited<ReturnType<typeof startFileServer>>;

async function freePort(): Promise<number> {
  return new Promise((res) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => res(p));
    });
  });
}

/** A remote setup: HeyGem for lips, CosyVoice for LITE voices, at the given URLs. */
function remoteEnv(heygemUrl: string, heygemDir: string, cosyvoiceUrl: string): Record<string, string> {
  return {
    DHS_REPEAT_WINDOW_MS: '0',
    DHS_JOB_MAX_ATTEMPTS: '1',
    DHS_LIPSYNC_ENGINE: 'heygem',
    DHS_HEYGEM_URL: heygemUrl,
    DHS_HEYGEM_DATA_DIR: heygemDir,
    DHS_HEYGEM_POLL_MS: '20',
    DHS_HEYGEM_STALL_MS: '1000',
    DHS_SPEECH_ENGINE: 'cosyvoice',
    DHS_COSYVOICE_URL: cosyvoiceUrl,
  };
}

/** One account, its token, and the API calls the suites make with them. */
async function customer(h: Harness, files: Files) {
  const c = await h.account({ points: 1000, lite: 2 });
  const token = await h.tokenFor(c);
  const finished = (path: string, body: Record<string, unknown>, lang: 'zh' | 'en' = 'en') =>
    h.waitFor(
      async () => {
        const r = await h.post<Record<string, unknown>>(path, body, {
          token,
          headers: { 'accept-language': lang },
        });
        return Number(r.data.status) >= JobStatus.DONE ? r.data : undefined;
      },
      180_000,
      `${path} to finish`,
    );
  return {
    finished,
    balance: async () => (await h.get<{ balance: number }>('/user/balance', { token })).data.balance,
    /** An audio-driven work; its inspect body once finished (English messages). */
    async work() {
      const res = await h.post<{ jobId: string }>(
        '/works/create',
        { videoUrl: files.url('v.mp4'), audioUrl: files.url('en.wav') },
        { token },
      );
      assert.equal(res.code, 0, res.msg);
      return { jobId: res.data.jobId, d: await finished('/works/inspect', { jobId: res.data.jobId }) };
    },
    /** Trains a LITE voice (this never calls the speech engine) and speaks with it. */
    async speech(callbackUrl?: string) {
      const tr = await h.post<{ speakerId: string }>(
        '/voice/lite/train',
        { audioUrl: files.url('zh.wav') },
        { token },
      );
      assert.equal(tr.code, 0, tr.msg);
      const td = await finished('/voice/lite/train/detail', { speakerId: tr.data.speakerId });
      assert.equal(td.status, 3, `training works whatever the engine: ${String(td.errorMessage)}`);
      const s = await h.post<{ jobId: string }>(
        '/voice/lite/create',
        {
          speakerId: tr.data.speakerId,
          content: 'Good evening.',
          ...(callbackUrl === undefined ? {} : { callbackUrl }),
        },
        { token },
      );
      assert.equal(s.code, 0, s.msg);
      return { jobId: s.data.jobId, d: await finished('/voice/lite/create/detail', { jobId: s.data.jobId }) };
    },
  };
}

async function fixtures() {
  const [video, en, zh] = await Promise.all([
    videoH264({ seconds: 12, height: 360 }),
    speechWav({ lang: 'en', seconds: 6 }),
    speechWav({ lang: 'zh', seconds: 8 }),
  ]);
  return startFileServer({ 'v.mp4': video, 'en.wav': en, 'zh.wav': zh });
}

async function metricsText(h: Harness): Promise<string> {
  return (await h.app.inject({ method: 'GET', url: '/metrics' })).body;
}

describe('DHS_ENGINE_FALLBACK=local, remote engines unreachable: the local engines render, the job says so', () => {
  let root: string;
  let files: Files;
  let h: Harness;

  before(async () => {
    root = mkdtempSync(join(tmpdir(), 'dhs-fallback-'));
    mkdirSync(join(root, 'heygem-data'));
    files = await fixtures();
    h = await createHarness({
      worker: true,
      env: {
        ...remoteEnv(
          `http://127.0.0.1:${await freePort()}`,
          join(root, 'heygem-data'),
          `http://127.0.0.1:${await freePort()}`,
        ),
        DHS_ENGINE_FALLBACK: 'local',
      },
    });
  });
  after(async () => {
    await h.close();
    await files.close();
    rmSync(root, { recursive: true, force: true });
  });

  test('a work: rendered by the local lip-sync engine, charged, engineNote names HeyGem', async () => {
    const me = await customer(h, files);
    const before = await me.balance();
    const { jobId, d } = await me.work();
    assert.equal(d.status, 3, String(d.errorMessage));
    assert.equal(d.duration, 6);
    assert.match(
      String(d.engineNote),
      /^rendered with the local engine: HeyGem at 127\.0\.0\.1:\d+ did not answer for \d+ s \(last: .*connection refused\)\)$/,
    );
    const out = join(root, 'work.mp4');
    const res = await h.app.inject({ method: 'GET', url: new URL(String(d.videoUrl)).pathname });
    assert.equal(res.statusCode, 200);
    writeFileSync(out, res.rawPayload);
    const info = await testMedia().probe(out);
    assert.equal(info.video?.height, 360, "the local engine's output keeps the source's size");
    assert.ok(Math.abs(info.durationSec - 6) < 0.2, `duration ${info.durationSec}`);
    assert.equal(before - (await me.balance()), 6);
    assert.deepEqual(readdirSync(join(root, 'heygem-data', 'temp')), [], 'inputs copied for HeyGem removed');
    const zh = await me.finished('/works/inspect', { jobId }, 'zh');
    assert.match(String(zh.engineNote), /^已改用本地引擎生成视频：HeyGem（127\.0\.0\.1:\d+）/);
    assert.match(await metricsText(h), /dhs_engine_fallbacks_total\{engine="HeyGem"\} 1/);
  });

  test('LITE speech: spoken by the local engine, engineNote names CosyVoice, in the callback too', async () => {
    const me = await customer(h, files);
    const receiver = await startCallbackReceiver();
    try {
      const { d } = await me.speech(receiver.url());
      assert.equal(d.status, 3, String(d.errorMessage));
      assert.match(
        String(d.engineNote),
        /^spoken by the local engine: CosyVoice at 127\.0\.0\.1:\d+ is unreachable \(connection refused\)$/,
      );
      assert.match(String(d.url), /speech\.mp3$/);
      assert.ok(Number(d.duration) >= 1);
      await receiver.waitFor(1);
      const body = JSON.parse(receiver.received[0]?.body ?? '{}') as Record<string, unknown>;
      assert.equal(body.status, 3);
      assert.match(String(body.engineNote), /^已改用本地引擎合成语音：CosyVoice（127\.0\.0\.1:\d+）/);
    } finally {
      await receiver.close();
    }
    assert.match(await metricsText(h), /dhs_engine_fallbacks_total\{engine="CosyVoice"\} 1/);
  });
});

describe('fallback off (the default), the same engines unreachable: the jobs fail naming the engine', () => {
  let root: string;
  let files: Files;
  let h: Harness;

  before(async () => {
    root = mkdtempSync(join(tmpdir(), 'dhs-fallback-off-'));
    mkdirSync(join(root, 'heygem-data'));
    files = await fixtures();
    h = await createHarness({
      worker: true,
      env: remoteEnv(
        `http://127.0.0.1:${await freePort()}`,
        join(root, 'heygem-data'),
        `http://127.0.0.1:${await freePort()}`,
      ),
    });
  });
  after(async () => {
    await h.close();
    await files.close();
    rmSync(root, { recursive: true, force: true });
  });

  test('status 4 with the engine’s error, no engineNote, points returned', async () => {
    const me = await customer(h, files);
    const before = await me.balance();
    const [work, speech] = await Promise.all([me.work(), me.speech()]);
    assert.equal(work.d.status, 4);
    assert.match(String(work.d.errorMessage), /^HeyGem at 127\.0\.0\.1:\d+ did not answer for \d+ s/);
    assert.equal(work.d.engineNote, undefined);
    assert.equal(speech.d.status, 4);
    assert.match(
      String(speech.d.errorMessage),
      /^CosyVoice at 127\.0\.0\.1:\d+ is unreachable \(connection refused\)$/,
    );
    assert.equal(speech.d.engineNote, undefined);
    assert.equal(await me.balance(), before);
    assert.doesNotMatch(await metricsText(h), /dhs_engine_fallbacks_total\{/);
  });
});

describe('DHS_ENGINE_FALLBACK=local, engines that answer badly: no fallback, the jobs fail', () => {
  let root: string;
  let files: Files;
  let heygem: FakeHeyGem;
  let cosyvoice: ReturnType<typeof createHttpServer>;
  let h: Harness;

  before(async () => {
    root = mkdtempSync(join(tmpdir(), 'dhs-fallback-bad-'));
    files = await fixtures();
    heygem = await startFakeHeyGem({ dataDir: join(root, 'heygem-data'), media: testMedia(), garbage: true });
    // a CosyVoice (FastAPI) refusing every request: a 4xx is permanent, the engine is there
    cosyvoice = createHttpServer((req, res) => {
      req.resume();
      req.on('end', () =>
        res
          .writeHead(422, { 'content-type': 'application/json' })
          .end('{"detail":[{"loc":["body","tts_text"],"msg":"Field required"}]}'),
      );
    });
    await new Promise<void>((res) => cosyvoice.listen(0, '127.0.0.1', res));
    const port = (cosyvoice.address() as { port: number }).port;
    h = await createHarness({
      worker: true,
      env: {
        ...remoteEnv(heygem.url, heygem.dataDir, `http://127.0.0.1:${port}`),
        DHS_ENGINE_FALLBACK: 'local',
      },
    });
  });
  after(async () => {
    await h.close();
    await heygem.close();
    cosyvoice.closeAllConnections();
    await new Promise<void>((res) => cosyvoice.close(() => res()));
    await files.close();
    rmSync(root, { recursive: true, force: true });
  });

  test('HeyGem answering garbage and CosyVoice answering 422: status 4, no engineNote', async () => {
    const me = await customer(h, files);
    const [work, speech] = await Promise.all([me.work(), me.speech()]);
    assert.equal(work.d.status, 4);
    assert.match(
      String(work.d.errorMessage),
      /^HeyGem at 127\.0\.0\.1:\d+ answered something that is not its API/,
    );
    assert.equal(work.d.engineNote, undefined);
    assert.equal(speech.d.status, 4);
    assert.match(
      String(speech.d.errorMessage),
      /^CosyVoice at 127\.0\.0\.1:\d+ refused the request \(HTTP 422: body\.tts_text: Field required\)$/,
    );
    assert.equal(speech.d.engineNote, undefined);
    assert.doesNotMatch(await metricsText(h), /dhs_engine_fallbacks_total\{/);
  });
});
