import { MAX_AUDIO_SECONDS, MAX_VIDEO_SECONDS, MIN_AUDIO_SECONDS, MIN_VIDEO_SECONDS } from './billing.ts';
import { AppError, ErrorCode, t } from './errors.ts';
import { imageKindOfFormat, notTheRightKind } from './file-kinds.ts';

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

/**
 * seed 1.1 videoUrl "分辨率范围 360p ~ 4K", in landscape and portrait alike: the shorter side 360 to
 * 2160 pixels, the longer side at most 4096 (DCI 4K; UHD is 3840) and at most 4096 x 2160 pixels in
 * all. Each bound is checked on its own, so a strip such as 360x8192 is refused (docs/decisions.md
 * "Media rules").
 */
export const VIDEO_SIZE_LIMITS = {
  minShortSide: 360,
  maxShortSide: 2160,
  maxLongSide: 4096,
  maxPixels: 4096 * 2160,
} as const;

/** Whether a width x height frame is within VIDEO_SIZE_LIMITS (false for non-numbers). */
export function videoSizeAllowed(width: number, height: number): boolean {
  const { minShortSide, maxShortSide, maxLongSide, maxPixels } = VIDEO_SIZE_LIMITS;
  const shorter = Math.min(width, height);
  const longer = Math.max(width, height);
  return (
    Number.isInteger(width) &&
    Number.isInteger(height) &&
    shorter >= minShortSide &&
    shorter <= maxShortSide &&
    longer <= maxLongSide &&
    width * height <= maxPixels
  );
}

/**
 * A video whose file holds far more frames than its header's duration and rate promise: the header
 * lies about how much there is to decode (a margin for edit lists and rounding).
 */
export function checkVideoNotOverlong(m: ProbedMedia, packets: number): void {
  const expected = m.durationSec * (m.video?.fps ?? 0);
  if (expected > 0 && packets > expected * 1.5 + 10) {
    throw new AppError(
      ErrorCode.INVALID_VIDEO_FORMAT,
      t(
        `视频文件有 ${packets} 帧，与其时长和帧率（约 ${Math.round(expected)} 帧）不符`,
        `the video file holds ${packets} frames, far more than its duration and frame rate promise (about ${Math.round(expected)})`,
      ),
    );
  }
}

/** seed 1.1 videoUrl: mp4/mov, H.264, 360p..4K (VIDEO_SIZE_LIMITS), 10..300 s, 10..60 fps. */
export function checkWorkVideo(m: ProbedMedia): void {
  const v = m.video;
  if (v === null)
    throw new AppError(
      ErrorCode.INVALID_VIDEO_FORMAT,
      t('视频文件中没有视频流', 'the video file has no video stream'),
    );
  if (!/(^|,)(mov|mp4)(,|$)/.test(m.formatName)) {
    const image = imageKindOfFormat(m.formatName);
    if (image !== null) throw new AppError(ErrorCode.INVALID_VIDEO_FORMAT, notTheRightKind(image, 'video'));
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
  if (!videoSizeAllowed(v.width, v.height)) {
    throw new AppError(
      ErrorCode.INVALID_RESOLUTION,
      t(
        `视频分辨率 ${v.width}x${v.height}，允许 360p ~ 4K（短边 360 ~ 2160，长边不超过 4096，横竖屏均可）`,
        `video is ${v.width}x${v.height}; 360p to 4K allowed (shorter side 360-2160, longer side at most 4096, landscape or portrait)`,
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
