import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { JobStatus } from '../src/domain/jobs.ts';
import { silentWav, speechWav, testMedia, videoH264 } from './helpers/fixtures.ts';
import { createHarness, type Credentials, type Harness } from './helpers/harness.ts';
import { startCallbackReceiver, startFileServer } from './helpers/servers.ts';

/** The real pipelines end to end: fetch, validate, synthesize, render, store, settle, call back. */
describe('pipelines', () => {
  let h: Harness;
  let c: Credentials;
  let token: string;
  let files: Awaited<ReturnType<typeof startFileServer>>;
  let receiver: Awaited<ReturnType<typeof startCallbackReceiver>>;

  before(async () => {
    const [video, speechEn, speechZh, silence, shortVideo, shortAudio, lowVideo] = await Promise.all([
      videoH264({ seconds: 12 }),
      speechWav({ lang: 'en', seconds: 8 }),
      speechWav({ lang: 'zh', seconds: 8 }),
      silentWav(6),
      videoH264({ seconds: 5 }),
      speechWav({ lang: 'en', seconds: 2 }),
      videoH264({ seconds: 12, height: 240 }),
    ]);
    const junk = join(await import('node:os').then((os) => os.tmpdir()), `dhs-junk-${process.pid}.mp4`);
    writeFileSync(junk, Buffer.alloc(4096, 7));
    files = await startFileServer({
      'v.mp4': video,
      'en.wav': speechEn,
      'zh.wav': speechZh,
      'silence.wav': silence,
      'short.mp4': shortVideo,
      'short.wav': shortAudio,
      '240p.mp4': lowVideo,
      'junk.mp4': junk,
    });
    receiver = await startCallbackReceiver();
    h = await createHarness({
      worker: true,
      // fetch, settle, serve and callback are the point here; the lip-sync engine has lipsync.test.ts
      env: { DHS_REPEAT_WINDOW_MS: '0', DHS_MAX_PENDING_WORKS: '100', DHS_LIPSYNC_ENGINE: 'passthrough' },
    });
    c = await h.account({ points: 1000, lite: 2, pro: 1 });
    token = await h.tokenFor(c);
  });
  after(async () => {
    await h.close();
    await files.close();
    await receiver.close();
  });

  const finished = async (path: string, body: Record<string, unknown>) =>
    h.waitFor(
      async () => {
        const r = await h.post<Record<string, unknown>>(path, body, { token });
        return Number(r.data.status) >= JobStatus.DONE ? r.data : undefined;
      },
      120_000,
      `${path} to finish`,
    );

  const fetchResult = async (url: string) => {
    const path = new URL(url).pathname;
    return h.app.inject({ method: 'GET', url: path });
  };

  test('audio-driven work: video out, served with Range, charged the output seconds', async () => {
    const before = (await h.get<{ balance: number }>('/user/balance', { token })).data.balance;
    const res = await h.post<{ jobId: string }>(
      '/works/create',
      { videoUrl: files.url('v.mp4'), audioUrl: files.url('en.wav'), callbackUrl: receiver.url('/work') },
      { token },
    );
    assert.equal(res.code, 0, res.msg);
    const d = await finished('/works/inspect', { jobId: res.data.jobId });
    assert.equal(d.status, 3, String(d.errorMessage));
    assert.equal(d.duration, 8);
    assert.equal(d.progress, 100);
    assert.equal(d.errorCode, 0);
    const full = await fetchResult(String(d.videoUrl));
    assert.equal(full.statusCode, 200);
    assert.equal(full.headers['content-type'], 'video/mp4');
    assert.ok(full.headers.etag);
    const part = await h.app.inject({
      method: 'GET',
      url: new URL(String(d.videoUrl)).pathname,
      headers: { range: 'bytes=0-99' },
    });
    assert.equal(part.statusCode, 206);
    assert.equal(part.rawPayload.length, 100);
    assert.equal(part.headers['content-range'], `bytes 0-99/${full.rawPayload.length}`);
    const out = join(h.dataDir, 'out.mp4');
    writeFileSync(out, full.rawPayload);
    const info = await testMedia().probe(out);
    assert.equal(info.video?.codec, 'h264');
    assert.ok(Math.abs(info.durationSec - 8) < 0.15, `duration ${info.durationSec}`);
    const after = (await h.get<{ balance: number }>('/user/balance', { token })).data.balance;
    assert.equal(before - after, 8);
    await receiver.waitFor(1);
    const cb = JSON.parse(receiver.received.find((r) => r.body.includes(res.data.jobId))?.body ?? '{}');
    assert.equal(cb.status, 3);
    assert.equal(cb.videoUrl, d.videoUrl);
    assert.equal(cb.modelType, 'audio');
  });

  test('text-driven work and audio-only work', async () => {
    const t = await h.post<{ jobId: string }>(
      '/works/create',
      { videoUrl: files.url('v.mp4'), text: 'Hello, this is a digital human speaking. 你好，我是数字人。' },
      { token },
    );
    assert.equal(t.code, 0, t.msg);
    const td = await finished('/works/inspect', { jobId: t.data.jobId });
    assert.equal(td.status, 3, String(td.errorMessage));
    assert.ok(Number(td.duration) >= 2);
    assert.match(String(td.newAudioUrl), /speech\.mp3$/);
    // the speech's key is kept with the job (presigned URLs are made from it when handed out)
    const row = await h.runtime.jobs.get(t.data.jobId);
    assert.equal(
      row?.new_audio_key,
      `${row?.result_key.slice(0, row.result_key.lastIndexOf('/'))}/speech.mp3`,
    );
    const a = await h.post<{ jobId: string }>(
      '/works/create',
      { text: '今天是2026年11月25日，温度是25%。' },
      { token },
    );
    const ad = await finished('/works/inspect', { jobId: a.data.jobId });
    assert.equal(ad.status, 3, String(ad.errorMessage));
    assert.match(String(ad.videoUrl), /audio\.mp3$/);
    const r = await fetchResult(String(ad.videoUrl));
    assert.equal(r.headers['content-type'], 'audio/mpeg');
  });

  test('bad inputs end in status 4 with their code, and nothing is charged', async () => {
    const before = (await h.get<{ balance: number }>('/user/balance', { token })).data.balance;
    const cases: Array<[Record<string, unknown>, number]> = [
      [{ videoUrl: files.url('short.mp4'), audioUrl: files.url('en.wav') }, 20004],
      [{ videoUrl: files.url('junk.mp4'), audioUrl: files.url('en.wav') }, 20026],
      [{ videoUrl: files.url('v.mp4'), audioUrl: files.url('missing.wav') }, 20011],
      [{ videoUrl: files.url('missing.mp4'), audioUrl: files.url('en.wav') }, 20012],
      [{ videoUrl: files.url('v.mp4'), audioUrl: files.url('short.wav') }, 20014],
      [{ videoUrl: files.url('v.mp4'), audioUrl: files.url('junk.mp4') }, 20010],
      [{ videoUrl: files.url('240p.mp4'), audioUrl: files.url('en.wav') }, 20022],
    ];
    for (const [body, code] of cases) {
      const res = await h.post<{ jobId: string }>('/works/create', body, { token });
      assert.equal(res.code, 0, res.msg);
      const d = await finished('/works/inspect', { jobId: res.data.jobId });
      assert.equal(d.status, 4);
      assert.equal(d.errorCode, code, `${JSON.stringify(body)}: ${String(d.errorMessage)}`);
      assert.ok(String(d.errorMessage).length > 0);
    }
    const after = (await h.get<{ balance: number }>('/user/balance', { token })).data.balance;
    assert.equal(after, before);
  });

  test('LITE voice: train on Mandarin, speak English and mixed text; no-speech training fails clearly', async () => {
    const tr = await h.post<{ speakerId: string }>(
      '/voice/lite/train',
      { audioUrl: files.url('zh.wav'), callbackUrl: receiver.url('/train') },
      { token },
    );
    assert.equal(tr.code, 0, tr.msg);
    const td = await finished('/voice/lite/train/detail', { speakerId: tr.data.speakerId });
    assert.equal(td.status, 3, String(td.errorMessage));
    for (const content of ['Good morning, everyone.', '我们今天用 Node.js 做一个 demo，价格是¥20。']) {
      const s = await h.post<{ jobId: string }>(
        '/voice/lite/create',
        { speakerId: tr.data.speakerId, content, speedRatio: '1.1', kyyRole: 'yes' },
        { token },
      );
      assert.equal(s.code, 0, s.msg);
      const sd = await finished('/voice/lite/create/detail', { jobId: s.data.jobId });
      assert.equal(sd.status, 3, String(sd.errorMessage));
      assert.ok(Number(sd.duration) >= 1);
      assert.match(String(sd.url), /\.mp3$/);
    }
    const bad = await h.post<{ speakerId: string }>(
      '/voice/pro/train',
      { audioUrl: files.url('silence.wav') },
      { token },
    );
    const bd = await finished('/voice/pro/train/detail', { speakerId: bad.data.speakerId });
    assert.equal(bd.status, 4);
    assert.equal(bd.errorCode, 20014);
    assert.match(String(bd.errorMessage), /3/);
  });
});
