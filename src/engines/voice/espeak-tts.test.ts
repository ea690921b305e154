import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AppError, ErrorCode } from '../../domain/errors.ts';
import { FfmpegMedia } from '../../repositories/ffmpeg-media.ts';
import type { VoiceProfile } from '../../domain/voice.ts';
import type { SpeechInput } from '../ports.ts';
import { detectSpeech, median, pitchOfFrames, rms, toDb } from '../audio/dsp.ts';
import { BasicVoiceTrainer } from './basic-trainer.ts';
import {
  applyGain,
  BASE_SPEAKING_RATE,
  chooseVoice,
  DEFAULT_F0_HZ,
  EspeakSpeechEngine,
  FOLLOWS_RATE_AND_LOUDNESS,
  LOUDNESS_RANGE_DB,
  loudnessGain,
  planPieces,
  speakerTempo,
  rateFor,
  resampleLinear,
  targetF0,
  TEMPO_RANGE,
  WavWriter,
} from './espeak-tts.ts';

const media = new FfmpegMedia({ ffmpegPath: 'ffmpeg', ffprobePath: 'ffprobe' });
const SR = 16_000;

function profile(f0MedianHz: number): VoiceProfile {
  return {
    version: 1,
    tier: 'LITE',
    language: 'unknown',
    speechSeconds: 10,
    f0MedianHz,
    f0RangeSemitones: 6,
    speakingRate: 4,
    loudnessDb: -20,
  };
}

describe('espeak-tts pure parts', () => {
  it('targetF0 starts from the profile or the default and multiplies by pitchRatio', () => {
    assert.equal(targetF0(null, 1), DEFAULT_F0_HZ);
    assert.equal(targetF0(null, 2), DEFAULT_F0_HZ * 2);
    assert.equal(targetF0(profile(200), 0.5), 100);
  });

  it('chooseVoice picks the variant by target and interpolates pitch on a log scale', () => {
    assert.deepEqual(chooseVoice('zh', 102), { voice: 'cmn', pitch: 60 });
    assert.deepEqual(chooseVoice('en', 117), { voice: 'en-us', pitch: 60 });
    assert.equal(chooseVoice('zh', 220).voice, 'cmn+f2');
    assert.equal(chooseVoice('en', 220).voice, 'en-us+f2');
    const mid = chooseVoice('zh', Math.sqrt(102 * 127)).pitch; // halfway between 60 and 80 in log F0
    assert.equal(mid, 70);
    assert.deepEqual(chooseVoice('zh', 10), { voice: 'cmn', pitch: 0 });
    assert.deepEqual(chooseVoice('zh', 5000), { voice: 'cmn+f2', pitch: 99 });
    let last = -1;
    for (let hz = 60; hz < 149; hz += 5) {
      const p = chooseVoice('zh', hz).pitch;
      assert.ok(p >= last, `pitch falls at ${hz} Hz`);
      last = p;
    }
  });

  it('rateFor scales 175 wpm and stays in espeak range', () => {
    assert.equal(rateFor(1), 175);
    assert.equal(rateFor(1.5), 263);
    assert.equal(rateFor(0.1), 80);
    assert.equal(rateFor(5), 450);
  });

  it('speakerTempo follows the trained rate against the base synthesizers, within TEMPO_RANGE, LITE only', () => {
    const [lo, hi] = TEMPO_RANGE;
    const lite = (speakingRate: number) => speakerTempo({ ...profile(120), speakingRate });
    assert.equal(speakerTempo(null), 1);
    assert.equal(lite(BASE_SPEAKING_RATE), 1);
    const inside = BASE_SPEAKING_RATE * (1 + (hi - 1) / 2);
    assert.ok(Math.abs(lite(inside) - inside / BASE_SPEAKING_RATE) < 1e-9);
    assert.equal(lite(BASE_SPEAKING_RATE * lo * 0.5), lo);
    assert.equal(lite(BASE_SPEAKING_RATE * hi * 2), hi);
    assert.equal(lite(0), 1);
    assert.equal(FOLLOWS_RATE_AND_LOUDNESS.PRO, false);
    assert.equal(speakerTempo({ ...profile(120), tier: 'PRO', speakingRate: BASE_SPEAKING_RATE * 2 }), 1);
  });

  it('loudnessGain brings speech to the trained level, within LOUDNESS_RANGE_DB and 12 dB, LITE only', () => {
    const [lo, hi] = LOUDNESS_RANGE_DB;
    // 1 s of silence, 2 s of a 200 Hz tone at `level` dBFS RMS, 1 s of silence.
    const tone = (level: number) => {
      const pcm = new Int16Array(4 * SR);
      const amp = 10 ** (level / 20) * Math.SQRT2 * 32767;
      for (let i = SR; i < 3 * SR; i++) pcm[i] = Math.round(amp * Math.sin((2 * Math.PI * 200 * i) / SR));
      return pcm;
    };
    const db = (g: number) => 20 * Math.log10(g);
    const lite = (loudnessDb: number) => ({ ...profile(120), loudnessDb });
    // within 0.6 dB: the detector's hangover counts 10 silent frames after the tone as speech (-0.4 dB)
    const near = (got: number, want: number, what: string) =>
      assert.ok(Math.abs(got - want) < 0.6, `${what}: ${got} dB, expected ${want}`);
    const pcm = tone(-30);
    assert.equal(loudnessGain(pcm, SR, null), 1);
    near(db(loudnessGain(pcm, SR, lite((lo + hi) / 2))), (lo + hi) / 2 + 30, 'inside the range');
    near(db(loudnessGain(pcm, SR, lite(lo - 20))), lo + 30, 'below the range: its floor');
    near(db(loudnessGain(pcm, SR, lite(hi + 20))), hi + 30, 'above the range: its ceiling');
    near(db(loudnessGain(tone(-45), SR, lite(hi))), 12, 'at most 12 dB');
    assert.equal(loudnessGain(new Int16Array(SR), SR, lite(hi)), 1, 'no speech: unchanged');
    assert.equal(loudnessGain(pcm, SR, { ...lite(lo), tier: 'PRO' }), 1, 'PRO keeps the level');
  });

  it('applyGain scales linearly and soft-clips without wrap-around', () => {
    const x = Int16Array.from([0, 1000, -1000, 16384, -16384, 32767, -32768]);
    assert.equal(applyGain(x, 1), x);
    assert.deepEqual(Array.from(applyGain(x, 0.5)), [0, 500, -500, 8192, -8192, 16384, -16384]);
    const loud = applyGain(x, 10);
    assert.equal(loud[1], 10_000);
    for (let i = 1; i < x.length; i++) {
      assert.equal(Math.sign(loud[i] as number), Math.sign(x[i] as number), `sign flipped at ${i}`);
    }
    assert.ok((loud[5] as number) > 30_000 && (loud[5] as number) <= 32767);
    assert.ok((loud[6] as number) < -30_000);
  });

  it('planPieces normalizes, splits by language and sets pauses', () => {
    const pieces = planPieces('今天是2026年。We paid $5 for it，好的');
    assert.deepEqual(
      pieces.map((p) => [p.lang, p.text]),
      [
        ['zh', '今天是二零二六年。'],
        ['en', 'We paid five dollars for it,'],
        ['zh', '好的'],
      ],
    );
    assert.deepEqual(
      pieces.map((p) => p.pauseAfterSec),
      [0.35, 0.12, 0],
    );
    assert.deepEqual(planPieces('，。！？ …'), []);
  });

  it('planPieces keeps the written form of each piece for subtitles', () => {
    const pieces = planPieces('今天是2026年。We paid $5 for it，好的');
    assert.deepEqual(
      pieces.map((p) => p.display),
      ['今天是2026年。', 'We paid $5 for it，', '好的'],
    );
    // a run whose written cuts differ from the spoken ones shows the spoken words
    const long = planPieces(`${'价格是1234567元，'.repeat(30)}结束。`);
    assert.ok(long.length >= 2);
    assert.deepEqual(
      long.map((p) => p.display),
      long.map((p) => p.text),
    );
  });

  it('planPieces cuts long text into pieces of at most 300 characters', () => {
    const pieces = planPieces('这是一个很长的句子，'.repeat(100) + '结束。');
    assert.ok(pieces.length >= 4);
    assert.ok(pieces.every((p) => p.text.length <= 300));
  });
});

describe('WavWriter', () => {
  let dir = '';
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dhs-wav-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('writes a WAV that ffmpeg reads back sample for sample', async () => {
    const path = join(dir, 'x.wav');
    const w = await WavWriter.create(path, SR);
    await w.write(Int16Array.from([16384, -16384, 8192]));
    await w.silence(0.001); // 16 samples
    await w.write(Int16Array.from([100]));
    await w.close();
    assert.equal(w.sampleCount, 20);
    const info = await media.probe(path);
    assert.equal(info.audio?.codec, 'pcm_s16le');
    assert.equal(info.audio?.sampleRate, SR);
    const pcm = await media.decodeAudio(path, SR);
    assert.equal(pcm.length, 20);
    assert.equal(pcm[0], 0.5);
    assert.equal(pcm[1], -0.5);
    assert.equal(pcm[2], 0.25);
    assert.equal(pcm[3], 0);
    assert.ok(Math.abs((pcm[19] as number) - 100 / 32768) < 1e-6);
  });
});

describe('EspeakSpeechEngine', () => {
  const engine = new EspeakSpeechEngine(media);
  let dir = '';
  let seq = 0;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dhs-tts-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  function input(text: string, over: Partial<SpeechInput> = {}): SpeechInput {
    return {
      text,
      voice: null,
      speedRatio: 1,
      pitchRatio: 1,
      volumeRatio: 1,
      crossLanguage: false,
      outFile: join(dir, `out-${++seq}.wav`),
      workDir: join(dir, 'work'),
      onProgress: () => {},
      signal: new AbortController().signal,
      ...over,
    };
  }

  async function speak(
    text: string,
    over: Partial<SpeechInput> = {},
  ): Promise<{ durationSec: number; pcm: Float32Array; f0: number; levelDb: number }> {
    const inp = input(text, over);
    const { durationSec } = await engine.synthesize(inp);
    const pcm = await media.decodeAudio(inp.outFile, SR);
    const vad = detectSpeech(pcm, SR);
    const f0 = median(pitchOfFrames(pcm, SR, vad.frameLen, vad.speech));
    return { durationSec, pcm, f0, levelDb: toDb(rms(pcm)) };
  }

  const ZH = '你好，欢迎使用数字人语音合成服务。今天是2026年3月5日，气温25度。';
  const EN = 'Hello and welcome. The meeting starts at 9 and costs $5 per person.';

  it('has its name', () => assert.equal(engine.name, 'baseline-espeak-flite'));

  it('speaks Mandarin', async () => {
    const { durationSec, pcm, levelDb } = await speak(ZH);
    assert.ok(durationSec > 5 && durationSec < 20, `duration ${durationSec}`);
    assert.ok(Math.abs(pcm.length / SR - durationSec) < 0.05);
    assert.ok(levelDb > -30, `level ${levelDb}`);
  });

  it('speaks English', async () => {
    const { durationSec, levelDb } = await speak(EN);
    assert.ok(durationSec > 2.5 && durationSec < 12, `duration ${durationSec}`);
    assert.ok(levelDb > -30, `level ${levelDb}`);
  });

  it('reports where each piece is heard: in order, between the pauses, ending with the audio', async () => {
    const inp = input('你好，世界。Hello there, friends. 再见！', { speedRatio: 1.3 });
    const { durationSec, segments } = await engine.synthesize(inp);
    assert.deepEqual(
      segments?.map((s) => s.text),
      ['你好，世界。', 'Hello there, friends.', '再见！'],
    );
    let prev = 0;
    for (const s of segments ?? []) {
      assert.ok(s.startSec >= prev && s.endSec > s.startSec, JSON.stringify(s));
      prev = s.endSec;
    }
    // pauses after sentence ends (0.35 s at speed 1, shorter when faster) lie between pieces
    const [a, b] = segments ?? [];
    assert.ok(a && b && b.startSec - a.endSec > 0.2 && b.startSec - a.endSec < 0.35);
    assert.equal(segments?.at(-1)?.endSec, durationSec);
    const pcm = await media.decodeAudio(inp.outFile, SR);
    assert.ok(Math.abs(pcm.length / SR - durationSec) < 0.01);
  });

  it('speaks mixed text, about as long as its parts', async () => {
    const zh = await speak('我们昨天去了公园。');
    const en = await speak('It was a very good day.');
    const mixed = await speak('我们昨天去了公园。It was a very good day.');
    const sum = zh.durationSec + en.durationSec;
    assert.ok(Math.abs(mixed.durationSec - sum) < 0.6, `mixed ${mixed.durationSec} vs parts ${sum}`);
  });

  it('writes mp3 by extension, with the reported duration', async () => {
    const inp = input(ZH, { outFile: join(dir, 'speech.mp3') });
    const { durationSec } = await engine.synthesize(inp);
    const info = await media.probe(inp.outFile);
    assert.equal(info.audio?.codec, 'mp3');
    assert.equal(info.audio?.channels, 1);
    assert.ok(Math.abs(info.durationSec - durationSec) < 0.1, `${info.durationSec} vs ${durationSec}`);
  });

  it('pitchRatio 2 raises the measured F0', async () => {
    const normal = await speak(ZH);
    const high = await speak(ZH, { pitchRatio: 2 });
    assert.ok(high.f0 > normal.f0 * 1.5, `F0 ${normal.f0} -> ${high.f0}`);
  });

  it('lands near the profile pitch: 220 Hz above 110 Hz', async () => {
    const low = await speak(ZH, { voice: profile(110) });
    const high = await speak(ZH, { voice: profile(220) });
    assert.ok(high.f0 > low.f0 * 1.5, `F0 ${low.f0} -> ${high.f0}`);
    assert.ok(Math.abs(Math.log2(low.f0 / 110)) < 0.25, `110 Hz profile measured ${low.f0}`);
    assert.ok(Math.abs(Math.log2(high.f0 / 220)) < 0.25, `220 Hz profile measured ${high.f0}`);
  });

  it('volumeRatio 0.5 lowers the level by about 6 dB', async () => {
    const normal = await speak(EN);
    const quiet = await speak(EN, { volumeRatio: 0.5 });
    const drop = normal.levelDb - quiet.levelDb;
    assert.ok(drop > 5 && drop < 7, `drop ${drop} dB`);
  });

  it('volumeRatio 10 is louder and soft-clips instead of wrapping', async () => {
    const inp = input(EN, { volumeRatio: 10 });
    await engine.synthesize(inp);
    // Decoded at the engine's own rate: resampling would overshoot the clipped peaks.
    const pcm = await media.decodeAudio(inp.outFile, 22_050);
    let peak = 0;
    for (const x of pcm) peak = Math.max(peak, Math.abs(x));
    assert.ok(peak <= 1, `peak ${peak}`);
    const normal = await speak(EN);
    assert.ok(toDb(rms(pcm)) > normal.levelDb + 6);
  });

  it('speedRatio 1.5 is shorter and 0.6 longer', async () => {
    const normal = await speak(EN);
    const fast = await speak(EN, { speedRatio: 1.5 });
    const slow = await speak(EN, { speedRatio: 0.6 });
    assert.ok(fast.durationSec < normal.durationSec * 0.8, `${fast.durationSec} vs ${normal.durationSec}`);
    assert.ok(slow.durationSec > normal.durationSec * 1.3, `${slow.durationSec} vs ${normal.durationSec}`);
  });

  it('a LITE voice follows the trained speaking rate and loudness; a PRO voice does not', async () => {
    const [lo, hi] = TEMPO_RANGE;
    const [quiet, loud] = LOUDNESS_RANGE_DB;
    const slowQuiet = { ...profile(120), speakingRate: BASE_SPEAKING_RATE * lo, loudnessDb: quiet };
    const fastLoud = { ...profile(120), speakingRate: BASE_SPEAKING_RATE * hi, loudnessDb: loud };
    const slow = await speak(EN, { voice: slowQuiet });
    const fast = await speak(EN, { voice: fastLoud });
    const ratio = slow.durationSec / fast.durationSec;
    assert.ok(ratio > 1 + (hi / lo - 1) / 2, `slow ${slow.durationSec} s vs fast ${fast.durationSec} s`);
    const louder = fast.levelDb - slow.levelDb;
    assert.ok(Math.abs(louder - (loud - quiet)) < 2, `fast voice ${louder} dB louder`);
    const proSlow = await speak(EN, { voice: { ...slowQuiet, tier: 'PRO' } });
    const proFast = await speak(EN, { voice: { ...fastLoud, tier: 'PRO' } });
    assert.equal(proSlow.durationSec, proFast.durationSec);
    assert.ok(Math.abs(proSlow.levelDb - proFast.levelDb) < 0.1);
  });

  it('BASE_SPEAKING_RATE is what the trainer measures on the base synthesizers', async () => {
    const trainer = new BasicVoiceTrainer(media);
    const texts = [
      '今天天气很好，我们一起去公园散步吧。这家公司去年的收入增长了很多，大家都很高兴。请在周五之前把报告发给我，谢谢你的帮助。',
      'The weather is nice today, so we should take a walk in the park. Our revenue grew a lot last year and everyone is happy. Please send me the report before Friday, thank you for your help.',
    ];
    for (const text of texts) {
      const inp = input(text);
      await engine.synthesize(inp);
      const p = await trainer.train({
        audioFiles: [inp.outFile],
        tier: 'LITE',
        workDir: join(dir, 'train'),
        signal: new AbortController().signal,
      });
      const off = Math.abs(p.speakingRate / BASE_SPEAKING_RATE - 1);
      assert.ok(off < 0.1, `${text.slice(0, 10)}: ${p.speakingRate} peaks/s vs ${BASE_SPEAKING_RATE}`);
    }
  });

  it('refuses text with nothing to speak', async () => {
    for (const text of ['', '   ', '，。！？', '...']) {
      await assert.rejects(
        engine.synthesize(input(text)),
        (err: unknown) => err instanceof AppError && err.code === ErrorCode.BAD_PARAMETER,
      );
    }
  });

  it('reports rising progress ending at 1', async () => {
    const seen: number[] = [];
    await engine.synthesize(input(`${ZH}${EN}${ZH}`, { onProgress: (f) => seen.push(f) }));
    assert.ok(seen.length >= 3);
    for (let i = 1; i < seen.length; i++) assert.ok((seen[i] as number) >= (seen[i - 1] as number));
    assert.equal(seen[seen.length - 1], 1);
  });

  it('stops between pieces when aborted and leaves no temporary file', async () => {
    const ac = new AbortController();
    const inp = input('这是第一句话。'.repeat(300), {
      signal: ac.signal,
      workDir: join(dir, 'abort-work'),
      onProgress: () => ac.abort(),
    });
    await assert.rejects(engine.synthesize(inp), (err: unknown) => (err as Error).name === 'AbortError');
    assert.deepEqual(await readdir(inp.workDir), []);
  });

  it('keeps the settings of each call when calls run concurrently', async () => {
    // Several pieces each, so the calls interleave piece by piece. espeak's output length varies by a
    // few milliseconds from call to call even with identical settings, hence the tolerance.
    const text = '第一段中文。First English part. 第二段中文，还有一些。Second English part.';
    const low = { voice: profile(110) };
    const high = { voice: profile(220) };
    const aloneLow = await speak(text, low);
    const aloneHigh = await speak(text, high);
    const [togetherLow, togetherHigh] = await Promise.all([speak(text, low), speak(text, high)]);
    assert.ok(Math.abs(togetherLow.durationSec - aloneLow.durationSec) < 0.1);
    assert.ok(Math.abs(togetherHigh.durationSec - aloneHigh.durationSec) < 0.1);
    assert.ok(
      Math.abs(Math.log2(togetherLow.f0 / aloneLow.f0)) < 0.05,
      `${togetherLow.f0} vs ${aloneLow.f0}`,
    );
    assert.ok(
      Math.abs(Math.log2(togetherHigh.f0 / aloneHigh.f0)) < 0.05,
      `${togetherHigh.f0} vs ${aloneHigh.f0}`,
    );
  });

  it('synthesizes a long mixed text (3,000 characters) into one file of the right length', async () => {
    const paragraph =
      '数字人技术正在改变内容生产的方式。2026年，平台每天生成超过12,000段视频，平均时长3.5分钟。' +
      'The system runs on one server. 合成速度大约是实时的五十倍。';
    const text = paragraph.repeat(Math.ceil(3000 / paragraph.length)).slice(0, 3000);
    // 10,000 characters, their memory and speed are bench figures: `npm run bench`, "speech, 10000 chars".
    const { durationSec } = await engine.synthesize(input(text, { outFile: join(dir, 'long.mp3') }));
    assert.ok(durationSec > 360, `duration ${durationSec}`);
    const info = await media.probe(join(dir, 'long.mp3'));
    assert.ok(Math.abs(info.durationSec - durationSec) < 0.5);
  });
});

describe('resampleLinear', () => {
  it('keeps the duration and the waveform', () => {
    const from = 16_000;
    const to = 22_050;
    const src = new Int16Array(from).map((_, i) =>
      Math.round(10_000 * Math.sin((2 * Math.PI * 200 * i) / from)),
    );
    const out = resampleLinear(src, from, to);
    assert.equal(out.length, to);
    for (const i of [100, 5000, 12_345]) {
      const expected = 10_000 * Math.sin((2 * Math.PI * 200 * i) / to);
      assert.ok(Math.abs((out[i] ?? 0) - expected) < 150, `sample ${i}`);
    }
    assert.equal(resampleLinear(src, from, from), src);
  });
});
