/** The media types of the files the server keeps and hands out, by file extension. */
const CONTENT_TYPES: Record<string, string> = {
  mp4: 'video/mp4',
  mp3: 'audio/mpeg',
  wav: 'audio/wav',
  m4a: 'audio/mp4',
  // subtitles of text works and speech (src/domain/captions.ts), UTF-8
  vtt: 'text/vtt; charset=utf-8',
  srt: 'application/x-subrip; charset=utf-8',
  // what customers upload (src/services/uploads.service.ts keeps the extension)
  mov: 'video/quicktime',
  webm: 'video/webm',
  aac: 'audio/aac',
  flac: 'audio/flac',
  ogg: 'audio/ogg',
  opus: 'audio/ogg',
  amr: 'audio/amr',
  aiff: 'audio/aiff',
  json: 'application/json',
};

/** The Content-Type a stored file is served with (`results/<random>/video.mp4` → `video/mp4`). */
export function contentTypeOf(key: string): string {
  const slash = key.lastIndexOf('/');
  const dot = key.lastIndexOf('.');
  if (dot <= slash) return 'application/octet-stream';
  return CONTENT_TYPES[key.slice(dot + 1).toLowerCase()] ?? 'application/octet-stream';
}
