import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { testMedia } from '../../../test/helpers/fixtures.ts';
import { checkEngines } from './check.ts';
import { parseRemoteEngines } from './config.ts';
import { startFakeHeyGem, type FakeHeyGem } from './fake-heygem.ts';
import {
  startFakeCosyVoice,
  startFakeFishSpeech,
  startFakeGptSovits,
  type FakeSpeechServer,
} from './fake-speech.ts';

describe('dhs engines check', () => {
  let root: string;
  let heygem: FakeHeyGem;
  let cosy: FakeSpeechServer;
  let gsv: FakeSpeechServer;
  let fish: FakeSpeechServer;
  let downUrl: string;

  before(async () => {
    root = mkdtempSync(join(tmpdir(), 'dhs-check-'));
    [heygem, cosy, gsv, fish] = await Promise.all([
      startFakeHeyGem({ dataDir: join(root, 'heygem'), media: testMedia() }),
      startFakeCosyVoice(),
      startFakeGptSovits(),
      startFakeFishSpeech({ apiKey: 'k1' }),
    ]);
    downUrl = await new Promise((res) => {
      const s = createServer();
      s.listen(0, '127.0.0.1', () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => res(`http://127.0.0.1:${p}`));
      });
    });
  });
  after(async () => {
    await Promise.all([heygem.close(), cosy.close(), gsv.close(), fish.close()]);
    rmSync(root, { recursive: true, force: true });
  });

  const cfg = (env: Record<string, string>, lipSync = 'sample') => parseRemoteEngines(env, lipSync, root);

  test('nothing configured: nothing to check', async () => {
    assert.deepEqual(await checkEngines(cfg({})), []);
  });

  test('every configured engine answering its API is ok', async () => {
    const res = await checkEngines(
      cfg(
        {
          DHS_HEYGEM_URL: heygem.url,
          DHS_HEYGEM_DATA_DIR: heygem.dataDir,
          DHS_SPEECH_ENGINE: 'cosyvoice',
          DHS_COSYVOICE_URL: cosy.url,
          DHS_SPEECH_ENGINE_PRO: 'fish-speech',
          DHS_FISH_SPEECH_URL: fish.url,
          DHS_FISH_SPEECH_API_KEY: 'k1',
        },
        'heygem',
      ),
    );
    assert.deepEqual(
      res.map((r) => [r.engine, r.role, r.ok]),
      [
        ['HeyGem', 'lip-sync', true],
        ['CosyVoice', 'speech (LITE, works, default voice)', true],
        ['fish-speech', 'speech (PRO)', true],
      ],
    );
    assert.match(res[0]?.detail ?? '', /answers its API \(query: code 10004 任务不存在\)/);
    const g = await checkEngines(cfg({ DHS_SPEECH_ENGINE: 'gpt-sovits', DHS_GPT_SOVITS_URL: gsv.url }));
    assert.equal(g[0]?.ok, true, g[0]?.detail);
    assert.equal(g[0]?.role, 'speech (LITE, works, default voice; PRO)');
  });

  test('down, wrong server, wrong key, missing shared directory: not ok, and why', async () => {
    const res = await checkEngines(
      cfg(
        {
          DHS_HEYGEM_URL: heygem.url,
          DHS_HEYGEM_DATA_DIR: join(root, 'missing'),
          DHS_SPEECH_ENGINE: 'cosyvoice',
          DHS_COSYVOICE_URL: gsv.url,
          DHS_SPEECH_ENGINE_PRO: 'fish-speech',
          DHS_FISH_SPEECH_URL: fish.url,
          DHS_FISH_SPEECH_API_KEY: 'nope',
        },
        'heygem',
      ),
    );
    assert.equal(res.filter((r) => r.ok).length, 0);
    assert.match(res[0]?.detail ?? '', /DHS_HEYGEM_DATA_DIR .*missing does not exist/);
    assert.match(
      res[1]?.detail ?? '',
      /CosyVoice at 127\.0\.0\.1:\d+ answers, but has no \/inference_cross_lingual/,
    );
    assert.match(res[2]?.detail ?? '', /refused DHS_FISH_SPEECH_API_KEY \(HTTP 401\)/);
    const down = await checkEngines(cfg({ DHS_SPEECH_ENGINE: 'fish-speech', DHS_FISH_SPEECH_URL: downUrl }));
    assert.equal(down[0]?.ok, false);
    assert.match(
      down[0]?.detail ?? '',
      /fish-speech at 127\.0\.0\.1:\d+ is unreachable \(connection refused\)/,
    );
  });
});
