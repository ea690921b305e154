import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { testMedia } from '../../../test/helpers/fixtures.ts';
import type { VoiceProfile } from '../../domain/voice.ts';
import { LocalDiskBlobStore } from '../../repositories/blobs.ts';
import { planPieces } from '../voice/espeak-tts.ts';
import type { EngineError } from './engine-http.ts';
import { expectedSeconds, startFakeFishSpeech, type FakeSpeechServer } from './fake-speech.ts';
import { FishSpeechBackend } from './fish-speech.ts';
import { referenceOf } from './reference.ts';
import { RemoteSpeechEngine } from './speech.ts';
import { noWait, recordingLocal, speechInput, voiceWithReference } from './test-voices.ts';

describe('fish-speech adapter against the fake API server (with a key)', () => {
  let root: string;
  let blobs: LocalDiskBlobStore;
  let voice: VoiceProfile;
  let fake: FakeSpeechServer;

  before(async () => {
    root = mkdtempSync(join(tmpdir(), 'dhs-fish-'));
    blobs = new LocalDiskBlobStore(join(root, 'data'), 'http://127.0.0.1:9');
    voice = await voiceWithReference(root, blobs, 'PRO');
    fake = await startFakeFishSpeech({ apiKey: 'sk-test-123' });
  });
  after(async () => {
    await fake.close();
    rmSync(root, { recursive: true, force: true });
  });

  const engine = (apiKey: string | undefined) =>
    new RemoteSpeechEngine({
      backend: new FishSpeechBackend({ url: fake.url, apiKey, timeoutMs: 10_000 }),
      media: testMedia(),
      blobs,
      local: recordingLocal(),
      sleep: noWait,
    });

  test('speaks with the reference as a base64 prompt, our normalisation, one seed per voice', async () => {
    const text = '第1名得了100分。The 2nd place got 95 points.';
    const { input } = speechInput(root, voice, text);
    const res = await engine('sk-test-123').synthesize(input);
    const ref = referenceOf(voice);
    assert.ok(ref !== null);
    assert.deepEqual(
      fake.calls.map((c) => c.text),
      planPieces(text).map((p) => p.text),
    );
    assert.ok(fake.calls.every((c) => c.referenceSha256 === ref.sha256));
    assert.ok(fake.calls.every((c) => c.extra.normalize === false && c.extra.format === 'wav'));
    assert.equal(new Set(fake.calls.map((c) => c.extra.seed)).size, 1);
    assert.ok(Math.abs(res.durationSec - expectedSeconds(text)) < 0.15, String(res.durationSec));
  });

  test('a missing or wrong key is a permanent refusal quoting the server', async () => {
    for (const key of [undefined, 'sk-wrong']) {
      await assert.rejects(
        engine(key).synthesize(speechInput(root, voice, 'Hi.').input),
        (err: EngineError) => {
          assert.equal(err.retryable, false);
          assert.match(
            err.detail.en,
            key === undefined
              ? /^fish-speech at 127\.0\.0\.1:\d+ refused the request \(HTTP 401: Not authenticated\)$/
              : /^fish-speech at 127\.0\.0\.1:\d+ refused the request \(HTTP 401: Invalid token\)$/,
          );
          assert.ok(!err.detail.en.includes('sk-'), 'the key is never quoted');
          return true;
        },
      );
    }
  });

  test('its 500 is retried within the attempt; a cut-off answer too', async () => {
    const calls = fake.calls.length;
    fake.failNext(1, 'status500');
    fake.failNext(1, 'break');
    await engine('sk-test-123').synthesize(speechInput(root, voice, 'Hello again.').input);
    assert.equal(fake.calls.length, calls + 3);
    fake.failNext(3, 'status500');
    await assert.rejects(
      engine('sk-test-123').synthesize(speechInput(root, voice, 'Hi.').input),
      (err: EngineError) => {
        assert.equal(err.retryable, true);
        assert.match(err.detail.en, /fish-speech at .* failed \(HTTP 500: Failed to generate speech\)/);
        return true;
      },
    );
  });
});
