/**
 * The voice eval's enrolment set: real speakers from shared/media (see its MANIFEST.md), one speaker
 * per file as the manifest describes them. speech-en-4 is LatentSync's driving audio for
 * face-portrait-talking-10s (not that woman's own voice): it is its own speaker here, and the portrait
 * video (language not verified) is left out. Each recording is decoded to 16 kHz mono and split: the
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
];

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
