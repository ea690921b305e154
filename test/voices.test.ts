import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { JobStatus } from '../src/domain/jobs.ts';
import { MAX_TRAININGS_PER_VOICE } from '../src/domain/admission.ts';
import { noiseWav, silentWav, speechWav, testMedia } from './helpers/fixtures.ts';
import { createHarness, type Credentials, type Harness } from './helpers/harness.ts';
import { startFileServer } from './helpers/servers.ts';

interface Balance {
  balance: number;
  voiceLiteUsedQuantity: number;
  voiceLiteTotalQuantity: number;
  voiceProUsedQuantity: number;
  voiceProTotalQuantity: number;
}

/**
 * Voices end to end (issue 5, "Done when"): real trainings and syntheses through the API with the worker,
 * the codes of bounds, wrong types, the 11th training and an exhausted quota, and trainings on audio
 * without speech.
 */
describe('voices', () => {
  let h: Harness;
  let c: Credentials;
  let token: string;
  let files: Awaited<ReturnType<typeof startFileServer>>;
  /** A PRO voice trained on Mandarin speech (the first test trains it). */
  let proId = '';
  /** A LITE voice trained on Mandarin speech. */
  let liteId = '';

  before(async () => {
    const [zh, silence, noise] = await Promise.all([
      speechWav({ lang: 'zh', seconds: 8 }),
      silentWav(6),
      noiseWav(6),
    ]);
    files = await startFileServer({ 'zh.wav': zh, 'silence.wav': silence, 'noise.wav': noise });
    h = await createHarness({
      worker: true,
      env: { DHS_REPEAT_WINDOW_MS: '0', DHS_MAX_PENDING_WORKS: '100' },
    });
    c = await h.account({ points: 1000, lite: 1, pro: 2 });
    token = await h.tokenFor(c);
  });
  after(async () => {
    await h.close();
    await files.close();
  });

  const finished = async (path: string, body: Record<string, unknown>, tk = token) =>
    h.waitFor(
      async () => {
        const r = await h.post<Record<string, unknown>>(path, body, { token: tk });
        assert.equal(r.code, 0, r.msg);
        return Number(r.data.status) >= JobStatus.DONE ? r.data : undefined;
      },
      120_000,
      `${path} to finish`,
    );

  const balance = async (tk = token) => (await h.get<Balance>('/user/balance', { token: tk })).data;

  const ledgerRows = async (accountId: string) =>
    h.runtime.database.db.selectFrom('ledger').selectAll().where('account_id', '=', accountId).execute();

  const train = async (tier: 'lite' | 'pro', file: string, speakerId = '', tk = token) => {
    const r = await h.post<{ speakerId: string }>(
      `/voice/${tier}/train`,
      { speakerId, audioUrl: files.url(file) },
      { token: tk },
    );
    assert.equal(r.code, 0, r.msg);
    return r.data.speakerId;
  };

  test('a voice trained on a Mandarin clip speaks English and mixed text: mono mp3, plausible duration, charged it', async () => {
    [proId, liteId] = await Promise.all([train('pro', 'zh.wav'), train('lite', 'zh.wav')]);
    for (const [tier, id] of [
      ['pro', proId],
      ['lite', liteId],
    ] as const) {
      const d = await finished(`/voice/${tier}/train/detail`, { speakerId: id });
      assert.equal(d.status, 3, String(d.errorMessage));
      // extensions: how much speech the voice was trained on (8 s of continuous speech), its language
      const speech = Number(d.speechSeconds);
      assert.ok(speech >= 6 && speech <= 8, `speechSeconds ${String(d.speechSeconds)}`);
      assert.ok(['zh', 'en', 'unknown'].includes(String(d.language)), `language ${String(d.language)}`);
    }

    // [text, shortest and longest plausible duration in seconds]
    const cases: Array<[string, number, number]> = [
      ['Good morning, everyone. Thank you for coming to the meeting today.', 2, 9],
      ['我们今天用 Node.js 做一个 demo，价格是¥20，大家觉得 OK 吗？', 3, 14],
    ];
    for (const [tier, id] of [
      ['pro', proId],
      ['lite', liteId],
    ] as const) {
      for (const [content, min, max] of cases) {
        const before = (await balance()).balance;
        const s = await h.post<{ jobId: string }>(
          `/voice/${tier}/create`,
          { speakerId: id, content, kyyRole: 'yes' },
          { token },
        );
        assert.equal(s.code, 0, s.msg);
        const d = await finished(`/voice/${tier}/create/detail`, { jobId: s.data.jobId });
        assert.equal(d.status, 3, String(d.errorMessage));
        assert.equal(d.type, tier.toUpperCase());
        const res = await h.app.inject({ method: 'GET', url: new URL(String(d.url)).pathname });
        assert.equal(res.statusCode, 200);
        assert.equal(res.headers['content-type'], 'audio/mpeg');
        const out = join(h.dataDir, `${tier}-${content.length}.mp3`);
        writeFileSync(out, res.rawPayload);
        const info = await testMedia().probe(out);
        assert.equal(info.audio?.codec, 'mp3');
        assert.equal(info.audio?.channels, 1);
        assert.equal(info.video, null);
        assert.ok(
          info.durationSec >= min && info.durationSec <= max,
          `${tier} "${content}": ${info.durationSec} s, expected ${min}-${max}`,
        );
        // detail.duration is whole seconds (seed int32) of the real output
        assert.ok(Math.abs(Number(d.duration) - info.durationSec) <= 1, `duration ${String(d.duration)}`);
        const charged = before - (await balance()).balance;
        // one point per started second of the real output (the mp3 may run a few ms longer than the speech)
        assert.ok(
          charged >= Math.ceil(info.durationSec - 0.15) && charged <= Math.ceil(info.durationSec + 0.05),
          `charged ${charged} for ${info.durationSec} s`,
        );
      }
    }
  });

  test('ratio bounds answer 20004 and wrong-type speakers 20006 on both tiers; nothing is reserved', async () => {
    assert.ok(proId !== '' && liteId !== '', 'needs the voices of the first test');
    const before = await balance();
    const code = async (tier: 'lite' | 'pro', speakerId: string, body: Record<string, unknown> = {}) =>
      (await h.post(`/voice/${tier}/create`, { speakerId, content: '你好', ...body }, { token })).code;
    for (const [tier, id] of [
      ['lite', liteId],
      ['pro', proId],
    ] as const) {
      for (const bad of [
        { speedRatio: 0.09 },
        { speedRatio: '1.91' },
        { pitchRatio: 0.05 },
        { pitchRatio: 10.01 },
        { volumeRatio: '0' },
        { volumeRatio: 11 },
        { speedRatio: 'fast' },
      ]) {
        assert.equal(await code(tier, id, bad), 20004, `${tier} ${JSON.stringify(bad)}`);
      }
    }
    // a LITE id on the PRO endpoint and a PRO id on the LITE one
    assert.equal(await code('pro', liteId), 20006);
    assert.equal(await code('lite', proId), 20006);
    // and the detail endpoints the same way
    assert.equal((await h.post('/voice/pro/train/detail', { speakerId: liteId }, { token })).code, 20006);
    assert.equal((await h.post('/voice/lite/train/detail', { speakerId: proId }, { token })).code, 20006);
    // retraining across types: a PRO id on the LITE train endpoint
    assert.equal(
      (await h.post('/voice/lite/train', { speakerId: proId, audioUrl: files.url('zh.wav') }, { token }))
        .code,
      20006,
    );
    const after = await balance();
    assert.deepEqual(after, before, 'refused requests reserve nothing and take no slot');
  });

  test('the 11th training of one speakerId answers 20004; failed retrainings keep the profile', async () => {
    const u = await h.account({ points: 100, lite: 1 });
    const tk = await h.tokenFor(u);
    const id = await train('lite', 'zh.wav', '', tk);
    assert.equal((await finished('/voice/lite/train/detail', { speakerId: id }, tk)).status, 3);
    // trainings 2..10: audio that is not there (404 fails at once, permanently)
    for (let i = 2; i <= MAX_TRAININGS_PER_VOICE; i++) {
      assert.equal(await train('lite', `missing-${i}.wav`, id, tk), id);
      const d = await finished('/voice/lite/train/detail', { speakerId: id }, tk);
      assert.equal(d.status, 4);
    }
    const eleventh = await h.post(
      '/voice/lite/train',
      { speakerId: id, audioUrl: files.url('zh.wav') },
      {
        token: tk,
      },
    );
    assert.equal(eleventh.code, 20004);
    assert.match(eleventh.msg, /10/);
    const b = await balance(tk);
    assert.equal(b.voiceLiteUsedQuantity, 1, 'retrainings use no slot');
    // the profile of the first training still speaks
    const s = await h.post<{ jobId: string }>(
      '/voice/lite/create',
      { speakerId: id, content: '好的。' },
      { token: tk },
    );
    assert.equal(s.code, 0, s.msg);
    assert.equal((await finished('/voice/lite/create/detail', { jobId: s.data.jobId }, tk)).status, 3);
  });

  test('an account with its quota used up gets 30002 and no slot is used', async () => {
    const u = await h.account({ points: 100, lite: 1, pro: 0 });
    const tk = await h.tokenFor(u);
    const pro = await h.post('/voice/pro/train', { audioUrl: files.url('zh.wav') }, { token: tk });
    assert.equal(pro.code, 30002);
    let b = await balance(tk);
    assert.equal(b.voiceProUsedQuantity, 0);
    assert.equal(b.voiceProTotalQuantity, 0);
    const first = await train('lite', 'zh.wav', '', tk);
    b = await balance(tk);
    assert.equal(b.voiceLiteUsedQuantity, 1);
    const second = await h.post('/voice/lite/train', { audioUrl: files.url('zh.wav') }, { token: tk });
    assert.equal(second.code, 30002);
    const after = await balance(tk);
    assert.equal(after.voiceLiteUsedQuantity, 1, 'the refused voice took no slot');
    assert.equal(after.voiceLiteTotalQuantity, 1);
    assert.equal(after.balance, 100);
    const voices = await h.runtime.database.db
      .selectFrom('voices')
      .select('id')
      .where('account_id', '=', u.userId)
      .execute();
    assert.deepEqual(
      voices.map((v) => v.id),
      [first],
      'no voice row for the refused training',
    );
    // the existing voice can still be retrained at full quota
    await finished('/voice/lite/train/detail', { speakerId: first }, tk);
    assert.equal(await train('lite', 'zh.wav', first, tk), first);
    assert.equal((await finished('/voice/lite/train/detail', { speakerId: first }, tk)).status, 3);
    assert.equal((await balance(tk)).voiceLiteUsedQuantity, 1);
  });

  test('audio without speech (silence, noise) fails training with a clear message and charges nothing', async () => {
    const u = await h.account({ points: 50, lite: 1, pro: 1 });
    const tk = await h.tokenFor(u);
    const ledgerBefore = await ledgerRows(u.userId);
    for (const [tier, file] of [
      ['pro', 'silence.wav'],
      ['lite', 'noise.wav'],
    ] as const) {
      const id = await train(tier, file, '', tk);
      const d = await finished(`/voice/${tier}/train/detail`, { speakerId: id }, tk);
      assert.equal(d.status, 4, `${file} trained`);
      // 20014 (audio duration): the message says how much speech was found and how much is needed
      assert.equal(d.errorCode, 20014);
      assert.match(String(d.errorMessage), /3/);
      assert.match(String(d.errorMessage), /语音|speech/);
      // a voice that never trained cannot speak
      const s = await h.post(`/voice/${tier}/create`, { speakerId: id, content: '你好' }, { token: tk });
      assert.equal(s.code, 20006);
    }
    const after = await balance(tk);
    assert.equal(after.balance, 50, 'training is free: no points taken');
    assert.deepEqual(await ledgerRows(u.userId), ledgerBefore, 'no ledger rows');
    const bills = await h.get<{ total: number }>('/user/bill/list', {
      token: tk,
      query: { pn: '1', ds: '10' },
    });
    assert.equal(bills.data.total, 0);
    // The failed voice keeps its slot (docs/decisions.md "Limits": the speakerId can be retrained with real speech);
    // no other slot is taken by the failure.
    assert.equal(after.voiceProUsedQuantity, 1);
    assert.equal(after.voiceLiteUsedQuantity, 1);
  });
});
