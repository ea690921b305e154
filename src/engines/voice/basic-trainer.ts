/**
 * Baseline voice training: measures the speaker instead of learning a model. Every training file is
 * decoded to 16 kHz mono, speech is found with the WebRTC VAD (audio/vad.ts: energy gate, held notes
 * removed, short gaps filled), and the profile records median pitch, pitch spread, syllable rate and
 * loudness of the speech, how much speech there was, and its language (language-id.ts). The espeak
 * baseline uses the pitch; later engines may use more.
 */
import { analyzeSpeaker } from './envelope.ts';
import { AppError, ErrorCode, t } from '../../domain/errors.ts';
import type { VoiceProfile } from '../../domain/voice.ts';
import type { VoiceTrainer, VoiceTrainingInput } from '../ports.ts';
import type { MediaTool } from '../../repositories/media.ts';
import { webRtcVad, type VoiceActivityOptions } from '../audio/vad.ts';
import { identifyLanguage, languageStats, mergeStats, type LanguageStats } from './language-id.ts';
import {
  countEnergyPeaks,
  speechEnergy,
  median,
  percentile,
  pitchOfFrames,
  semitones,
  SILENCE_DB,
  toDb,
} from '../audio/dsp.ts';

export const TRAINING_SAMPLE_RATE = 16_000;
/**
 * Voice activity settings of training (vad.ts), measured against hand-labelled speech by
 * eval/voice/vad-eval.ts.
 */
export const TRAINING_VAD: VoiceActivityOptions = {
  mode: 2,
  frameMs: 20,
  maxGapMs: 300,
  minSpeechMs: 60,
  padMs: 20,
  gateDb: 6,
  heldNoteMs: 300,
};
/** Audio the spectral envelope is learned from, at most (memory stays bounded for long recordings). */
export const ENVELOPE_MAX_SECONDS = 180;

function concat(parts: Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

/** Less speech than this over all files is refused (ports.ts: VoiceTrainer). */
export const MIN_SPEECH_SECONDS = 3;
/** Pitch search range for speaking voices, Hz. */
const MIN_F0_HZ = 60;
const MAX_F0_HZ = 400;

export class BasicVoiceTrainer implements VoiceTrainer {
  constructor(private readonly media: MediaTool) {}

  async train(input: VoiceTrainingInput): Promise<VoiceProfile> {
    const f0: number[] = [];
    let speechSeconds = 0;
    let peaks = 0;
    let speechEnergySum = 0;
    let speechFrames = 0;
    // The spectral envelope (envelope.ts) is learned from the first ENVELOPE_MAX_SECONDS of audio.
    const forEnvelope: Float32Array[] = [];
    let envelopeSamples = 0;
    const detector = await webRtcVad();
    let language: LanguageStats | null = null;
    for (const file of input.audioFiles) {
      input.signal.throwIfAborted();
      const pcm = await this.media.decodeAudio(file, TRAINING_SAMPLE_RATE, { signal: input.signal });
      const vad = detector.detect(pcm, TRAINING_SAMPLE_RATE, TRAINING_VAD);
      const room = ENVELOPE_MAX_SECONDS * TRAINING_SAMPLE_RATE - envelopeSamples;
      if (room > 0) {
        forEnvelope.push(pcm.length > room ? pcm.slice(0, room) : pcm);
        envelopeSamples += Math.min(room, pcm.length);
      }
      speechSeconds += vad.speechSeconds;
      peaks += countEnergyPeaks(vad.levelsDb, vad.speech);
      const loud = speechEnergy(vad);
      speechEnergySum += loud.energy;
      speechFrames += loud.frames;
      const frameF0 = pitchOfFrames(pcm, TRAINING_SAMPLE_RATE, vad.frameLen, vad.speech, {
        minHz: MIN_F0_HZ,
        maxHz: MAX_F0_HZ,
      });
      for (const hz of frameF0) f0.push(hz);
      const stats = languageStats(pcm, TRAINING_SAMPLE_RATE, vad.frameLen, vad.speech, vad.levelsDb);
      language = language === null ? stats : mergeStats(language, stats);
    }

    if (speechSeconds < MIN_SPEECH_SECONDS) {
      const found = speechSeconds.toFixed(1);
      throw new AppError(
        ErrorCode.INVALID_AUDIO_DURATION,
        t(
          `只检测到 ${found} 秒语音，至少需要 ${MIN_SPEECH_SECONDS} 秒`,
          `found ${found} s of speech; at least ${MIN_SPEECH_SECONDS} s needed`,
        ),
      );
    }
    if (f0.length === 0) {
      throw new AppError(
        ErrorCode.INVALID_AUDIO_DURATION,
        t('音频中没有检测到有声语音', 'no voiced speech found in the audio'),
      );
    }

    const round = (x: number, digits: number): number => Number(x.toFixed(digits));
    return {
      version: 1,
      tier: input.tier,
      language: language === null ? 'unknown' : identifyLanguage(language).language,
      speechSeconds: round(speechSeconds, 2),
      f0MedianHz: round(median(f0), 1),
      f0RangeSemitones: round(semitones(percentile(f0, 10), percentile(f0, 90)), 2),
      speakingRate: round(peaks / speechSeconds, 2),
      loudnessDb: round(speechFrames > 0 ? toDb(Math.sqrt(speechEnergySum / speechFrames)) : SILENCE_DB, 1),
      // What the speech engine converts its output toward (LITE: statistics + 128 frames; PRO: 512).
      extra: { envelope: analyzeSpeaker(concat(forEnvelope), input.tier) },
    };
  }
}
