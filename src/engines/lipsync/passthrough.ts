/**
 * The honest baseline for lip-sync: the source video looped to the length of the new audio, with that
 * audio muxed in and the lips left as they are. Real engines are measured against it.
 */
import { randomBytes } from 'node:crypto';
import { rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { MediaTool } from '../../repositories/media.ts';
import type { LipSyncEngine, LipSyncInput } from '../ports.ts';
import {
  AAC_ARGS,
  EVEN_CROP_FILTER,
  MP4_OUTPUT_ARGS,
  X264_ARGS,
  aacResampleArgs,
  cfrFilters,
  frameRateArg,
  outputFrameCount,
  probeLipSyncInputs,
} from './frame-io.ts';

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
    const { video, audio, audioSec } = await probeLipSyncInputs(
      this.media,
      input.videoFile,
      input.audioFile,
      signal,
    );

    const rate = frameRateArg(video.video.fps);
    // Whole frames that fit in the audio: the video never outlasts it, so the file lasts as long as the
    // audio (the last frame is held for the remainder, under one frame).
    const frames = outputFrameCount(audioSec, rate.value);
    const vf = [
      ...cfrFilters(rate), // timestamps from 0, then the constant frame rate
      `trim=end_frame=${frames}`, // not -frames:v: ffmpeg 5.1 then drops the audio still queued
      EVEN_CROP_FILTER,
      'format=yuv420p',
    ].join(',');

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
          ...X264_ARGS,
          ...AAC_ARGS,
          ...aacResampleArgs(audio.audio.sampleRate),
          ...MP4_OUTPUT_ARGS,
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
