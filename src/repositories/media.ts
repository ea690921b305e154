/**
 * Media work (ffprobe/ffmpeg) behind a port. Adapters run only on local files, with argument arrays,
 * `-nostdin`, a protocol whitelist of file,pipe and a wall-clock timeout.
 */
export interface VideoStreamInfo {
  codec: string; // ffprobe codec_name, e.g. "h264"
  width: number;
  height: number;
  fps: number; // average frame rate
  frames: number | null;
}

export interface AudioStreamInfo {
  codec: string;
  sampleRate: number;
  channels: number;
}

export interface MediaInfo {
  formatName: string; // ffprobe format_name, e.g. "mov,mp4,m4a,3gp,3g2,mj2"
  durationSec: number;
  sizeBytes: number;
  video: VideoStreamInfo | null;
  audio: AudioStreamInfo | null;
}

export interface RunOptions {
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Called with the seconds of output written so far (parsed from ffmpeg's -progress). */
  onProgressSec?: (sec: number) => void;
}

export interface MediaTool {
  /** ffprobe of a local file. Throws MediaError('unreadable') when it is not a media file. */
  probe(file: string, opts?: RunOptions): Promise<MediaInfo>;
  /**
   * Packets of the first video or audio stream, read by demuxing the whole file (no decoding): a file
   * cut short holds fewer than its header promises.
   */
  countPackets(file: string, stream: 'video' | 'audio', opts?: RunOptions): Promise<number>;
  /** Runs ffmpeg with these arguments (the adapter adds -nostdin, -y, -protocol_whitelist, -hide_banner). */
  ffmpeg(args: string[], opts?: RunOptions): Promise<void>;
  /** Decodes any audio file to mono float32 PCM at `sampleRate`. */
  decodeAudio(file: string, sampleRate: number, opts?: RunOptions): Promise<Float32Array>;
  /** Writes mono float32 PCM to `outFile` as mp3 (by extension: .mp3, .wav, .m4a). */
  encodeAudio(pcm: Float32Array, sampleRate: number, outFile: string, opts?: RunOptions): Promise<void>;
}

export class MediaError extends Error {
  constructor(
    readonly kind: 'unreadable' | 'timeout' | 'failed' | 'aborted',
    message: string,
  ) {
    super(message);
    this.name = 'MediaError';
  }
}
