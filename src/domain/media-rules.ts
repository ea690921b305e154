import { MAX_AUDIO_SECONDS, MAX_VIDEO_SECONDS, MIN_AUDIO_SECONDS, MIN_VIDEO_SECONDS } from './billing.ts';
import { AppError, ErrorCode, t } from './errors.ts';

/** What the rules need to know of a probed file (a subset of the media port's MediaInfo). */
export interface ProbedMedia {
  formatName: string;
  durationSec: number;
  video: { codec: string; width: number; height: number; fps: number } | null;
  audio: { codec: string } | null;
}

const fmt = (n: number) => n.toFixed(1);

/** seed 1.1 audioUrl: an audio stream, 5 s .. 30 min. */
export function checkWorkAudio(m: ProbedMedia): void {
  if (m.audio === null) {
    throw new AppError(
      ErrorCode.UNSUPPORTED_FILE_TYPE,
      t('音频文件中没有音频流', 'the audio file has no audio stream'),
    );
  }
  if (!(m.durationSec >= MIN_AUDIO_SECONDS && m.durationSec <= MAX_AUDIO_SECONDS)) {
    throw new AppError(
      ErrorCode.INVALID_AUDIO_DURATION,
      t(
        `音频时长 ${fmt(m.durationSec)} 秒，允许 5 秒 ~ 30 分钟`,
        `audio is ${fmt(m.durationSec)} s; 5 s to 30 min allowed`,
      ),
    );
  }
}

/** Training audio: any readable audio stream (the speech itself is judged by the trainer). */
export function checkTrainingAudio(m: ProbedMedia): void {
  if (m.audio === null) {
    throw new AppError(
      ErrorCode.UNSUPPORTED_FILE_TYPE,
      t('音频文件中没有音频流', 'the audio file has no audio stream'),
    );
  }
  if (m.durationSec > MAX_AUDIO_SECONDS) {
    throw new AppError(
      ErrorCode.INVALID_AUDIO_DURATION,
      t(
        `音频时长 ${fmt(m.durationSec)} 秒，最长 30 分钟`,
        `audio is ${fmt(m.durationSec)} s; at most 30 min allowed`,
      ),
    );
  }
}

/** A video whose file holds far fewer frames than its header promises was cut short. */
export function checkVideoComplete(m: ProbedMedia, packets: number): void {
  const expected = m.durationSec * (m.video?.fps ?? 0);
  if (expected > 0 && packets < expected * 0.9) {
    throw new AppError(
      ErrorCode.INVALID_VIDEO_FORMAT,
      t(
        `视频文件不完整：只有 ${packets} 帧，应有约 ${Math.round(expected)} 帧`,
        `the video file is truncated: ${packets} of about ${Math.round(expected)} frames present`,
      ),
    );
  }
}

/** seed 1.1 videoUrl: mp4/mov, H.264, shorter side 360..2160, 10..300 s, 10..60 fps. */
export function checkWorkVideo(m: ProbedMedia): void {
  const v = m.video;
  if (v === null)
    throw new AppError(
      ErrorCode.INVALID_VIDEO_FORMAT,
      t('视频文件中没有视频流', 'the video file has no video stream'),
    );
  if (!/(^|,)(mov|mp4)(,|$)/.test(m.formatName)) {
    throw new AppError(
      ErrorCode.INVALID_VIDEO_FORMAT,
      t(
        `视频容器为 ${m.formatName}，只支持 mp4、mov`,
        `video container is ${m.formatName}; mp4 or mov allowed`,
      ),
    );
  }
  if (v.codec !== 'h264') {
    throw new AppError(
      ErrorCode.INVALID_VIDEO_FORMAT,
      t(`视频编码为 ${v.codec}，只支持 H.264`, `video codec is ${v.codec}; H.264 allowed`),
    );
  }
  if (!(m.durationSec >= MIN_VIDEO_SECONDS && m.durationSec <= MAX_VIDEO_SECONDS)) {
    throw new AppError(
      ErrorCode.BAD_PARAMETER,
      t(
        `视频时长 ${fmt(m.durationSec)} 秒，允许 10 ~ 300 秒`,
        `video is ${fmt(m.durationSec)} s; 10-300 s allowed`,
      ),
    );
  }
  const shorter = Math.min(v.width, v.height);
  if (shorter < 360 || shorter > 2160) {
    throw new AppError(
      ErrorCode.INVALID_RESOLUTION,
      t(
        `视频分辨率 ${v.width}x${v.height}，短边需在 360 ~ 2160`,
        `video is ${v.width}x${v.height}; the shorter side must be 360-2160`,
      ),
    );
  }
  if (!(v.fps >= 10 && v.fps <= 60.5)) {
    throw new AppError(
      ErrorCode.INVALID_FPS,
      t(`视频帧率 ${fmt(v.fps)}，允许 10 ~ 60`, `video is ${fmt(v.fps)} fps; 10-60 allowed`),
    );
  }
}
