/**
 * The voice eval's enrolment set: real speakers from shared/media (see its MANIFEST.md), one speaker
 * per file as the manifest describes them: all 9 speech files and all 15 talking-face videos' own
 * soundtracks (24 people). speech-en-4 is LatentSync's driving audio for face-portrait-talking-10s, not
 * that woman's own voice (the two tracks do not correlate): both are speakers here. Each recording is decoded to 16 kHz mono and split: the
 * first ENROL_FRACTION is the enrolment part (identifier models and voice training), the rest a
 * held-out part on which the identifier's accuracy on real speech is measured.
 */
import { join } from 'node:path';
import type { SpeechLanguage } from '../../src/domain/voice.ts';
import type { MediaTool } from '../../src/repositories/media.ts';

export const EVAL_SAMPLE_RATE = 16_000;
/** Share of each recording used for enrolment; the rest is held out. */
export const ENROL_FRACTION = 0.7;

export interface SpeakerSource {
  /** Unique id: the file name without its extension. */
  id: string;
  /** File name inside the shared media folder. */
  file: string;
  language: SpeechLanguage;
  kind: 'speech' | 'face-video';
  /** What the manifest says about the voice. */
  note: string;
}

export const SPEAKERS: readonly SpeakerSource[] = [
  {
    id: 'speech-en-1',
    file: 'speech-en-1.wav',
    language: 'en',
    kind: 'speech',
    note: 'finance talk, F0 ~165 Hz',
  },
  {
    id: 'speech-en-2',
    file: 'speech-en-2.wav',
    language: 'en',
    kind: 'speech',
    note: 'male-range, F0 ~125 Hz',
  },
  {
    id: 'speech-en-3',
    file: 'speech-en-3.wav',
    language: 'en',
    kind: 'speech',
    note: 'radio address, F0 ~170 Hz',
  },
  {
    id: 'speech-en-4',
    file: 'speech-en-4.wav',
    language: 'en',
    kind: 'speech',
    note: 'accented female-range, F0 ~210 Hz (driving audio of face-portrait-talking-10s, not her voice)',
  },
  {
    id: 'speech-en-5',
    file: 'speech-en-5.wav',
    language: 'en',
    kind: 'speech',
    note: 'male-range, F0 ~113 Hz',
  },
  {
    id: 'speech-zh-1',
    file: 'speech-zh-1.wav',
    language: 'zh',
    kind: 'speech',
    note: 'news, female, F0 ~254 Hz',
  },
  {
    id: 'speech-zh-2',
    file: 'speech-zh-2.wav',
    language: 'zh',
    kind: 'speech',
    note: 'male-range, F0 ~129 Hz',
  },
  {
    id: 'speech-zh-3',
    file: 'speech-zh-3.wav',
    language: 'zh',
    kind: 'speech',
    note: 'male-range, F0 ~121 Hz',
  },
  {
    id: 'speech-zh-4-short',
    file: 'speech-zh-4-short.wav',
    language: 'zh',
    kind: 'speech',
    note: 'woman, F0 ~262 Hz, 3.5 s only',
  },
  { id: 'face-en-man-1', file: 'face-en-man-1.mp4', language: 'en', kind: 'face-video', note: 'young man' },
  {
    id: 'face-en-man-2',
    file: 'face-en-man-2.mp4',
    language: 'en',
    kind: 'face-video',
    note: 'man, shirt and tie',
  },
  { id: 'face-en-woman-1', file: 'face-en-woman-1.mp4', language: 'en', kind: 'face-video', note: 'woman' },
  {
    id: 'face-en-woman-2',
    file: 'face-en-woman-2.mp4',
    language: 'en',
    kind: 'face-video',
    note: 'older woman',
  },
  {
    id: 'face-en-woman-3',
    file: 'face-en-woman-3-mpeg4.mp4',
    language: 'en',
    kind: 'face-video',
    note: 'woman (MPEG-4 Part 2 video, 16 kHz AAC)',
  },
  // Added 2026-12-07 (issue 16): never part of the eval on which the engine's settings were chosen.
  {
    id: 'face-en-man-3',
    file: 'face-en-man-3.mp4',
    language: 'en',
    kind: 'face-video',
    note: 'older man, legislative address, F0 ~190 Hz',
  },
  {
    id: 'face-en-man-4',
    file: 'face-en-man-4.mp4',
    language: 'en',
    kind: 'face-video',
    note: 'middle-aged man, congressional address, 60 s',
  },
  {
    id: 'face-en-man-5',
    file: 'face-en-man-5.mp4',
    language: 'en',
    kind: 'face-video',
    note: 'older man, accented English, interview',
  },
  {
    id: 'face-en-man-6',
    file: 'face-en-man-6.mp4',
    language: 'en',
    kind: 'face-video',
    note: 'young man, interview (16 kHz mono)',
  },
  {
    id: 'face-en-man-7-short',
    file: 'face-en-man-7-short.mp4',
    language: 'en',
    kind: 'face-video',
    note: 'young man, one studio sentence (MEAD), 4.7 s',
  },
  {
    id: 'face-en-woman-4',
    file: 'face-en-woman-4.mp4',
    language: 'en',
    kind: 'face-video',
    note: 'woman, quiet track (mean -30 dB)',
  },
  {
    id: 'face-en-woman-5',
    file: 'face-en-woman-5.mp4',
    language: 'en',
    kind: 'face-video',
    note: 'woman on a sofa, far from the camera (DFDC clip)',
  },
  {
    id: 'face-en-woman-6',
    file: 'face-en-woman-6.mp4',
    language: 'en',
    kind: 'face-video',
    note: 'woman, one studio sentence (MEAD)',
  },
  {
    id: 'face-zh-woman-1',
    file: 'face-zh-woman-1.mp4',
    language: 'zh',
    kind: 'face-video',
    note: 'young woman, Mandarin (probable), phone video with low hum, 15 s',
  },
  {
    id: 'face-portrait-talking-10s',
    file: 'face-portrait-talking-10s.mp4',
    language: 'en',
    kind: 'face-video',
    note: "young woman seated outdoors, her own voice (not speech-en-4); language not verified (English ASR returns no running English): 'en' here only labels own/other-language trials",
  },
];

/**
 * The speakers whose eval results chose the engine's settings (the conversion's codebook sizes and
 * how far a frame moves, rate and loudness following: README "Voice evaluation"). Every other speaker
 * in SPEAKERS is held out of every engine choice: the leave-speakers-out figures are theirs. (The
 * language classifier, language-id.json, was fitted on all recordings, but nothing in synthesis reads
 * the profile's language. The judge's UBM and speaker models see only the enrolment parts.)
 */
export const TUNING_SPEAKERS: ReadonlySet<string> = new Set([
  'speech-en-1',
  'speech-en-2',
  'speech-en-3',
  'speech-en-4',
  'speech-en-5',
  'speech-zh-1',
  'speech-zh-2',
  'speech-zh-3',
  'speech-zh-4-short',
  'face-en-man-1',
  'face-en-man-2',
  'face-en-woman-1',
  'face-en-woman-2',
  'face-en-woman-3',
]);

export interface Speaker extends SpeakerSource {
  /** Absolute path of the original file. */
  path: string;
  /** Whole recording, 16 kHz mono. */
  pcm: Float32Array;
  enrolPcm: Float32Array;
  heldOutPcm: Float32Array;
  /** The enrolment part as a 16 kHz mono wav (input for a VoiceTrainer). */
  enrolFile: string;
  /** The whole recording as a 16 kHz mono wav. */
  fullFile: string;
}

/** Sample index where the enrolment part ends. */
export function splitPoint(length: number, fraction = ENROL_FRACTION): number {
  return Math.max(0, Math.min(length, Math.round(length * fraction)));
}

/**
 * Decodes every speaker's audio (a video's soundtrack too) with `media`, splits it and writes the
 * enrolment part and the whole recording as wav files into `workDir`.
 */
export async function loadSpeakers(
  media: MediaTool,
  mediaDir: string,
  workDir: string,
  sources: readonly SpeakerSource[] = SPEAKERS,
  fraction = ENROL_FRACTION,
): Promise<Speaker[]> {
  const ids = new Set<string>();
  for (const s of sources) {
    if (ids.has(s.id)) throw new Error(`speaker id ${s.id} appears twice`);
    ids.add(s.id);
  }
  return Promise.all(
    sources.map(async (source) => {
      const path = join(mediaDir, source.file);
      const pcm = await media.decodeAudio(path, EVAL_SAMPLE_RATE);
      const cut = splitPoint(pcm.length, fraction);
      const enrolPcm = pcm.subarray(0, cut);
      const heldOutPcm = pcm.subarray(cut);
      const enrolFile = join(workDir, `${source.id}-enrol.wav`);
      const fullFile = join(workDir, `${source.id}-full.wav`);
      await media.encodeAudio(enrolPcm, EVAL_SAMPLE_RATE, enrolFile);
      await media.encodeAudio(pcm, EVAL_SAMPLE_RATE, fullFile);
      return { ...source, path, pcm, enrolPcm, heldOutPcm, enrolFile, fullFile };
    }),
  );
}
