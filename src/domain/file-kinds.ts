import { t, type LocalizedText } from './errors.ts';

/**
 * What a file that is not the media it should be actually is, told by its first bytes (its "magic
 * number"), so a customer reads "the file is a PNG image" instead of ffmpeg's name for a demuxer
 * (`png_pipe`) or a bare "not a readable media file". Only kinds people send by mistake are named.
 */
export interface FileKind {
  /** Short name for messages: `a PNG image`. */
  en: string;
  zh: string;
}

const KINDS: ReadonlyArray<{ kind: FileKind; test: (b: Uint8Array) => boolean }> = [
  { kind: { en: 'a PNG image', zh: 'PNG 图片' }, test: (b) => starts(b, [0x89, 0x50, 0x4e, 0x47]) },
  { kind: { en: 'a JPEG image', zh: 'JPEG 图片' }, test: (b) => starts(b, [0xff, 0xd8, 0xff]) },
  { kind: { en: 'a GIF image', zh: 'GIF 图片' }, test: (b) => ascii(b, 0, 'GIF8') },
  { kind: { en: 'a WebP image', zh: 'WebP 图片' }, test: (b) => ascii(b, 0, 'RIFF') && ascii(b, 8, 'WEBP') },
  { kind: { en: 'a BMP image', zh: 'BMP 图片' }, test: (b) => ascii(b, 0, 'BM') && b.length >= 26 },
  {
    kind: { en: 'a HEIC/AVIF image', zh: 'HEIC/AVIF 图片' },
    test: (b) => ascii(b, 4, 'ftyp') && /^(heic|heix|mif1|msf1|avif|avis)$/.test(latin1(b, 8, 12)),
  },
  { kind: { en: 'a PDF document', zh: 'PDF 文档' }, test: (b) => ascii(b, 0, '%PDF') },
  { kind: { en: 'a ZIP archive', zh: 'ZIP 压缩包' }, test: (b) => starts(b, [0x50, 0x4b, 0x03, 0x04]) },
  {
    kind: { en: 'an HTML page', zh: 'HTML 网页' },
    test: (b) => /^\s*(<!doctype html|<html|<head|<body)/i.test(latin1(b, 0, Math.min(b.length, 64))),
  },
  {
    kind: { en: 'a text or JSON file', zh: '文本或 JSON 文件' },
    test: (b) =>
      b.length > 0 && b.subarray(0, 64).every((c) => c === 9 || c === 10 || c === 13 || (c >= 32 && c < 127)),
  },
];

/** The kind of a file by its first bytes (64 are plenty), or null when it is none we name. */
export function sniffFileKind(head: Uint8Array): FileKind | null {
  return KINDS.find((k) => k.test(head))?.kind ?? null;
}

/** "the file is a PNG image, not an mp4/mov video" (or "..., not an audio file"). */
export function notTheRightKind(kind: FileKind, role: 'audio' | 'video'): LocalizedText {
  const zh = /^[A-Za-z]/.test(kind.zh) ? ` ${kind.zh}` : kind.zh;
  return role === 'video'
    ? t(`文件是${zh}，不是 mp4/mov 视频`, `the file is ${kind.en}, not an mp4/mov video`)
    : t(`文件是${zh}，不是音频文件`, `the file is ${kind.en}, not an audio file`);
}

/**
 * The still-picture demuxers ffprobe may name as a video's container (`png_pipe`, `jpeg_pipe`,
 * `image2`, ...): the kind they stand for, or null.
 */
export function imageKindOfFormat(formatName: string): FileKind | null {
  const f = formatName.toLowerCase();
  if (/(^|,)png_pipe(,|$)|apng/.test(f)) return KINDS[0]?.kind ?? null;
  if (/(^|,)(jpeg_pipe|jpegls_pipe|mjpeg)(,|$)/.test(f)) return KINDS[1]?.kind ?? null;
  if (/(^|,)gif(_pipe)?(,|$)/.test(f)) return KINDS[2]?.kind ?? null;
  if (/(^|,)webp_pipe(,|$)/.test(f)) return KINDS[3]?.kind ?? null;
  if (/(^|,)bmp_pipe(,|$)/.test(f)) return KINDS[4]?.kind ?? null;
  if (/(^|,)(image2|[a-z0-9]+_pipe)(,|$)/.test(f)) return { en: 'an image', zh: '图片' };
  return null;
}

function starts(b: Uint8Array, bytes: number[]): boolean {
  return b.length >= bytes.length && bytes.every((x, i) => b[i] === x);
}

function ascii(b: Uint8Array, at: number, s: string): boolean {
  return latin1(b, at, at + s.length) === s;
}

function latin1(b: Uint8Array, from: number, to: number): string {
  let s = '';
  for (let i = from; i < Math.min(to, b.length); i++) s += String.fromCharCode(b[i] ?? 0);
  return s;
}
