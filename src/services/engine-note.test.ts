import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { speechStatusBody, workStatusBody } from '../domain/wire.ts';
import { newJobRow, type Job } from '../repositories/jobs.repository.ts';
import { jobCallback, jobView, engineNoteView, ownerView, storedUrls } from './views.ts';
import { fakeAccount } from './service-fakes.ts';

function job(type: 'WORK' | 'LITE', engineNote: string | null): Job {
  const row = newJobRow(
    {
      id: type === 'WORK' ? 'w_1' : 'sl_1',
      accountId: 'u_1',
      type,
      mode: type === 'WORK' ? 'audio' : 'text',
      params: {},
      title: '',
      callbackUrl: 'https://hook.example/cb',
      reservePoints: 0,
      limits: { maxRunning: 1, maxPending: 1 },
      queue: { kind: 'work', maxAttempts: 1 },
    },
    0,
  );
  return { ...row, status: 3, engine_note: engineNote };
}

const note = JSON.stringify({
  zh: '已改用本地引擎生成视频：HeyGem（h:1）',
  en: 'rendered with the local engine: HeyGem at h:1',
});

describe('engineNote (DHS_ENGINE_FALLBACK=local)', () => {
  test('inspect and speech detail carry it in the asked language, only when the job has one', () => {
    const work = job('WORK', note);
    assert.equal(
      workStatusBody(jobView(work, storedUrls(work), 'en')).engineNote,
      'rendered with the local engine: HeyGem at h:1',
    );
    assert.equal(
      workStatusBody(jobView(work, storedUrls(work))).engineNote,
      '已改用本地引擎生成视频：HeyGem（h:1）',
    );
    const speech = job('LITE', note);
    const owner = ownerView(fakeAccount({ id: 'u_1' }));
    assert.match(
      String(speechStatusBody(jobView(speech, storedUrls(speech), 'en'), owner).engineNote),
      /^rendered/,
    );
    const plain = job('WORK', null);
    assert.equal('engineNote' in workStatusBody(jobView(plain, storedUrls(plain))), false);
    assert.equal(
      'engineNote' in speechStatusBody(jobView(job('LITE', null), storedUrls(plain)), owner),
      false,
    );
  });

  test('the callback carries it (Chinese, like its errorMessage)', () => {
    const cb = jobCallback(fakeAccount({ id: 'u_1' }))(job('WORK', note));
    assert.equal(cb?.body['engineNote'], '已改用本地引擎生成视频：HeyGem（h:1）');
  });

  test('a stored note that is not the JSON pair is shown as stored', () => {
    assert.deepEqual(engineNoteView('local engine', 'en'), { engineNote: 'local engine' });
    assert.deepEqual(engineNoteView('', 'zh'), {});
    assert.deepEqual(engineNoteView(null, 'zh'), {});
  });
});
