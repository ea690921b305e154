import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { JobStatus } from '../src/domain/jobs.ts';
import { startFakeHeyGem, type FakeHeyGem } from '../src/engines/remote/fake-heygem.ts';
import {
  expectedSeconds,
  startFakeCosyVoice,
  startFakeFishSpeech,
  startFakeGptSovits,
  type FakeSpeechServer,
} from '../src/engines/remote/fake-speech.ts';
import { planPieces } from '../src/engines/voice/espeak-tts.ts';
import { speechWav, testMedia, videoH264 } from './helpers/fixtures.ts';
import { createHarness, type Credentials, type Harness } from './helpers/harness.ts';
import { startFileServer } from './helpers/servers.ts';

/** End to end through the seed API with remote engines (fakes written from each engine's source). */

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

function finishedWith(h: Harness, token: string) {
  return (path: string, body: Record<string, unknown>, headers: Record<string, string> = {}) =>
    h.waitFor(
      async () => {
        const r = await h.post<Record<string, unknown>>(path, body, { token, headers });
        return Number(r.data.status) >= JobStatus.DONE ? r.data : undefined;
      },
      180_000,
      `${path} to finish`,
    );
}

async function fetchResult(h: Harness, url: string, file: string) {
  const res = await h.app.inject({ method: 'GET', url: new URL(url).pathname });
  assert.equal(res.statusCode, 200);
  writeFileSync(file, res.rawPayload);
  return testMedia().probe(file);
}

describe('HeyGem lip-sync through the API (DHS_LIPSYNC_ENGINE=heygem)', () => {
  let root: string;
  let files: Files;
  let heygem: FakeHeyGem;
  let h: Harness;
  let c: Credentials;
  let token: string;

  before(async () => {
    root = mkdtempSync(join(tmpdir(), 'dhs-remote-heygem-'));
    const [video, speech] = await Promise.all([
      videoH264({ seconds: 12 }),
      speechWav({ lang: 'en', seconds: 8 }),
    ]);
    files = await startFileServer({ 'v.mp4': video, 'en.wav': speech });
    heygem = await startFakeHeyGem({ dataDir: join(root, 'heygem-data'), media: testMedia() });
    h = await createHarness({
      worker: true,
      env: {
        DHS_REPEAT_WINDOW_MS: '0',
        DHS_LIPSYNC_ENGINE: 'heygem',
        DHS_HEYGEM_URL: heygem.url,
        DHS_HEYGEM_DATA_DIR: heygem.dataDir,
        DHS_HEYGEM_POLL_MS: '20',
      },
    });
    c = await h.account({ points: 1000 });
    token = await h.tokenFor(c);
  });
  after(async () => {
    await h.close();
    await heygem.close();
    await files.close();
    rmSync(root, { recursive: true, force: true });
  });

  test('an audio-driven work is rendered by HeyGem, charged its real seconds, its files cleaned up', async () => {
    const finished = finishedWith(h, token);
    const before = (await h.get<{ balance: number }>('/user/balance', { token })).data.balance;
    const res = await h.post<{ jobId: string }>(
      '/works/create',
      { videoUrl: files.url('v.mp4'), audioUrl: files.url('en.wav') },
      { token },
    );
    assert.equal(res.code, 0, res.msg);
    const d = await finished('/works/inspect', { jobId: res.data.jobId });
    assert.equal(d.status, 3, String(d.errorMessage));
    assert.equal(d.duration, 8);
    const info = await fetchResult(h, String(d.videoUrl), join(root, 'out.mp4'));
    assert.equal(info.video?.width, 320, "the engine's own output (the fake scales to 320 px)");
    assert.ok(Math.abs(info.durationSec - 8) < 0.2, `duration ${info.durationSec}`);
    const after = (await h.get<{ balance: number }>('/user/balance', { token })).data.balance;
    assert.equal(before - after, 8);
    assert.equal(heygem.submitted.length, 1);
    assert.deepEqual(
      readdirSync(join(heygem.dataDir, 'temp')),
      [],
      'inputs, intermediates and result removed',
    );
    const metrics = await h.app.inject({ method: 'GET', url: '/metrics' });
    assert.match(metrics.body, /dhs_engine_requests_total\{engine="HeyGem",operation="submit"\} 1/);
    assert.match(metrics.body, /dhs_engine_requests_total\{engine="HeyGem",operation="query"\} \d+/);
  });

  test('a text-driven work speaks, then HeyGem renders the speech', async () => {
    const finished = finishedWith(h, token);
    const res = await h.post<{ jobId: string }>(
      '/works/create',
      { videoUrl: files.url('v.mp4'), text: 'Hello from the digital human. 你好。' },
      { token },
    );
    assert.equal(res.code, 0, res.msg);
    const d = await finished('/works/inspect', { jobId: res.data.jobId });
    assert.equal(d.status, 3, String(d.errorMessage));
    assert.match(String(d.newAudioUrl), /speech\.mp3$/);
    const info = await fetchResult(h, String(d.videoUrl), join(root, 'text.mp4'));
    assert.equal(info.video?.width, 320);
    assert.equal(heygem.submitted.length, 2);
  });
});

describe('HeyGem down: the work fails clearly, nothing charged', () => {
  let root: string;
  let files: Files;
  let h: Harness;

  before(async () => {
    root = mkdtempSync(join(tmpdir(), 'dhs-remote-down-'));
    mkdirSync(join(root, 'heygem-data'));
    const [video, speech] = await Promise.all([
      videoH264({ seconds: 12 }),
      speechWav({ lang: 'en', seconds: 8 }),
    ]);
    files = await startFileServer({ 'v.mp4': video, 'en.wav': speech });
    h = await createHarness({
      worker: true,
      env: {
        DHS_REPEAT_WINDOW_MS: '0',
        DHS_JOB_MAX_ATTEMPTS: '1',
        DHS_LIPSYNC_ENGINE: 'heygem',
        DHS_HEYGEM_URL: `http://127.0.0.1:${await freePort()}`,
        DHS_HEYGEM_DATA_DIR: join(root, 'heygem-data'),
        DHS_HEYGEM_POLL_MS: '20',
        DHS_HEYGEM_STALL_MS: '1000',
      },
    });
  });
  after(async () => {
    await h.close();
    await files.close();
    rmSync(root, { recursive: true, force: true });
  });

  test('status 4 with a message naming HeyGem and its host, points returned', async () => {
    const c = await h.account({ points: 100 });
    const token = await h.tokenFor(c);
    const res = await h.post<{ jobId: string }>(
      '/works/create',
      { videoUrl: files.url('v.mp4'), audioUrl: files.url('en.wav') },
      { token },
    );
    assert.equal(res.code, 0, res.msg);
    const d = await finishedWith(h, token)(
      '/works/inspect',
      { jobId: res.data.jobId },
      { 'accept-language': 'en' },
    );
    assert.equal(d.status, 4);
    assert.match(
      String(d.errorMessage),
      /HeyGem at 127\.0\.0\.1:\d+ did not answer for \d+ s .*connection refused/,
    );
    const zh = await h.post<Record<string, unknown>>('/works/inspect', { jobId: res.data.jobId }, { token });
    assert.match(String(zh.data.errorMessage), /HeyGem（127\.0\.0\.1:\d+）/);
    assert.equal((await h.get<{ balance: number }>('/user/balance', { token })).data.balance, 100);
  });
});

/**
 * One remote speech engine end to end: a LITE voice trained (reference clip kept), mixed text spoken
 * through /voice/lite/create by the engine, billed on the file's real length; a PRO voice and an
 * audio-only work with that voice; a text-driven work in the video's own voice.
 */
function speechEngineSuite(
  title: string,
  start: (root: string) => Promise<{ fake: FakeSpeechServer; env: Record<string, string> }>,
) {
  describe(title, () => {
    let root: string;
    let files: Files;
    let fake: FakeSpeechServer;
    let h: Harness;
    let token: string;

    before(async () => {
      root = mkdtempSync(join(tmpdir(), 'dhs-remote-speech-'));
      const [video, zh] = await Promise.all([
        videoH264({ seconds: 12 }),
        speechWav({ lang: 'zh', seconds: 8 }),
      ]);
      files = await startFileServer({ 'v.mp4': video, 'zh.wav': zh });
      const started = await start(root);
      fake = started.fake;
      h = await createHarness({
        worker: true,
        env: { DHS_REPEAT_WINDOW_MS: '0', DHS_LIPSYNC_ENGINE: 'passthrough', ...started.env },
      });
      const c = await h.account({ points: 1000, lite: 2, pro: 1 });
      token = await h.tokenFor(c);
    });
    after(async () => {
      await h.close();
      await fake.close();
      await files.close();
      rmSync(root, { recursive: true, force: true });
    });

    test('train, then speak mixed text in the trained voice: the engine speaks it, billed on its length', async () => {
      const finished = finishedWith(h, token);
      const tr = await h.post<{ speakerId: string }>(
        '/voice/lite/train',
        { audioUrl: files.url('zh.wav') },
        { token },
      );
      assert.equal(tr.code, 0, tr.msg);
      const td = await finished('/voice/lite/train/detail', { speakerId: tr.data.speakerId });
      assert.equal(td.status, 3, String(td.errorMessage));
      const content = '我们今天用 Node.js 做一个 demo，价格是¥20。';
      const before = (await h.get<{ balance: number }>('/user/balance', { token })).data.balance;
      const s = await h.post<{ jobId: string }>(
        '/voice/lite/create',
        { speakerId: tr.data.speakerId, content },
        { token },
      );
      assert.equal(s.code, 0, s.msg);
      const sd = await finished('/voice/lite/create/detail', { jobId: s.data.jobId });
      assert.equal(sd.status, 3, String(sd.errorMessage));
      assert.deepEqual(
        fake.calls.map((c) => stripDecoration(c.text)),
        planPieces(content).map((p) => p.text),
        'each language part sent on its own, normalised',
      );
      const refs = new Set(fake.calls.map((c) => c.referenceSha256));
      assert.equal(refs.size, 1, 'one reference clip for every part');
      const info = await fetchResult(h, String(sd.url), join(root, 'speech.mp3'));
      assert.equal(info.audio?.codec, 'mp3');
      assert.ok(Math.abs(info.durationSec - expectedSeconds(content)) < 0.2, `${info.durationSec}`);
      assert.equal(sd.duration, Math.ceil(info.durationSec - 0.001));
      const after = (await h.get<{ balance: number }>('/user/balance', { token })).data.balance;
      assert.equal(before - after, sd.duration);
    });

    test('an audio-only work in a PRO voice, and a text-driven work in the video’s own voice', async () => {
      const finished = finishedWith(h, token);
      const tr = await h.post<{ speakerId: string }>(
        '/voice/pro/train',
        { audioUrl: files.url('zh.wav') },
        { token },
      );
      const td = await finished('/voice/pro/train/detail', { speakerId: tr.data.speakerId });
      assert.equal(td.status, 3, String(td.errorMessage));
      const calls = fake.calls.length;
      const a = await h.post<{ jobId: string }>(
        '/works/create',
        { text: 'Good morning.', speakerId: tr.data.speakerId },
        { token },
      );
      assert.equal(a.code, 0, a.msg);
      const ad = await finished('/works/inspect', { jobId: a.data.jobId });
      assert.equal(ad.status, 3, String(ad.errorMessage));
      assert.equal(fake.calls.length, calls + 1);
      const w = await h.post<{ jobId: string }>(
        '/works/create',
        { videoUrl: files.url('v.mp4'), text: '你好，世界。' },
        { token },
      );
      const wd = await finished('/works/inspect', { jobId: w.data.jobId });
      assert.equal(wd.status, 3, String(wd.errorMessage));
      assert.equal(fake.calls.length, calls + 2, "the video's own voice, cloned by the engine");
      const speech = await fetchResult(h, String(wd.newAudioUrl), join(root, 'own.mp3'));
      assert.ok(Math.abs(speech.durationSec - expectedSeconds('你好，世界。')) < 0.2);
    });
  });
}

/** The text as our normaliser made it, without CosyVoice's language tags or system prompt. */
function stripDecoration(text: string): string {
  return text.replace(/^<\|[a-z]+\|>/, '').replace(/^You are a helpful assistant\.<\|endofprompt\|>/, '');
}

speechEngineSuite('CosyVoice through the API (DHS_SPEECH_ENGINE=cosyvoice)', async () => {
  const fake = await startFakeCosyVoice({ version: 2, sampleRate: 24000 });
  return { fake, env: { DHS_SPEECH_ENGINE: 'cosyvoice', DHS_COSYVOICE_URL: fake.url } };
});

speechEngineSuite(
  'GPT-SoVITS through the API (DHS_SPEECH_ENGINE=gpt-sovits, references by path)',
  async () => {
    const fake = await startFakeGptSovits();
    // DHS_GPT_SOVITS_REF_DIR and _REMOTE default to $DHS_DATA_DIR/refs: the fake reads that same path
    return { fake, env: { DHS_SPEECH_ENGINE: 'gpt-sovits', DHS_GPT_SOVITS_URL: fake.url } };
  },
);

speechEngineSuite(
  'fish-speech through the API (DHS_SPEECH_ENGINE=fish-speech, with an API key)',
  async () => {
    const fake = await startFakeFishSpeech({ apiKey: 'fish-key' });
    return {
      fake,
      env: {
        DHS_SPEECH_ENGINE: 'fish-speech',
        DHS_FISH_SPEECH_URL: fake.url,
        DHS_FISH_SPEECH_API_KEY: 'fish-key',
      },
    };
  },
);

describe('PRO on its own engine (DHS_SPEECH_ENGINE_PRO=cosyvoice), per-engine metrics, engine down', () => {
  let root: string;
  let files: Files;
  let fake: FakeSpeechServer;
  let h: Harness;
  let token: string;

  before(async () => {
    root = mkdtempSync(join(tmpdir(), 'dhs-remote-pro-'));
    files = await startFileServer({ 'zh.wav': await speechWav({ lang: 'zh', seconds: 8 }) });
    fake = await startFakeCosyVoice();
    h = await createHarness({
      worker: true,
      env: {
        DHS_REPEAT_WINDOW_MS: '0',
        DHS_JOB_MAX_ATTEMPTS: '1',
        DHS_SPEECH_ENGINE_PRO: 'cosyvoice',
        DHS_COSYVOICE_URL: fake.url,
      },
    });
    const c = await h.account({ points: 1000, lite: 1, pro: 1 });
    token = await h.tokenFor(c);
  });
  after(async () => {
    await h.close();
    await fake.close();
    await files.close();
    rmSync(root, { recursive: true, force: true });
  });

  test('LITE speaks locally, PRO through CosyVoice; /metrics counts its requests; down: a clear failure', async () => {
    const finished = finishedWith(h, token);
    const train = async (tier: 'lite' | 'pro') => {
      const tr = await h.post<{ speakerId: string }>(
        `/voice/${tier}/train`,
        { audioUrl: files.url('zh.wav') },
        { token },
      );
      const td = await finished(`/voice/${tier}/train/detail`, { speakerId: tr.data.speakerId });
      assert.equal(td.status, 3, String(td.errorMessage));
      return tr.data.speakerId;
    };
    const speak = async (tier: 'lite' | 'pro', speakerId: string) => {
      const s = await h.post<{ jobId: string }>(
        `/voice/${tier}/create`,
        { speakerId, content: 'Good evening.' },
        { token },
      );
      assert.equal(s.code, 0, s.msg);
      return finished(`/voice/${tier}/create/detail`, { jobId: s.data.jobId }, { 'accept-language': 'en' });
    };
    const lite = await train('lite');
    const pro = await train('pro');
    assert.equal((await speak('lite', lite)).status, 3);
    assert.equal(fake.calls.length, 0, 'LITE stays on the local engine');
    assert.equal((await speak('pro', pro)).status, 3);
    assert.equal(fake.calls.length, 1);
    const metrics = await h.app.inject({ method: 'GET', url: '/metrics' });
    assert.match(metrics.body, /dhs_engine_requests_total\{engine="CosyVoice",operation="cross_lingual"\} 1/);
    assert.match(
      metrics.body,
      /dhs_engine_request_duration_seconds_count\{engine="CosyVoice",operation="cross_lingual"\} 1/,
    );

    await fake.close();
    const before = (await h.get<{ balance: number }>('/user/balance', { token })).data.balance;
    const down = await speak('pro', pro);
    assert.equal(down.status, 4);
    assert.match(
      String(down.errorMessage),
      /^CosyVoice at 127\.0\.0\.1:\d+ is unreachable \(connection refused\)$/,
    );
    assert.equal((await h.get<{ balance: number }>('/user/balance', { token })).data.balance, before);
    const after = await h.app.inject({ method: 'GET', url: '/metrics' });
    assert.match(
      after.body,
      /dhs_engine_errors_total\{engine="CosyVoice",operation="cross_lingual",kind="unreachable"\} 3/,
    );
  });
});
