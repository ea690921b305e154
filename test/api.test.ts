import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { postgresAvailable } from './helpers/db.ts';
import { createHarness, type Credentials, type Harness } from './helpers/harness.ts';

/** Every endpoint's success and every error code reachable from input (no worker: jobs stay queued). */
describe('seed API', () => {
  let h: Harness;
  let c: Credentials;
  let token: string;

  before(async () => {
    h = await createHarness({ env: { DHS_MAX_PENDING_WORKS: '1000', DHS_REPEAT_WINDOW_MS: '0' } });
    c = await h.account({ points: 10_000, lite: 2, pro: 1 });
    token = await h.tokenFor(c);
  });
  after(async () => h.close());

  describe('2.1 token', () => {
    test('issues a token with an absolute expiry in ms', async () => {
      const ts = h.clock.now();
      const res = await h.get<{ token: string; expiresIn: number }>('/oauth/token', {
        query: { accessKey: c.accessKey, timestamp: String(ts), sign: h.sign(c, ts) },
      });
      assert.equal(res.code, 0);
      assert.ok(res.data.token.length >= 22);
      assert.equal(res.data.expiresIn, h.clock.now() + 86_400_000);
      h.clock.advance(1);
    });

    test('20001 unknown or disabled account, 20003 bad sign, stale timestamp, replay', async () => {
      const ts = h.clock.now();
      const unknown = await h.get('/oauth/token', {
        query: { accessKey: 'ak_nope', timestamp: String(ts), sign: 'x' },
      });
      assert.equal(unknown.code, 20001);
      const bad = await h.get('/oauth/token', {
        query: { accessKey: c.accessKey, timestamp: String(ts), sign: 'f'.repeat(32) },
      });
      assert.equal(bad.code, 20003);
      const old = ts - 181_000;
      const stale = await h.get('/oauth/token', {
        query: { accessKey: c.accessKey, timestamp: String(old), sign: h.sign(c, old) },
      });
      assert.equal(stale.code, 20003);
      const future = ts + 181_000;
      const ahead = await h.get('/oauth/token', {
        query: { accessKey: c.accessKey, timestamp: String(future), sign: h.sign(c, future) },
      });
      assert.equal(ahead.code, 20003);
      const q = { accessKey: c.accessKey, timestamp: String(ts), sign: h.sign(c, ts) };
      assert.equal((await h.get('/oauth/token', { query: q })).code, 0);
      const replay = await h.get('/oauth/token', { query: q });
      assert.equal(replay.code, 20003);
      const missing = await h.get('/oauth/token', { query: { accessKey: c.accessKey } });
      assert.equal(missing.code, 20004);
      const other = await h.account();
      await h.runtime.accounts.disable(other.accessKey);
      const t2 = h.clock.now();
      const disabled = await h.get('/oauth/token', {
        query: { accessKey: other.accessKey, timestamp: String(t2), sign: h.sign(other, t2) },
      });
      assert.equal(disabled.code, 20001);
      h.clock.advance(1);
    });

    test('20002 for missing, unknown and expired tokens', async () => {
      assert.equal((await h.get('/user/balance')).code, 20002);
      assert.equal((await h.get('/user/balance', { token: 'nope' })).code, 20002);
      const t = await h.tokenFor(c);
      h.clock.advance(86_400_001);
      assert.equal((await h.get('/user/balance', { token: t })).code, 20002);
      token = await h.tokenFor(c);
    });

    test('msg is Chinese by default, English when preferred', async () => {
      const zh = await h.get('/user/balance', { token: 'nope' });
      assert.equal(zh.msg, '无效token');
      const en = await h.get('/user/balance', {
        token: 'nope',
        headers: { 'accept-language': 'en-US,en;q=0.9' },
      });
      assert.equal(en.msg, 'invalid or expired token');
    });
  });

  describe('transport', () => {
    test('malformed JSON, non-object bodies and oversize bodies answer 20004 with HTTP 200', async () => {
      assert.equal((await h.post('/works/inspect', null, { token, raw: '{"jobId":' })).code, 20004);
      assert.equal((await h.post('/works/inspect', [1, 2], { token })).code, 20004);
      assert.equal((await h.post('/works/inspect', 'x', { token })).code, 20004);
      const big = await h.post('/works/create', { text: 'a'.repeat(300_000) }, { token });
      assert.equal(big.code, 20004);
    });

    test('unknown paths answer 20006 in the envelope', async () => {
      const res = await h.app.inject({ method: 'GET', url: '/api/model/v5/nope' });
      assert.equal(res.statusCode, 200);
      assert.equal(res.json<{ code: number }>().code, 20006);
    });

    test('files: unknown keys and path tricks answer 404, broken escapes 400', async () => {
      for (const url of [
        '/files/results/nope/video.mp4',
        '/files/results%2F..%2F..%2Fdhs.sqlite',
        '/files/..%2Fdhs.sqlite',
        '/files/%E0%A4%A',
      ]) {
        const res = await h.app.inject({ method: 'GET', url });
        assert.equal(res.statusCode, url.endsWith('%A') ? 400 : 404, url);
      }
    });

    test('healthz and metrics', async () => {
      const hz = await h.app.inject({ method: 'GET', url: '/healthz' });
      assert.equal(hz.statusCode, 200);
      const m = await h.app.inject({ method: 'GET', url: '/metrics' });
      assert.match(m.body, /dhs_jobs/);
      assert.match(m.body, /dhs_queue_wait_seconds/);
      assert.match(m.body, /dhs_stage_duration_seconds/);
    });
  });

  describe('1 works', () => {
    const video = 'http://127.0.0.1:1/v.mp4';
    const audio = 'http://127.0.0.1:1/a.mp3';

    test('create in each mode and inspect', async () => {
      for (const body of [
        { videoUrl: video, audioUrl: audio, title: '测试' },
        { videoUrl: video, text: '你好，世界。' },
        { text: 'Hello world, this is a test.' },
      ]) {
        const res = await h.post<{ jobId: string }>('/works/create', body, { token });
        assert.equal(res.code, 0, res.msg);
        assert.match(res.data.jobId, /^w_[0-9a-f]{32}$/);
        const ins = await h.post('/works/inspect', { jobId: res.data.jobId }, { token });
        assert.equal(ins.code, 0);
        assert.deepEqual(ins.data, {
          status: 1,
          errorMessage: '',
          videoUrl: '',
          duration: 0,
          errorCode: 0,
          progress: 0,
        });
      }
    });

    test('input errors: 20016, 20004, 20013, 20012', async () => {
      const code = async (body: unknown) => (await h.post('/works/create', body, { token })).code;
      assert.equal(await code({ audioUrl: audio }), 20016);
      assert.equal(await code({ videoUrl: video }), 20016);
      assert.equal(await code({}), 20004);
      assert.equal(await code({ videoUrl: video, audioUrl: 'ftp://x/a.mp3' }), 20013);
      assert.equal(await code({ videoUrl: video, audioUrl: 'not a url' }), 20013);
      assert.equal(await code({ videoUrl: video, audioUrl: 'http://10.0.0.1/a.mp3' }), 20013);
      assert.equal(await code({ videoUrl: 'http://169.254.169.254/v.mp4', audioUrl: audio }), 20012);
      assert.equal(await code({ videoUrl: 'file:///etc/passwd', audioUrl: audio }), 20012);
      assert.equal(await code({ text: 'x'.repeat(10_001) }), 20004);
      assert.equal(await code({ text: '好'.repeat(10_000) }), 0);
      assert.equal(await code({ text: 'hi', title: '一'.repeat(21) }), 20004);
      assert.equal(await code({ text: 'hi', title: 12 }), 20004);
      assert.equal(await code({ videoUrl: 123, audioUrl: audio }), 20004);
      assert.equal(await code({ text: '!!!' }), 20004);
      assert.equal(await code({ text: 'hi', callbackUrl: 'javascript:alert(1)' }), 20004);
      assert.equal(await code({ text: 'hi', speakerId: 'spk_nope' }), 20006);
      assert.equal(await code({ text: 'hi', newAudioUrl: 'ignored', extra: 'ignored' }), 0);
    });

    test('another account’s work answers 20006, like a missing one', async () => {
      const res = await h.post<{ jobId: string }>('/works/create', { text: 'Mine only.' }, { token });
      const other = await h.account({ points: 10 });
      const otherToken = await h.tokenFor(other);
      assert.equal(
        (await h.post('/works/inspect', { jobId: res.data.jobId }, { token: otherToken })).code,
        20006,
      );
      assert.equal((await h.post('/works/inspect', { jobId: 'w_nope' }, { token })).code, 20006);
      assert.equal((await h.post('/works/inspect', {}, { token })).code, 20004);
      assert.equal((await h.post('/works/inspect', { jobId: 42 }, { token })).code, 20004);
    });

    test('20005 when the balance cannot cover the reservation', async () => {
      const poor = await h.account({ points: 4 });
      const t = await h.tokenFor(poor);
      const res = await h.post('/works/create', { videoUrl: video, audioUrl: audio }, { token: t });
      assert.equal(res.code, 20005);
      const bal = await h.get<{ balance: number }>('/user/balance', { token: t });
      assert.equal(bal.data.balance, 4);
    });
  });

  describe('3, 4 voices', () => {
    test('train LITE and PRO, detail, quota 30002', async () => {
      const lite = await h.post<{ speakerId: string }>(
        '/voice/lite/train',
        { speakerId: '', audioUrl: 'http://127.0.0.1:1/a.wav' },
        { token },
      );
      assert.equal(lite.code, 0);
      const detail = await h.post('/voice/lite/train/detail', { speakerId: lite.data.speakerId }, { token });
      assert.equal(detail.code, 0);
      assert.equal(detail.data.type, 'LITE');
      assert.equal(detail.data.status, 1);
      assert.equal(detail.data.userId, c.userId);
      assert.equal(detail.data.accessKey, c.accessKey);
      // the LITE id is not a PRO voice
      assert.equal(
        (await h.post('/voice/pro/train/detail', { speakerId: lite.data.speakerId }, { token })).code,
        20006,
      );
      const pro = await h.post<{ speakerId: string }>(
        '/voice/pro/train',
        { audioUrl: 'http://127.0.0.1:1/a.wav' },
        { token },
      );
      assert.equal(pro.code, 0);
      const none = await h.post('/voice/pro/train', { audioUrl: 'http://127.0.0.1:1/b.wav' }, { token });
      assert.equal(none.code, 30002);
      const bal = await h.get<Record<string, number>>('/user/balance', { token });
      assert.equal(bal.data.voiceProUsedQuantity, 1);
      assert.equal(bal.data.voiceProTotalQuantity, 1);
      assert.equal(bal.data.voiceLiteUsedQuantity, 1);
      // retraining while the first training runs
      assert.equal(
        (
          await h.post(
            '/voice/lite/train',
            { speakerId: lite.data.speakerId, audioUrl: 'http://127.0.0.1:1/c.wav' },
            { token },
          )
        ).code,
        30001,
      );
    });

    test('train input errors', async () => {
      assert.equal((await h.post('/voice/lite/train', { speakerId: '' }, { token })).code, 20016);
      assert.equal((await h.post('/voice/lite/train', { audioUrl: 'gopher://x' }, { token })).code, 20013);
      assert.equal(
        (
          await h.post(
            '/voice/lite/train',
            { speakerId: 'spk_nope', audioUrl: 'http://127.0.0.1:1/a.wav' },
            { token },
          )
        ).code,
        20006,
      );
      assert.equal((await h.post('/voice/lite/train/detail', {}, { token })).code, 20004);
      assert.equal((await h.post('/voice/lite/train/detail', { speakerId: 5 }, { token })).code, 20004);
    });

    test('create: untrained voice 20006, ratio bounds 20004, strings and numbers accepted', async () => {
      const lite = await h.post<{ speakerId: string }>(
        '/voice/lite/train',
        { audioUrl: 'http://127.0.0.1:1/z.wav' },
        { token },
      );
      const speakerId = lite.data.speakerId;
      assert.equal(
        (await h.post('/voice/lite/create', { speakerId, content: '你好' }, { token })).code,
        20006,
      );
      // make it trained, as the training job would
      const v = await h.runtime.voices.get(speakerId);
      const tr = await h.runtime.database.db
        .selectFrom('voice_trainings')
        .selectAll()
        .where('voice_id', '=', speakerId)
        .executeTakeFirstOrThrow();
      await h.runtime.voices.completeTraining(speakerId, tr.id, { version: 1 }, () => null);
      assert.ok(v);
      const code = async (path: string, body: Record<string, unknown>) =>
        (await h.post(path, { speakerId, content: '你好', ...body }, { token })).code;
      assert.equal(
        await code('/voice/lite/create', {
          speedRatio: '1.2',
          pitchRatio: '1',
          volumeRatio: '1',
          kyyRole: 'yes',
        }),
        0,
      );
      assert.equal(
        await code('/voice/lite/create', { speedRatio: 1.9, pitchRatio: 10, volumeRatio: 0.1 }),
        0,
      );
      assert.equal(await code('/voice/lite/create', { speedRatio: '', pitchRatio: null }), 0);
      assert.equal(await code('/voice/lite/create', { speedRatio: '2' }), 20004);
      assert.equal(await code('/voice/lite/create', { speedRatio: 0.05 }), 20004);
      assert.equal(await code('/voice/lite/create', { pitchRatio: '10.5' }), 20004);
      assert.equal(await code('/voice/lite/create', { volumeRatio: 'loud' }), 20004);
      assert.equal(await code('/voice/lite/create', { volumeRatio: true }), 20004);
      assert.equal(await code('/voice/lite/create', { kyyRole: 'maybe' }), 20004);
      assert.equal(await code('/voice/lite/create', { content: '' }), 20004);
      assert.equal(await code('/voice/lite/create', { content: 7 }), 20004);
      assert.equal(await code('/voice/pro/create', {}), 20006);
      const ok = await h.post<{ jobId: string }>(
        '/voice/lite/create',
        { speakerId, content: 'Hello there.' },
        { token },
      );
      const d = await h.post('/voice/lite/create/detail', { jobId: ok.data.jobId }, { token });
      assert.equal(d.code, 0);
      assert.deepEqual(Object.keys(d.data).sort(), [
        'accessKey',
        'duration',
        'errorCode',
        'errorMessage',
        'jobId',
        'progress',
        'status',
        'type',
        'url',
        'userId',
      ]);
      assert.equal(d.data.type, 'LITE');
      assert.equal(
        (await h.post('/voice/pro/create/detail', { jobId: ok.data.jobId }, { token })).code,
        20006,
      );
      assert.equal((await h.post('/works/inspect', { jobId: ok.data.jobId }, { token })).code, 20006);
    });
  });

  describe('5 user', () => {
    test('balance and bill list paging', async () => {
      const u = await h.account({ points: 100 });
      const t = await h.tokenFor(u);
      const bal = await h.get('/user/balance', { token: t });
      assert.deepEqual(bal.data, {
        balance: 100,
        voiceLiteUsedQuantity: 0,
        voiceLiteTotalQuantity: 0,
        voiceProUsedQuantity: 0,
        voiceProTotalQuantity: 0,
      });
      const account = await h.runtime.accounts.findById(u.userId);
      assert.ok(account);
      for (let i = 0; i < 3; i++) {
        const r = await h.post<{ jobId: string }>(
          '/works/create',
          { text: `Hello number ${i}.` },
          { token: t },
        );
        await h.runtime.jobs.complete(
          r.data.jobId,
          { resultUrl: 'x', resultKey: 'k', durationSec: 1.5 + i },
          () => null,
        );
        h.clock.advance(1000);
      }
      const page1 = await h.get<{
        total: number;
        list: Array<{ type: string; time: string; duration: number; fee: number }>;
      }>('/user/bill/list', { token: t, query: { pn: '0', ds: '2' } });
      assert.equal(page1.code, 0);
      assert.equal(page1.data.total, 3);
      assert.equal(page1.data.list.length, 2);
      assert.equal(page1.data.list[0]?.fee, 4);
      assert.equal(page1.data.list[0]?.duration, 4);
      assert.match(page1.data.list[0]?.time ?? '', /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/);
      const page2 = await h.get<{ list: unknown[] }>('/user/bill/list', {
        token: t,
        query: { pn: '2', ds: '2' },
      });
      assert.equal(page2.data.list.length, 1);
      const all = await h.get<{ list: unknown[] }>('/user/bill/list', { token: t, query: { ds: '500' } });
      assert.equal(all.data.list.length, 3);
      assert.equal((await h.get('/user/bill/list', { token: t, query: { pn: '-1' } })).code, 20004);
      assert.equal((await h.get('/user/bill/list', { token: t, query: { ds: 'x' } })).code, 20004);
      const after = await h.get<{ balance: number }>('/user/balance', { token: t });
      assert.equal(after.data.balance, 100 - (2 + 3 + 4));
    });
  });
});

describe('limits', () => {
  test('10002 per-account rate, 10003 repeated submission, 20008 pending works', async () => {
    const h = await createHarness({
      env: { DHS_RATE_LIMIT_PER_MIN: '5', DHS_REPEAT_WINDOW_MS: '2000', DHS_MAX_PENDING_WORKS: '2' },
    });
    try {
      const c = await h.account({ points: 100 });
      const token = await h.tokenFor(c);
      const first = await h.post('/works/create', { text: 'one' }, { token });
      assert.equal(first.code, 0);
      assert.equal((await h.post('/works/create', { text: 'one' }, { token })).code, 10003);
      h.clock.advance(2000);
      assert.equal((await h.post('/works/create', { text: 'two' }, { token })).code, 0);
      assert.equal((await h.post('/works/create', { text: 'three' }, { token })).code, 20008);
      assert.equal((await h.get('/user/balance', { token })).code, 0); // the 5th request this minute
      assert.equal((await h.get('/user/balance', { token })).code, 10002);
      h.clock.advance(60_000);
      assert.equal((await h.get('/user/balance', { token })).code, 0);
    } finally {
      await h.close();
    }
  });

  test('20007 when the account has its limit of jobs processing', async () => {
    const h = await createHarness({ env: { DHS_MAX_RUNNING_WORKS: '1', DHS_REPEAT_WINDOW_MS: '0' } });
    try {
      const c = await h.account({ points: 100 });
      const token = await h.tokenFor(c);
      const first = await h.post<{ jobId: string }>('/works/create', { text: 'First one.' }, { token });
      await h.runtime.jobs.markRunning(first.data.jobId); // as a worker taking it would
      const second = await h.post('/works/create', { text: 'Second one.' }, { token });
      assert.equal(second.code, 20007);
      assert.equal((await h.get<{ balance: number }>('/user/balance', { token })).data.balance, 100 - 1);
    } finally {
      await h.close();
    }
  });

  for (const db of ['sqlite', 'postgres'] as const) {
    test(`50 concurrent submissions against a balance for 10: exactly 10 accepted (${db})`, async (t) => {
      if (db === 'postgres' && !(await postgresAvailable())) return t.skip('no PostgreSQL');
      const h = await createHarness({
        db,
        env: { DHS_MAX_PENDING_WORKS: '1000', DHS_REPEAT_WINDOW_MS: '0' },
      });
      try {
        // "Hello there friend" is 16 letters: 16/14 s -> 2 points each
        const c = await h.account({ points: 20 });
        const token = await h.tokenFor(c);
        const results = await Promise.all(
          Array.from({ length: 50 }, (_, i) =>
            h.post('/works/create', { text: 'Hello there friend', title: `n${i}` }, { token }),
          ),
        );
        const codes = results.map((r) => r.code);
        assert.equal(codes.filter((x) => x === 0).length, 10);
        assert.equal(codes.filter((x) => x === 20005).length, 40);
        const bal = await h.get<{ balance: number }>('/user/balance', { token });
        assert.equal(bal.data.balance, 0);
        assert.equal(await h.runtime.ledger.sum(c.userId), 0);
      } finally {
        await h.close();
      }
    });
  }
});
