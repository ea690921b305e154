/**
 * A meeting-style recording built from shared/media with ffmpeg (cached by test/helpers/fixtures.ts
 * build): the issue's failing case — 12 s of far-field Mandarin with room noise, hum and pauses — and
 * two recordings that hold no speech. 16 kHz mono 16-bit wav each.
 * - far-field speech: speech-zh-2 (10 s of continuous speech) cut in four with 0.7 / 0.6 / 0.8 s of
 *   silence between the parts (12.1 s), band-limited (120-3000 Hz), three early echoes (aecho: 23, 47,
 *   79 ms) for the room, and 28 dB quieter: its speech frames at about -54 dBFS;
 * - room noise, 12.25 s: pink and brown noise and a 50 Hz hum, about 11 dB under the speech;
 * - the meeting: the two mixed (the former energy detector found 2.1 s of speech in it);
 * - a noisy room alone, 12 s at about -40 dBFS (the same noise, 25 dB louder);
 * - music-like notes: a tune of harmonic notes (196 Hz and up, three harmonics), 0.35 s on, 0.15 s off.
 */
import { build, sharedMedia } from '../../test/helpers/fixtures.ts';

const RATE = 16_000;
const WAV = ['-ar', String(RATE), '-ac', '1', '-c:a', 'pcm_s16le'];

export interface MeetingCase {
  farSpeech: string;
  roomNoise: string;
  meeting: string;
  noisyRoom: string;
  notes: string;
  /** Seconds of speech in the meeting (speech-zh-2's 9.95 s, moved apart by pauses). */
  speechSeconds: number;
}

const PARTS: Array<[number, number]> = [
  [0, 2.6],
  [2.6, 5.2],
  [5.2, 7.6],
  [7.6, 9.95],
];
const PAUSES = [0.7, 0.6, 0.8];

function noiseArgs(scale: number, seconds: number): string[] {
  const a = (x: number): string => (x * scale).toPrecision(4);
  return [
    ...['-f', 'lavfi', '-i', `anoisesrc=r=${RATE}:color=pink:amplitude=${a(0.011)}:seed=11`],
    ...['-f', 'lavfi', '-i', `anoisesrc=r=${RATE}:color=brown:amplitude=${a(0.017)}:seed=5`],
    ...['-f', 'lavfi', '-i', `sine=f=50:r=${RATE}`],
    '-filter_complex',
    `[2:a]volume=${a(0.0022)}[h];[0:a][1:a][h]amix=inputs=3:normalize=0:duration=first,atrim=0:${seconds}[out]`,
    ...['-map', '[out]', '-t', String(seconds)],
  ];
}

export async function meetingCase(): Promise<MeetingCase> {
  const src = sharedMedia('speech-zh-2.wav');
  const fmt = `aresample=${RATE},aformat=sample_fmts=fltp:channel_layouts=mono`;
  const cuts = PARTS.map(([a, b], i) => `[s${i}]atrim=${a}:${b},asetpts=N/SR/TB[a${i}]`);
  const gaps = PAUSES.map((p, i) => `anullsrc=r=${RATE}:cl=mono,atrim=0:${p}[p${i}]`);
  const order = PARTS.map((_, i) => (i < PAUSES.length ? `[a${i}][p${i}]` : `[a${i}]`)).join('');
  const graph = [
    `[0:a]${fmt},asplit=${PARTS.length}${PARTS.map((_, i) => `[s${i}]`).join('')}`,
    ...cuts,
    ...gaps,
    `${order}concat=n=${PARTS.length + PAUSES.length}:v=0:a=1,highpass=f=120,lowpass=f=3000,` +
      `aecho=0.8:0.7:23|47|79:0.45|0.3|0.2,volume=-28dB[out]`,
  ].join(';');
  const [farSpeech, roomNoise, noisyRoom, notes] = await Promise.all([
    build({
      name: 'meeting-far-speech',
      ext: '.wav',
      sources: [src],
      args: ['-i', src, '-filter_complex', graph, '-map', '[out]', ...WAV],
    }),
    build({
      name: 'meeting-room-noise',
      ext: '.wav',
      sources: [],
      args: [...noiseArgs(0.14, 12.25), ...WAV],
    }),
    build({ name: 'noisy-room', ext: '.wav', sources: [], args: [...noiseArgs(2.5, 12), ...WAV] }),
    build({
      name: 'music-notes',
      ext: '.wav',
      sources: [],
      args: [
        '-f',
        'lavfi',
        '-i',
        // a note every 0.5 s, 7 semitones up each time (mod 12), held 0.35 s
        "aevalsrc=exprs='(0.2*sin(2*PI*t*(196*pow(2,mod(floor(t*2)*7,12)/12)))" +
          '+0.12*sin(4*PI*t*(196*pow(2,mod(floor(t*2)*7,12)/12)))' +
          "+0.06*sin(6*PI*t*(196*pow(2,mod(floor(t*2)*7,12)/12))))*lt(mod(t,0.5),0.35)':s=16000:d=12",
        ...WAV,
      ],
    }),
  ]);
  const meeting = await build({
    name: 'meeting',
    ext: '.wav',
    sources: [farSpeech, roomNoise],
    args: [
      ...['-i', farSpeech, '-i', roomNoise],
      ...['-filter_complex', '[0:a][1:a]amix=inputs=2:normalize=0:duration=longest[out]', '-map', '[out]'],
      ...WAV,
    ],
  });
  return { farSpeech, roomNoise, meeting, noisyRoom, notes, speechSeconds: 9.95 };
}
