import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { locateFfmpeg } from '../../src/repositories/ffmpeg-locate.ts';
import { sharedMedia } from '../../test/helpers/fixtures.ts';
import { frameReaderArgs, readFrames } from './frames.ts';
import {
  CROP_SCALE,
  cropFromLandmarks,
  FaceTracker,
  interOcular,
  LANDMARKS,
  loadFaceApi,
  mouthOpening,
  mouthPoints,
  plausible,
} from './tracker.ts';
import type { Landmarks } from './tracker.ts';

function face(open: number): Landmarks {
  const lm = new Float32Array(2 * LANDMARKS);
  const set = (i: number, x: number, y: number): void => {
    lm[2 * i] = x;
    lm[2 * i + 1] = y;
  };
  for (let i = 0; i < LANDMARKS; i++) set(i, 50, 70); // everything else in the middle
  set(0, 20, 50);
  set(16, 80, 50);
  set(8, 50, 100);
  set(19, 40, 38);
  for (let i = 36; i < 42; i++) set(i, 40, 50);
  for (let i = 42; i < 48; i++) set(i, 60, 50);
  for (const i of [61, 62, 63]) set(i, 50, 80 - open / 2);
  for (const i of [65, 66, 67]) set(i, 50, 80 + open / 2);
  return lm;
}

describe('tracker geometry', () => {
  it('opening = mean inner-lip gap / inter-ocular distance', () => {
    const lm = face(5);
    assert.equal(interOcular(lm), 20);
    assert.ok(Math.abs(mouthOpening(lm) - 0.25) < 1e-6);
    assert.equal(mouthOpening(face(0)), 0);
    assert.equal(mouthPoints(lm).length, 40);
  });

  it('the landmark crop is a square CROP_SCALE times the landmarks extent, centred on them', () => {
    const box = cropFromLandmarks(face(0));
    // x 20..80, y 38..100: extent 62, centre (50, 69).
    assert.ok(Math.abs(box.size - 62 * CROP_SCALE) < 1e-4);
    assert.ok(Math.abs(box.x + box.size / 2 - 50) < 1e-4);
    assert.ok(Math.abs(box.y + box.size / 2 - 69) < 1e-4);
    assert.ok(plausible(face(0)));
    const swapped = face(0);
    for (let i = 36; i < 42; i++) swapped[2 * i] = 70; // left eye right of the right eye
    assert.ok(!plausible(swapped));
  });

  it('frame reader arguments keep every decoded frame unless a rate is asked for', () => {
    const args = frameReaderArgs('in.mp4', { width: 64, height: 48 });
    assert.ok(args.includes('passthrough'));
    assert.equal(args[args.indexOf('-vf') + 1], 'scale=64:48:flags=bicubic');
    const cropped = frameReaderArgs('in.mp4', {
      width: 64,
      height: 64,
      fps: 25,
      crop: { x: 10.4, y: 0, width: 100, height: 100 },
    });
    assert.equal(cropped[cropped.indexOf('-vf') + 1], 'fps=25,crop=100:100:10:0,scale=64:64:flags=bicubic');
    assert.throws(() => frameReaderArgs('in.mp4', { width: 0, height: 10 }), RangeError);
  });
});

describe('face-api tracker on a real recording', () => {
  it('loads on the wasm backend and follows the face with a moving mouth', async () => {
    const { ffmpegPath } = locateFfmpeg(process.env);
    const file = sharedMedia('face-en-man-2.mp4');
    const runtime = await loadFaceApi();
    assert.equal(runtime.backend, 'wasm');
    const tracker = new FaceTracker(422, 422, { offsetX: 0, offsetY: 0, scaleX: 2, scaleY: 2 });
    const openings: number[] = [];
    for await (const frame of readFrames(file, { ffmpegPath, width: 422, height: 422, maxFrames: 25 })) {
      assert.equal(frame.length, 422 * 422 * 3);
      const lm = await tracker.next(frame);
      assert.ok(lm, 'face found');
      // Source pixels (844x844): the eyes are tens of pixels apart, the face inside the frame.
      assert.ok(interOcular(lm) > 50 && interOcular(lm) < 400, String(interOcular(lm)));
      openings.push(mouthOpening(lm));
    }
    assert.equal(openings.length, 25);
    assert.equal(tracker.stats.detections, 1);
    assert.ok(Math.max(...openings) - Math.min(...openings) > 0.03, openings.join(' '));
    assert.ok(openings.every((o) => o >= 0 && o < 1));
  });
});
