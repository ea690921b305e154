/**
 * Child process of `npm run bench`: trains a PRO voice on a real Mandarin recording (speech-zh-1 in
 * shared/media), then synthesizes 10,000 characters of mixed Mandarin and English text in that voice
 * (conversion on) to an mp3 with the shipped SpeechEngine, and reports the process's peak resident
 * memory (the kernel's VmHWM, so nothing between samples is missed), the RSS seen at each tenth of the
 * synthesis (flat when memory does not grow with the text), speed and the output's length. Prints one
 * JSON line. The ffmpeg encoder runs as its own process and is not counted.
 */
import { readFileSync, rmSync, statSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { BasicVoiceTrainer } from '../../src/engines/voice/basic-trainer.ts';
import { EspeakSpeechEngine } from '../../src/engines/voice/espeak-tts.ts';
import { WAV_16K_MONO_ARGS } from '../../src/repositories/media.ts';
import { sharedMedia, testMedia } from '../helpers/fixtures.ts';

const CHARS = 10_000;

/** Mixed text with numbers, money, dates and punctuation, repeated to `chars` characters. */
function benchText(chars: number): string {
  const parts = [
    '今天是2026年11月25日，天气晴朗，气温大约25度。我们的团队在上午九点开会，讨论了新产品的发布计划。',
    'The meeting started at 9:30 in the morning, and everyone agreed that the launch should move to March.',
    '这款产品的价格是¥199，比去年便宜了15%，预计第一季度能卖出三万台。',
    'Our revenue grew by 12% last year, to about $4.5 million, and we hired 20 new engineers.',
    '如果你有任何问题，请随时联系我们的客服，电话是400-800-1234。谢谢大家的支持！',
    'Thank you all for listening. Please send your questions to the support team before Friday.',
  ];
  let text = '';
  for (let i = 0; text.length < chars; i++) text += parts[i % parts.length] as string;
  return text.slice(0, chars);
}

function peakRssMb(): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
  return m ? Number(m[1]) / 1024 : process.memoryUsage().rss / 2 ** 20;
}

const media = testMedia();
const dir = await mkdtemp(join(tmpdir(), 'dhs-bench-synth-'));
try {
  const signal = new AbortController().signal;
  const trainFile = join(dir, 'train.wav');
  await media.ffmpeg(['-i', sharedMedia('speech-zh-1.wav'), ...WAV_16K_MONO_ARGS, trainFile]);
  const profile = await new BasicVoiceTrainer(media).train({
    audioFiles: [trainFile],
    tier: 'PRO',
    workDir: dir,
    signal,
  });
  const engine = new EspeakSpeechEngine(media);
  // Warm-up: loads espeak and flite (their wasm memories are part of any real process too).
  await engine.synthesize({
    text: '你好。Hello.',
    voice: profile,
    speedRatio: 1,
    pitchRatio: 1,
    volumeRatio: 1,
    crossLanguage: true,
    outFile: join(dir, 'warm.mp3'),
    workDir: dir,
    signal,
    onProgress: () => undefined,
  });
  const rssBeforeMb = process.memoryUsage().rss / 2 ** 20;
  const text = benchText(CHARS);
  const rssByTenth: number[] = [];
  const out = join(dir, 'long.mp3');
  const t0 = performance.now();
  const { durationSec } = await engine.synthesize({
    text,
    voice: profile,
    speedRatio: 1,
    pitchRatio: 1,
    volumeRatio: 1,
    crossLanguage: true,
    outFile: out,
    workDir: dir,
    signal,
    onProgress: (f) => {
      // synthesis is the first 60% of the progress; sample RSS at each tenth of it
      const tenth = Math.min(10, Math.floor((f / 0.6) * 10));
      while (rssByTenth.length < tenth) rssByTenth.push(Math.round(process.memoryUsage().rss / 2 ** 20));
    },
  });
  const seconds = (performance.now() - t0) / 1000;
  const info = await media.probe(out);
  console.log(
    JSON.stringify({
      chars: text.length,
      durationSec,
      probedSec: info.durationSec,
      channels: info.audio?.channels ?? 0,
      mp3Bytes: statSync(out).size,
      seconds,
      rtf: seconds / durationSec,
      rssBeforeMb,
      rssByTenth,
      peakRssMb: peakRssMb(),
    }),
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
