/**
 * The honest baseline for lip-sync: the source video looped to the length of the new audio, with that
 * audio muxed in and the lips left as they are. Real engines are measured against it.
 */
import { randomBytes } from 'node:crypto';
import { rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { MediaError } from '../../repositories/media.ts';
import type { MediaTool } from '../../repositories/media.ts';
import type { LipSyncEngine, LipSyncInput } from '../ports.ts';

/** Sample rates ffmpeg's AAC encoder takes; other rates are resampled to 48 kHz. */
const AAC_RATES = new Set([
  7350, 8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000, 64000, 88200, 96000,
]);
const FALLBACK_FPS = 25;

/**
 * The frame rate as ffmpeg should read it: whole rates as integers, NTSC rates (24000/1001, 30000/1001,
 * 60000/1001) as exact fractions, anything else rounded to 1/1000 fps. Missing or absurd rates fall
 * back to 25.
 */
export function frameRateArg(fps: number): { arg: string; value: number } {
  if (!Number.isFinite(fps) || fps < 1 || fps > 240) {
    return { arg: String(FALLBACK_FPS), value: FALLBACK_FPS };
  }
  const whole = Math.round(fps);
  if (Math.abs(fps - whole) < 0.005) return { arg: String(whole), value: whole };
  const ntsc = Math.round((fps * 1001) / 1000);
  if (Math.abs(fps - (ntsc * 1000) / 1001) < 0.0005) {
    return { arg: `${ntsc * 1000}/1001`, value: (ntsc * 1000) / 1001 };
  }
  const rounded = Math.round(fps * 1000) / 1000;
  return { arg: String(rounded), value: rounded };
}

export class PassthroughLipSync implements LipSyncEngine {
  readonly name = 'passthrough';

  constructor(private readonly media: MediaTool) {}

  /**
   * Writes `outFile`: the video's frames at its own size (cropped by one pixel where odd) and frame rate
   * (a variable rate becomes its average), looped as needed and cut to whole frames within the audio;
   * H.264 (libx264 veryfast, crf 20) yuv420p + AAC 128k of the input audio, +faststart. The container
   * lasts as long as the audio. Written under a temp name beside outFile and renamed when complete.
   */
  async render(input: LipSyncInput): Promise<{ durationSec: number }> {
    const { signal } = input;
    const [video, audio] = await Promise.all([
      this.media.probe(input.videoFile, { signal }),
      this.media.probe(input.audioFile, { signal }),
    ]);
    if (!video.video) throw new MediaError('unreadable', `no video stream in ${input.videoFile}`);
    if (!audio.audio) throw new MediaError('unreadable', `no audio stream in ${input.audioFile}`);
    const audioSec = audio.durationSec;
    if (!(audioSec > 0)) throw new MediaError('unreadable', `audio of unknown length: ${input.audioFile}`);

    const rate = frameRateArg(video.video.fps);
    // Whole frames that fit in the audio: the video never outlasts it, so the file lasts as long as the
    // audio (the last frame is held for the remainder, under one frame).
    const frames = Math.max(1, Math.floor(audioSec * rate.value + 1e-6));
    const vf = [
      'setpts=PTS-STARTPTS', // a video stream that starts late (e.g. at 0.033 s) would start a frame late
      `fps=${rate.arg}`,
      `trim=end_frame=${frames}`, // not -frames:v: ffmpeg 5.1 then drops the audio still queued
      'crop=trunc(iw/2)*2:trunc(ih/2)*2',
      'format=yuv420p',
    ].join(',');
    const resample = AAC_RATES.has(audio.audio.sampleRate) ? [] : ['-ar', '48000'];

    const tmp = join(
      dirname(input.outFile),
      `.${basename(input.outFile)}.${randomBytes(6).toString('hex')}.tmp.mp4`,
    );
    try {
      await this.media.ffmpeg(
        [
          '-stream_loop',
          '-1',
          '-i',
          input.videoFile,
          '-i',
          input.audioFile,
          '-map',
          '0:v:0',
          '-map',
          '1:a:0',
          '-vf',
          vf,
          '-fps_mode',
          'passthrough', // the filters already made the frames constant-rate; no duplicate at the end
          '-t',
          audioSec.toFixed(6),
          '-c:v',
          'libx264',
          '-preset',
          'veryfast',
          '-crf',
          '20',
          '-pix_fmt',
          'yuv420p',
          '-c:a',
          'aac',
          '-b:a',
          '128k',
          ...resample,
          '-map_metadata',
          '-1',
          '-map_chapters',
          '-1',
          '-movflags',
          '+faststart',
          '-f',
          'mp4',
          tmp,
        ],
        {
          signal,
          // A generous ceiling that grows with the output: encoding runs at several times real time here.
          timeoutMs: 10 * 60_000 + audioSec * 5_000,
          onProgressSec: (sec) => input.onProgress(Math.min(1, sec / audioSec)),
        },
      );
      const out = await this.media.probe(tmp, { signal });
      await rename(tmp, input.outFile);
      input.onProgress(1);
      return { durationSec: out.durationSec };
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
  }
}
