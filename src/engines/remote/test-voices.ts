/**
 * Voices and inputs shared by the remote speech adapter tests and test/remote-engines.test.ts (not used
 * by the product): a trained voice with a stored reference clip, a local engine that records its calls.
 */
import { join } from 'node:path';
import { speechWav, testMedia } from '../../../test/helpers/fixtures.ts';
import type { VoiceProfile } from '../../domain/voice.ts';
import type { LocalDiskBlobStore } from '../../repositories/blobs.ts';
import type { SpeechEngine, SpeechInput } from '../ports.ts';
import { ReferenceVoiceTrainer } from './reference.ts';

/** A sleep that does not wait (the adapters' retry pauses, in tests). */
export const noWait = async (_ms: number, signal: AbortSignal): Promise<void> => {
  signal.throwIfAborted();
  await new Promise((r) => setImmediate(r));
};

/** A voice trained on 8 s of Mandarin: the local profile is a fixed stand-in, the reference clip real. */
export async function voiceWithReference(
  root: string,
  blobs: LocalDiskBlobStore,
  tier: 'LITE' | 'PRO' = 'LITE',
) {
  const base = {
    async train(): Promise<VoiceProfile> {
      return {
        version: 1,
        tier,
        language: 'unknown',
        speechSeconds: 6,
        f0MedianHz: 120,
        f0RangeSemitones: 4,
        speakingRate: 4,
        loudnessDb: -22,
      };
    },
  };
  const wav = join(root, `training-${tier}.wav`);
  await testMedia().ffmpeg([
    '-i',
    await speechWav({ lang: 'zh', seconds: 8 }),
    '-ac',
    '1',
    '-ar',
    '16000',
    '-c:a',
    'pcm_s16le',
    wav,
  ]);
  return new ReferenceVoiceTrainer({ base, media: testMedia(), blobs }).train({
    audioFiles: [wav],
    tier,
    workDir: root,
    signal: new AbortController().signal,
  });
}

export function recordingLocal(): SpeechEngine & { calls: SpeechInput[] } {
  const calls: SpeechInput[] = [];
  return {
    name: 'local-double',
    calls,
    async synthesize(input) {
      calls.push(input);
      await testMedia().ffmpeg([
        '-f',
        'lavfi',
        '-i',
        'sine=frequency=500:duration=1',
        '-ac',
        '1',
        input.outFile,
      ]);
      return { durationSec: 1 };
    },
  };
}

export function speechInput(
  root: string,
  voice: VoiceProfile | null,
  text: string,
  o: Partial<SpeechInput> = {},
) {
  const progress: number[] = [];
  const input: SpeechInput = {
    text,
    voice,
    speedRatio: 1,
    pitchRatio: 1,
    volumeRatio: 1,
    crossLanguage: false,
    outFile: join(root, `out-${Math.random().toString(36).slice(2, 8)}.mp3`),
    workDir: join(root, 'work'),
    onProgress: (f) => progress.push(f),
    signal: new AbortController().signal,
    ...o,
  };
  return { input, progress };
}
