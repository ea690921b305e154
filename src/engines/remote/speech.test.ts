import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { testMedia } from '../../../test/helpers/fixtures.ts';
import type { VoiceProfile } from '../../domain/voice.ts';
import { LocalDiskBlobStore } from '../../repositories/blobs.ts';
import { planPieces } from '../voice/espeak-tts.ts';
import { CosyVoiceBackend, cosyVoiceRequest } from './cosyvoice.ts';
import { EngineError } from './engine-http.ts';
import { expectedSeconds, fakeSeconds, startFakeCosyVoice, type FakeSpeechServer } from './fake-speech.ts';
import { referenceOf } from './reference.ts';
import { adjustFilters, RemoteSpeechEngine, TieredSpeechEngine } from './speech.ts';
import { noWait, recordingLocal, speechInput, voiceWithReference } from './test-voices.ts';

describe('speech post-processing', () => {
  test('speed, pitch and volume become ffmpeg filters; none at 1', () => {
    assert.deepEqual(adjustFilters(1, 1, 1, 24000), []);
    assert.deepEqual(adjustFilters(1.5, 1, 1, 24000), ['atempo=1.500000']);
    assert.deepEqual(adjustFilters(0.2, 1, 1, 24000), ['atempo=0.5', 'atempo=0.5', 'atempo=0.800000']);
    assert.deepEqual(adjustFilters(1, 2, 1, 24000), ['asetrate=48000', 'aresample=24000', 'atempo=0.500000']);
    assert.deepEqual(
      adjustFilters(1, 10, 1, 24000).slice(0, 1),
      ['asetrate=48000'],
      'pitch at most an octave',
    );
    assert.deepEqual(adjustFilters(1, 1, 2, 24000), [
      'volume=2.0000',
      'alimiter=limit=0.95:level=0:latency=1',
    ]);
    assert.deepEqual(adjustFilters(1, 1, 0.5, 24000), ['volume=0.5000']);
  });
});

describe('CosyVoice', () => {
  test('cross-lingual without a transcript; language tags for v1, the system prompt for v3', () => {
    assert.deepEqual(cosyVoiceRequest(2, '你好', 'zh', undefined), {
      path: '/inference_cross_lingual',
      ttsText: '你好',
    });
    assert.deepEqual(cosyVoiceRequest(1, 'Hello', 'en', undefined), {
      path: '/inference_cross_lingual',
      ttsText: '<|en|>Hello',
    });
    assert.equal(
      cosyVoiceRequest(3, 'Hello', 'en', undefined).ttsText,
      'You are a helpful assistant.<|endofprompt|>Hello',
    );
    assert.deepEqual(cosyVoiceRequest(3, 'Hello', 'en', '你好呀'), {
      path: '/inference_zero_shot',
      ttsText: 'Hello',
      promptText: 'You are a helpful assistant.<|endofprompt|>你好呀',
    });
    assert.equal(cosyVoiceRequest(2, 'Hello', 'en', '你好呀').promptText, '你好呀');
  });

  describe('adapter against the fake FastAPI server', () => {
    let root: string;
    let blobs: LocalDiskBlobStore;
    let voice: VoiceProfile;
    const servers: FakeSpeechServer[] = [];

    before(async () => {
      root = mkdtempSync(join(tmpdir(), 'dhs-cosy-'));
      blobs = new LocalDiskBlobStore(join(root, 'data'), 'http://127.0.0.1:9');
      voice = await voiceWithReference(root, blobs);
    });
    after(async () => {
      await Promise.all(servers.map((s) => s.close()));
      rmSync(root, { recursive: true, force: true });
    });

    async function engine(
      o: { version?: 1 | 2 | 3; fakeVersion?: 1 | 2 | 3; sampleRate?: number; url?: string } = {},
    ) {
      const fake = await startFakeCosyVoice({
        version: o.fakeVersion ?? o.version ?? 2,
        sampleRate: o.sampleRate ?? 24000,
      });
      servers.push(fake);
      const local = recordingLocal();
      const backend = new CosyVoiceBackend({
        url: o.url ?? fake.url,
        sampleRate: o.sampleRate ?? 24000,
        version: o.version ?? 2,
        timeoutMs: 10_000,
      });
      return {
        fake,
        local,
        engine: new RemoteSpeechEngine({ backend, media: testMedia(), blobs, local, sleep: noWait }),
      };
    }

    test('mixed text: each language part sent with the reference clip, joined, billed on the real length', async () => {
      const { fake, engine: e } = await engine();
      const text = '今天是2026年11月25日，价格是¥20。Hello world, we have 42 cats!';
      const { input, progress } = speechInput(root, voice, text);
      const res = await e.synthesize(input);
      const ref = referenceOf(voice);
      assert.ok(ref !== null);
      assert.deepEqual(
        fake.calls.map((c) => [c.path, c.text]),
        planPieces(text).map((p) => ['/inference_cross_lingual', p.text]),
      );
      assert.ok(
        fake.calls.every((c) => c.referenceSha256 === ref.sha256),
        'the stored clip is the prompt',
      );
      assert.match(fake.calls[0]?.text ?? '', /二零二六年/, 'numbers read out as today');
      assert.match(fake.calls.at(-1)?.text ?? '', /forty-two/);
      const info = await testMedia().probe(input.outFile);
      assert.equal(info.audio?.codec, 'mp3');
      assert.equal(info.audio?.channels, 1);
      assert.ok(
        Math.abs(info.durationSec - expectedSeconds(text)) < 0.15,
        `${info.durationSec} vs ${expectedSeconds(text)}`,
      );
      assert.equal(res.durationSec, info.durationSec);
      assert.equal(progress.at(-1), 1);
      // subtitles' timings: each piece where it was joined, in the written form, pauses between
      const pieces = planPieces(text);
      assert.deepEqual(
        res.segments?.map((s) => s.text),
        pieces.map((p) => p.display),
      );
      let at = 0;
      for (const [i, p] of pieces.entries()) {
        const seg = res.segments?.[i];
        assert.ok(seg);
        assert.ok(
          Math.abs(seg.startSec - at) < 0.01 && Math.abs(seg.endSec - at - fakeSeconds(p.text)) < 0.01,
        );
        at = seg.endSec + p.pauseAfterSec;
      }
    });

    test('CosyVoice 1 gets language tags; 22050 Hz PCM is resampled', async () => {
      const { fake, engine: e } = await engine({ version: 1, sampleRate: 22050 });
      const { input } = speechInput(root, voice, '你好。Good morning.');
      const res = await e.synthesize(input);
      assert.deepEqual(
        fake.calls.map((c) => c.text),
        ['<|zh|>你好。', '<|en|>Good morning.'],
      );
      assert.ok(Math.abs(res.durationSec - expectedSeconds('你好。Good morning.')) < 0.15);
    });

    test('speedRatio 2 halves the length', async () => {
      const { engine: e } = await engine();
      const text = 'A sentence long enough to measure its speed.';
      const { input } = speechInput(root, voice, text, { speedRatio: 2 });
      const res = await e.synthesize(input);
      assert.ok(Math.abs(res.durationSec - expectedSeconds(text) / 2) < 0.15, String(res.durationSec));
      const [seg] = res.segments ?? [];
      assert.ok(seg && Math.abs(seg.endSec - fakeSeconds(planPieces(text)[0]?.text ?? '') / 2) < 0.01);
      assert.ok(seg.endSec <= res.durationSec);
    });

    test('a stream cut off once is asked again within the attempt; every time: retryable, named', async () => {
      const { fake, engine: e } = await engine();
      fake.failNext(1, 'break');
      const once = speechInput(root, voice, 'Hello there.');
      await e.synthesize(once.input);
      assert.equal(fake.calls.length, 2);
      fake.failNext(3, 'break');
      const always = speechInput(root, voice, 'Hello there.');
      await assert.rejects(e.synthesize(always.input), (err: EngineError) => {
        assert.ok(err instanceof EngineError);
        assert.equal(err.retryable, true);
        assert.match(err.detail.en, /^CosyVoice at 127\.0\.0\.1:\d+ broke off its answer$/);
        return true;
      });
    });

    test('a CosyVoice 3 server given CosyVoice 2 text breaks off (its assertion); v3 text works', async () => {
      const wrong = await engine({ version: 2, fakeVersion: 3 });
      await assert.rejects(
        wrong.engine.synthesize(speechInput(root, voice, 'Hi.').input),
        /broke off its answer/,
      );
      const right = await engine({ version: 3 });
      await right.engine.synthesize(speechInput(root, voice, 'Hi.').input);
      assert.match(right.fake.calls[0]?.text ?? '', /<\|endofprompt\|>Hi\./);
    });

    test('silence is not speech: caught, retried, then an error naming the engine', async () => {
      const { fake, engine: e } = await engine();
      fake.failNext(3, 'silence');
      await assert.rejects(
        e.synthesize(speechInput(root, voice, 'Hello.').input),
        /CosyVoice at .* answered silence for piece 1/,
      );
    });

    test('a 4xx is permanent and quotes the engine; a 5xx is retryable', async () => {
      const { fake, engine: e } = await engine();
      const wrongPath = new RemoteSpeechEngine({
        backend: new CosyVoiceBackend({
          url: `${fake.url}/api`,
          sampleRate: 24000,
          version: 2,
          timeoutMs: 5000,
        }),
        media: testMedia(),
        blobs,
        local: recordingLocal(),
        sleep: noWait,
      });
      await assert.rejects(
        wrongPath.synthesize(speechInput(root, voice, 'Hi.').input),
        (err: EngineError) => {
          assert.equal(err.retryable, false);
          assert.match(
            err.detail.en,
            /CosyVoice at 127\.0\.0\.1:\d+ refused the request \(HTTP 404: Not Found\)/,
          );
          return true;
        },
      );
      fake.failNext(3, 'status500');
      await assert.rejects(e.synthesize(speechInput(root, voice, 'Hi.').input), (err: EngineError) => {
        assert.equal(err.retryable, true);
        assert.match(err.detail.en, /CosyVoice at .* failed \(HTTP 500: Internal Server Error\)/);
        return true;
      });
    });

    test('garbage (an HTML page) and a slow server are clear errors', async () => {
      const html = createServer((_req, res) => {
        res.writeHead(200, { 'content-type': 'text/html' }).end('<html>proxy login</html>');
      });
      const slow = createServer(() => undefined);
      await Promise.all([html, slow].map((s) => new Promise<void>((r) => s.listen(0, '127.0.0.1', r))));
      const at = (s: typeof html) => `http://127.0.0.1:${(s.address() as { port: number }).port}`;
      const make = (url: string, timeoutMs: number) =>
        new RemoteSpeechEngine({
          backend: new CosyVoiceBackend({ url, sampleRate: 24000, version: 2, timeoutMs }),
          media: testMedia(),
          blobs,
          local: recordingLocal(),
          sleep: noWait,
        });
      try {
        await assert.rejects(
          make(at(html), 5000).synthesize(speechInput(root, voice, 'Hi.').input),
          (err: EngineError) => {
            assert.equal(err.retryable, false);
            assert.match(
              err.detail.en,
              /CosyVoice at .* answered something that is not its API: text\/html instead of PCM/,
            );
            return true;
          },
        );
        await assert.rejects(
          make(at(slow), 200).synthesize(speechInput(root, voice, 'Hi.').input),
          (err: EngineError) => {
            assert.equal(err.retryable, true);
            assert.match(err.detail.en, /CosyVoice at 127\.0\.0\.1:\d+ did not answer within 0\.2 s/);
            return true;
          },
        );
      } finally {
        for (const s of [html, slow]) {
          s.closeAllConnections();
          s.close();
        }
      }
    });

    test('the default voice, and a voice taken before the engine was configured, speak locally', async () => {
      const { fake, local, engine: e } = await engine();
      await e.synthesize(speechInput(root, null, 'Hello.').input);
      const { extra: _extra, ...trainedLocally } = voice;
      await e.synthesize(speechInput(root, trainedLocally, 'Hello.').input);
      assert.equal(local.calls.length, 2);
      assert.equal(local.calls[1]?.voice, trainedLocally, 'with its profile');
      assert.equal(fake.calls.length, 0);
    });

    test('a reference clip missing from the blob store is a clear permanent error', async () => {
      const { engine: e } = await engine();
      const ref = referenceOf(voice);
      assert.ok(ref !== null);
      const gone = {
        ...voice,
        extra: { ...voice.extra, reference: { ...ref, key: 'voices/refs/missing.wav' } },
      };
      await assert.rejects(e.synthesize(speechInput(root, gone, 'Hello.').input), (err: EngineError) => {
        assert.equal(err.retryable, false);
        assert.match(
          err.detail.en,
          /reference clip voices\/refs\/missing\.wav is missing or damaged, so CosyVoice at 127\.0\.0\.1:\d+ cannot speak it: train the voice again/,
        );
        return true;
      });
    });

    test('PRO voices can go to another engine', async () => {
      const lite = recordingLocal();
      const pro = recordingLocal();
      const tiered = new TieredSpeechEngine(lite, pro);
      await tiered.synthesize(speechInput(root, { ...voice, tier: 'PRO' }, 'Hi.').input);
      await tiered.synthesize(speechInput(root, voice, 'Hi.').input);
      await tiered.synthesize(speechInput(root, null, 'Hi.').input);
      assert.equal(pro.calls.length, 1);
      assert.equal(lite.calls.length, 2);
    });
  });
});
