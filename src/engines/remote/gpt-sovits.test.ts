import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { testMedia } from '../../../test/helpers/fixtures.ts';
import type { VoiceProfile } from '../../domain/voice.ts';
import { LocalDiskBlobStore } from '../../repositories/blobs.ts';
import { planPieces } from '../voice/espeak-tts.ts';
import type { EngineError } from './engine-http.ts';
import { expectedSeconds, startFakeGptSovits, type FakeSpeechServer } from './fake-speech.ts';
import { GptSovitsBackend, gptSovitsBody, remotePath } from './gpt-sovits.ts';
import { referenceOf } from './reference.ts';
import { RemoteSpeechEngine } from './speech.ts';
import { noWait, recordingLocal, speechInput, voiceWithReference } from './test-voices.ts';

describe('GPT-SoVITS', () => {
  test('reference paths follow the remote host’s spelling', () => {
    assert.equal(remotePath('/srv/refs/', 'a.wav'), '/srv/refs/a.wav');
    assert.equal(remotePath('D:\\gsv\\refs', 'a.wav'), 'D:\\gsv\\refs\\a.wav');
  });

  test('no transcript: reference-free mode (empty prompt_text), prompt_lang auto; the piece keeps its language', () => {
    const ref = {
      version: 1 as const,
      key: 'k',
      sha256: 'a'.repeat(64),
      sampleRate: 16000,
      durationSec: 5,
      language: 'unknown' as const,
    };
    const body = gptSovitsBody('Hello.', 'en', ref, '/r/a.wav');
    assert.equal(body.prompt_text, '');
    assert.equal(body.prompt_lang, 'auto');
    assert.equal(body.text_lang, 'en');
    assert.equal(body.media_type, 'wav');
    assert.equal(
      gptSovitsBody('你好', 'zh', { ...ref, language: 'zh', text: '参考' }, '/r/a.wav').prompt_lang,
      'zh',
    );
  });

  describe('adapter against the fake api_v2 server', () => {
    let root: string;
    let blobs: LocalDiskBlobStore;
    let voice: VoiceProfile;
    const servers: FakeSpeechServer[] = [];

    before(async () => {
      root = mkdtempSync(join(tmpdir(), 'dhs-gsv-'));
      blobs = new LocalDiskBlobStore(join(root, 'data'), 'http://127.0.0.1:9');
      voice = await voiceWithReference(root, blobs);
    });
    after(async () => {
      await Promise.all(servers.map((s) => s.close()));
      rmSync(root, { recursive: true, force: true });
    });

    async function engine(o: { refDirRemote?: string } = {}) {
      const fake = await startFakeGptSovits();
      servers.push(fake);
      const refDir = join(root, 'refs');
      const backend = new GptSovitsBackend({
        url: fake.url,
        refDir,
        refDirRemote: o.refDirRemote ?? refDir,
        timeoutMs: 10_000,
      });
      return {
        fake,
        refDir,
        engine: new RemoteSpeechEngine({
          backend,
          media: testMedia(),
          blobs,
          local: recordingLocal(),
          sleep: noWait,
        }),
      };
    }

    test('the clip is written where the server reads it; each part goes with its language', async () => {
      const { fake, refDir, engine: e } = await engine();
      const text = '欢迎光临，今天打九折。Welcome, everything is 10% off!';
      const { input } = speechInput(root, voice, text);
      const res = await e.synthesize(input);
      const ref = referenceOf(voice);
      assert.ok(ref !== null);
      const onDisk = join(refDir, `${ref.sha256}.wav`);
      assert.ok(existsSync(onDisk));
      assert.equal(createHash('sha256').update(readFileSync(onDisk)).digest('hex'), ref.sha256);
      assert.deepEqual(
        fake.calls.map((c) => [c.lang, c.text]),
        planPieces(text).map((p) => [p.lang, p.text]),
      );
      assert.ok(fake.calls.every((c) => c.referenceSha256 === ref.sha256 && c.promptText === ''));
      assert.ok(Math.abs(res.durationSec - expectedSeconds(text)) < 0.15, String(res.durationSec));
    });

    test('a 400 is permanent and quotes its message (a reference path the server cannot read)', async () => {
      const { engine: e } = await engine({ refDirRemote: '/nonexistent/refs' });
      await assert.rejects(e.synthesize(speechInput(root, voice, 'Hello.').input), (err: EngineError) => {
        assert.equal(err.retryable, false);
        assert.match(
          err.detail.en,
          /^GPT-SoVITS at 127\.0\.0\.1:\d+ refused the request \(HTTP 400: tts failed \(\/nonexistent\/refs\/[0-9a-f]{64}\.wav not exists\)\)$/,
        );
        return true;
      });
    });

    test('its failure mode, one second of silence with status 200, is caught and retried', async () => {
      const { fake, engine: e } = await engine();
      fake.failNext(1, 'silence');
      await e.synthesize(speechInput(root, voice, 'Hello.').input);
      assert.equal(fake.calls.length, 2);
      fake.failNext(3, 'silence');
      await assert.rejects(e.synthesize(speechInput(root, voice, 'Hello.').input), (err: EngineError) => {
        assert.equal(err.retryable, true);
        assert.match(err.detail.en, /GPT-SoVITS at .* answered silence for piece 1/);
        return true;
      });
    });

    test('a damaged copy in the reference directory is replaced', async () => {
      const { refDir, engine: e } = await engine();
      const ref = referenceOf(voice);
      assert.ok(ref !== null);
      await e.synthesize(speechInput(root, voice, 'One.').input);
      const onDisk = join(refDir, `${ref.sha256}.wav`);
      await import('node:fs/promises').then((fs) => fs.writeFile(onDisk, 'broken'));
      await e.synthesize(speechInput(root, voice, 'Two.').input);
      assert.equal(createHash('sha256').update(readFileSync(onDisk)).digest('hex'), ref.sha256);
    });
  });
});
