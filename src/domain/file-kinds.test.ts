import assert from 'node:assert/strict';
import { test } from 'node:test';
import { imageKindOfFormat, notTheRightKind, sniffFileKind } from './file-kinds.ts';

const bytes = (...b: number[]) => Uint8Array.from(b);
const text = (s: string) => new TextEncoder().encode(s);

test('files people send by mistake are named by their first bytes', () => {
  assert.equal(sniffFileKind(bytes(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a))?.en, 'a PNG image');
  assert.equal(sniffFileKind(bytes(0xff, 0xd8, 0xff, 0xe0, 0, 0x10))?.en, 'a JPEG image');
  assert.equal(sniffFileKind(text('GIF89a\x01\x00'))?.en, 'a GIF image');
  assert.equal(sniffFileKind(text('RIFF\x10\x00\x00\x00WEBPVP8 '))?.en, 'a WebP image');
  assert.equal(sniffFileKind(text('%PDF-1.7\n'))?.en, 'a PDF document');
  assert.equal(sniffFileKind(text('  <!doctype html><html>'))?.en, 'an HTML page');
  assert.equal(sniffFileKind(text('{"error":"forbidden"}'))?.en, 'a text or JSON file');
  assert.equal(sniffFileKind(bytes(0, 0, 0, 0x18, ...text('ftypheic')))?.en, 'a HEIC/AVIF image');
});

test('media and unknown bytes are not named', () => {
  // a WAV (RIFF....WAVE), an mp4 (....ftypisom), an mp3 with ID3, an empty file
  assert.equal(sniffFileKind(bytes(...text('RIFF'), 0x24, 0x08, 0, 0, ...text('WAVEfmt '))), null);
  assert.equal(sniffFileKind(bytes(0, 0, 0, 0x20, ...text('ftypisom'), 0, 0, 2, 0)), null);
  assert.equal(sniffFileKind(bytes(...text('ID3'), 4, 0, 0, 0, 0, 0x23)), null);
  assert.equal(sniffFileKind(new Uint8Array(0)), null);
});

test('image demuxer names become the picture they stand for', () => {
  assert.equal(imageKindOfFormat('png_pipe')?.en, 'a PNG image');
  assert.equal(imageKindOfFormat('jpeg_pipe')?.en, 'a JPEG image');
  assert.equal(imageKindOfFormat('image2')?.en, 'an image');
  assert.equal(imageKindOfFormat('mov,mp4,m4a,3gp,3g2,mj2'), null);
  assert.equal(imageKindOfFormat('matroska,webm'), null);
  assert.deepEqual(notTheRightKind({ en: 'a PNG image', zh: 'PNG 图片' }, 'video'), {
    en: 'the file is a PNG image, not an mp4/mov video',
    zh: '文件是 PNG 图片，不是 mp4/mov 视频',
  });
});
