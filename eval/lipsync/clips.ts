/**
 * The lip-sync eval's dev set: every real talking-face recording with its own sound in shared/media
 * (its MANIFEST.md) and in eval/lipsync/media (its MANIFEST.md), each with its speaker
 * (leave-one-speaker-out leaves out every clip of that person) and the quirks the harness handles.
 *
 * Quirks, all handled by run.ts's halves (ffmpeg maps streams by type, decodes any codec, resamples to a
 * constant rate and re-encodes the halves as H.264): audio as stream 0 (face-en-man-5), variable frame
 * rate (face-en-man-1, eval-zh-woman-2-portrait), HEVC (face-portrait-talking-10s) and MPEG-4 Part 2
 * (face-en-woman-3), 29.97 fps (rounded to 30: one duplicated frame in 33 s) and a QuickTime .mov
 * (eval-en-man-1-long).
 *
 * Short clips: halves are cut from what there is, never looped (a looped source would put the first
 * half's frames into the second half, the truth). A clip whose half would be under MIN_HALF_SEC is
 * skipped with the reason printed; today every recording gives at least 2.3 s halves (the
 * too-short ones looked at are listed in media/MANIFEST.md and were not taken).
 */

import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The eval's own committed recordings (media/MANIFEST.md), beside shared/media's. Not `data/`: the
 * project's .gitignore ignores every folder of that name.
 */
export const EVAL_DATA_DIR = fileURLToPath(new URL('./media/', import.meta.url));

export interface EvalClip {
  /** File name in shared/media, or in EVAL_DATA_DIR when `data` is set. */
  file: string;
  data?: true;
  /** Who speaks: clips of one person share it (leave-one-speaker-out drops them all). */
  speaker: string;
  language: 'en' | 'zh' | 'unverified';
  /** What makes it hard, from the MANIFEST. */
  note: string;
}

/** A half shorter than this is not evaluated (the lag search and correlation need some seconds). */
export const MIN_HALF_SEC = 2;
/** Halves at least this long form the "long halves" table (a customer's avatar video is 10-300 s). */
export const LONG_HALF_SEC = 10;

export const EVAL_CLIPS: readonly EvalClip[] = [
  {
    file: 'face-portrait-talking-10s.mp4',
    speaker: 'latentsync-demo1',
    language: 'unverified',
    note: 'HEVC 1080x1920 portrait, small face',
  },
  { file: 'face-en-man-1.mp4', speaker: 'vr-1', language: 'en', note: 'variable frame rate' },
  { file: 'face-en-man-2.mp4', speaker: 'vr-2', language: 'en', note: '' },
  { file: 'face-en-woman-1.mp4', speaker: 'vr-4', language: 'en', note: '30 fps' },
  { file: 'face-en-woman-2.mp4', speaker: 'vr-5', language: 'en', note: 'under 5 s' },
  { file: 'face-en-woman-3-mpeg4.mp4', speaker: 'katie-hill', language: 'en', note: 'MPEG-4 Part 2' },
  {
    file: 'face-zh-woman-1.mp4',
    speaker: 'joygen-15s',
    language: 'zh',
    note: 'phone selfie, handheld drift, hand gestures',
  },
  { file: 'face-en-man-3.mp4', speaker: 'infinitetalk-ref', language: 'en', note: '15 s address' },
  { file: 'face-en-man-4.mp4', speaker: 'edtalk-pose2', language: 'en', note: '60 s, 256x256, head motion' },
  {
    file: 'face-en-man-5.mp4',
    speaker: 'tpsmm-driving',
    language: 'en',
    note: 'audio is stream 0; lively head motion',
  },
  { file: 'face-en-man-6.mp4', speaker: 'lia-vox-driving2', language: 'en', note: '256x256, 16 kHz mono' },
  { file: 'face-en-man-7-short.mp4', speaker: 'mead-M003', language: 'en', note: '4.7 s, 1080p studio' },
  {
    file: 'face-en-woman-4.mp4',
    speaker: 'kim',
    language: 'en',
    note: '1080p, quiet track, clip-art pops in',
  },
  {
    file: 'face-en-woman-5.mp4',
    speaker: 'dfdc-lynaeydofd',
    language: 'en',
    note: '29.97 fps, wide shot, face ~200 px',
  },
  { file: 'face-en-woman-6.mp4', speaker: 'mead-W040', language: 'en', note: '1080p studio, smiling' },
  {
    file: 'eval-en-man-1.mp4',
    data: true,
    speaker: 'edtalk-obama',
    language: 'en',
    note: '20 s address, 450x450, slow head motion',
  },
  { file: 'eval-en-woman-1.mp4', data: true, speaker: 'vr-3', language: 'en', note: '5 s, lively face' },
  {
    file: 'eval-en-man-2-short.mp4',
    data: true,
    speaker: 'mead-M026',
    language: 'en',
    note: '4.7 s, 1080p studio, disgusted',
  },
  {
    // The same address as eval-en-man-1, 47 s of it (the first 20 s are that clip): one speaker.
    file: 'eval-en-man-1-long.mov',
    data: true,
    speaker: 'edtalk-obama',
    language: 'en',
    note: '47 s (halves 23 s), QuickTime .mov, 256x256; overlaps eval-en-man-1',
  },
  {
    file: 'eval-en-man-4.mp4',
    data: true,
    speaker: 'smirk-skarsgard',
    language: 'en',
    note: 'talk-show guest, 1080p 29.97 fps, head turns, laughter',
  },
  {
    file: 'eval-en-man-5.mp4',
    data: true,
    speaker: 'visualvoice-restaurant',
    language: 'en',
    note: 'noisy restaurant, three-quarter view, face ~150 px',
  },
  {
    file: 'eval-zh-woman-2-portrait.mp4',
    data: true,
    speaker: 'facegood-zismeif',
    language: 'zh',
    note: 'portrait 544x960 phone video, variable frame rate, smiling',
  },
  {
    file: 'eval-xx-man-3.mp4',
    data: true,
    speaker: 'liveportrait-d20',
    language: 'unverified',
    note: '7 s, 480x480, outdoors, lively mouth',
  },
  {
    file: 'eval-xx-girl-1.mp4',
    data: true,
    speaker: 'liveportrait-d11',
    language: 'unverified',
    note: "9 s, a young child's face, eyes darting",
  },
];

/**
 * The clips whose FIRST halves the shipped prior (src/engines/lipsync/mouth-prior.json) was fitted on by
 * scripts/fit-mouth-prior.ts: the eval's set before it grew. The other clips are unseen by it.
 */
export const SHIPPED_PRIOR_CLIPS: readonly string[] = [
  'face-portrait-talking-10s.mp4',
  'face-en-man-1.mp4',
  'face-en-man-2.mp4',
  'face-en-woman-1.mp4',
  'face-en-woman-2.mp4',
  'face-en-woman-3-mpeg4.mp4',
];

/** Where a clip of EVAL_CLIPS lies: shared/media (`sharedDir`) or the eval's data folder. */
export function clipFile(file: string, sharedDir: string): string {
  return join(EVAL_CLIPS.find((c) => c.file === file)?.data ? EVAL_DATA_DIR : sharedDir, file);
}

export function speakerOf(file: string): string {
  return EVAL_CLIPS.find((c) => c.file === file)?.speaker ?? file;
}
