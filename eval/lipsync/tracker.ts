/**
 * The eval's own mouth tracker: `@vladmandic/face-api` 1.7.15 (68-point landmarks), deliberately a
 * different model family from the Human face mesh the lip-sync engine tracks with, so the engine is not
 * graded by its own tracker.
 *
 * Loading (found by trying, Node 20, no tfjs-node): the package's `dist/face-api.node-wasm.js` is a
 * CommonJS bundle that requires `@tensorflow/tfjs` (the umbrella package, not installed) and
 * `@tensorflow/tfjs-backend-wasm`. Its browser bundle (`face-api.esm.js`) does not start in Node. So the
 * node-wasm bundle is required by its absolute path while `@tensorflow/tfjs` is answered with
 * tfjs-core + tfjs-converter (the installed 4.22.0 copies Human uses too), and the tensor "chained ops"
 * (`t.as3D()`, `t.sub()`...) that the umbrella package would register are added to tfjs-core's Tensor
 * when missing. Backend: WebAssembly (SIMD), wasm files from tfjs-backend-wasm's dist/. Models load from
 * the package's `model/` folder with face-api's own `loadFromDisk` (no fetch shim).
 *
 * Per frame: the landmark net (FaceLandmark68Net, 112x112 input) runs on a square crop derived from the
 * previous frame's landmarks, then once more on the crop derived from its own result, which makes the
 * crop (and so the landmarks) independent of detector box jitter. A detector (SsdMobilenetv1) is used only
 * to start, and again when the landmarks look implausible. 30-45 ms per frame on the wasm backend here
 * (2 cores, shared); face-api's own pipeline (SSD box every frame) costs 400-500 ms.
 *
 * It shares tfjs-core (and the wasm backend) with Human when both are loaded in one process; tried in
 * both load orders. Cross-check on 120 frames of the originals: this opening against Human's
 * |13-14| / |78-308| correlates r = 0.94 on face-en-man-2 and face-en-woman-1 but only 0.67 on the
 * portrait video (small face, inter-ocular distance about 85 source pixels): read the portrait's rows
 * with care.
 */
import Module, { createRequire } from 'node:module';
import { dirname, join, sep } from 'node:path';
import type * as TfCore from '@tensorflow/tfjs-core';

type Tf = typeof TfCore;
type Tensor3D = TfCore.Tensor3D;
type Tensor4D = TfCore.Tensor4D;

/** Number of landmarks and the 0-based indices used (iBUG 68-point scheme). */
export const LANDMARKS = 68;
export const MOUTH_FIRST = 48;
export const MOUTH_POINTS = 20;
const LEFT_EYE = [36, 37, 38, 39, 40, 41];
const RIGHT_EYE = [42, 43, 44, 45, 46, 47];
/** Inner lip pairs (upper, lower): 61-67, 62-66, 63-65. */
export const INNER_LIP_PAIRS: ReadonlyArray<readonly [number, number]> = [
  [61, 67],
  [62, 66],
  [63, 65],
];
const LANDMARK_INPUT = 112;

/** 68 points as x0, y0, x1, y1, ... in source-video pixels. */
export type Landmarks = Float32Array;

export function point(lm: Landmarks, i: number): [number, number] {
  return [lm[2 * i] ?? NaN, lm[2 * i + 1] ?? NaN];
}

function centroid(lm: Landmarks, idx: readonly number[]): [number, number] {
  let x = 0;
  let y = 0;
  for (const i of idx) {
    const [px, py] = point(lm, i);
    x += px;
    y += py;
  }
  return [x / idx.length, y / idx.length];
}

/** Left and right eye centres (means of the six eye points each). */
export function eyeCenters(lm: Landmarks): [[number, number], [number, number]] {
  return [centroid(lm, LEFT_EYE), centroid(lm, RIGHT_EYE)];
}

/** Inter-ocular distance: between the eye centres, pixels. */
export function interOcular(lm: Landmarks): number {
  const [[lx, ly], [rx, ry]] = eyeCenters(lm);
  return Math.hypot(rx - lx, ry - ly);
}

/** Mouth opening: mean inner-lip gap of the three inner pairs / inter-ocular distance. */
export function mouthOpening(lm: Landmarks): number {
  let sum = 0;
  for (const [a, b] of INNER_LIP_PAIRS) {
    const [ax, ay] = point(lm, a);
    const [bx, by] = point(lm, b);
    sum += Math.hypot(bx - ax, by - ay);
  }
  return sum / INNER_LIP_PAIRS.length / interOcular(lm);
}

/** The 20 mouth points (48-67) as x, y pairs, source pixels. */
export function mouthPoints(lm: Landmarks): Float32Array {
  return lm.slice(2 * MOUTH_FIRST, 2 * (MOUTH_FIRST + MOUTH_POINTS));
}

export interface Box {
  x: number;
  y: number;
  size: number;
}

/**
 * The square crop the landmark net sees, relative to the landmarks' extent (largest side of their
 * bounding box), centred on them. Chosen by trying on 80 frames each of face-en-man-1.mp4 and the
 * portrait video against face-api's own pipeline (SSD box every frame): 1.3 / 0 gave opening r = 0.97 /
 * 0.94 with it; 1.4-1.5 were worse on the small portrait face, and a tight crop like SSD's own box
 * (1.12, centre 0.14 up) feeds back on itself and loses the face (r = 0.03).
 */
export const CROP_SCALE = 1.3;
export const CROP_SHIFT_Y = 0;

/** The square crop for the landmark net: centred on the landmarks' bounding box, CROP_SCALE its larger side. */
export function cropFromLandmarks(lm: Landmarks): Box {
  let x0 = Infinity;
  let y0 = Infinity;
  let x1 = -Infinity;
  let y1 = -Infinity;
  for (let i = 0; i < LANDMARKS; i++) {
    const [x, y] = point(lm, i);
    x0 = Math.min(x0, x);
    x1 = Math.max(x1, x);
    y0 = Math.min(y0, y);
    y1 = Math.max(y1, y);
  }
  const extent = Math.max(x1 - x0, y1 - y0);
  const size = extent * CROP_SCALE;
  return { x: (x0 + x1) / 2 - size / 2, y: (y0 + y1) / 2 + CROP_SHIFT_Y * extent - size / 2, size };
}

/** Whether landmarks look like a face: eyes level-ish and an inter-ocular distance fitting the extent. */
export function plausible(lm: Landmarks): boolean {
  for (let i = 0; i < 2 * LANDMARKS; i++) if (!Number.isFinite(lm[i])) return false;
  const [[lx, ly], [rx, ry]] = eyeCenters(lm);
  const iod = Math.hypot(rx - lx, ry - ly);
  const box = cropFromLandmarks(lm);
  const ratio = iod / box.size;
  const roll = Math.abs(Math.atan2(ry - ly, rx - lx));
  return rx > lx && ratio > 0.2 && ratio < 0.6 && roll < 0.6;
}

// ---------------------------------------------------------------------------------------------------
// Loading face-api

interface FaceApiPoint {
  x: number;
  y: number;
}
interface FaceApiLandmarks {
  positions: FaceApiPoint[];
}
interface FaceApiDetection {
  score: number;
  box: { x: number; y: number; width: number; height: number };
}
interface FaceApiNet {
  loadFromDisk(dir: string): Promise<void>;
}
interface FaceApi {
  nets: {
    ssdMobilenetv1: FaceApiNet & {
      locateFaces(input: Tensor3D, options: unknown): Promise<FaceApiDetection[]>;
    };
    faceLandmark68Net: FaceApiNet & {
      detectLandmarks(input: Tensor3D): Promise<FaceApiLandmarks | FaceApiLandmarks[]>;
    };
  };
  SsdMobilenetv1Options: new (o: { minConfidence: number; maxResults: number }) => unknown;
}

export interface FaceApiRuntime {
  faceapi: FaceApi;
  tf: Tf;
  backend: string;
  loadMs: number;
}

const FACE_API = '@vladmandic/face-api';

/** Installs the Tensor methods the tfjs umbrella package registers, where tfjs-core lacks them. */
function addChainedOps(tf: Tf): void {
  const proto = tf.Tensor.prototype as unknown as Record<string, unknown>;
  const ops = tf as unknown as Record<string, unknown>;
  const call = (name: string) =>
    function (this: TfCore.Tensor, ...args: unknown[]): unknown {
      return (ops[name] as (...a: unknown[]) => unknown)(this, ...args);
    };
  const generic =
    'abs add all any argMax argMin batchNorm cast clipByValue conv2d depthwiseConv2d div exp expandDims ' +
    'flatten floor gather greater less log matMul max maximum mean min minimum mul neg pad relu reshape ' +
    'round sigmoid slice softmax split sqrt square squeeze sub sum tile transpose unstack';
  for (const name of generic.split(' ')) {
    if (typeof proto[name] !== 'function' && typeof ops[name] === 'function') proto[name] = call(name);
  }
  const special: Record<string, (t: TfCore.Tensor, ...a: never[]) => unknown> = {
    as1D: (t) => tf.reshape(t, [-1]),
    as2D: (t, a: number, b: number) => tf.reshape(t, [a, b]),
    as3D: (t, a: number, b: number, c: number) => tf.reshape(t, [a, b, c]),
    as4D: (t, a: number, b: number, c: number, d: number) => tf.reshape(t, [a, b, c, d]),
    asScalar: (t) => tf.reshape(t, []),
    asType: (t, d: TfCore.DataType) => tf.cast(t, d),
    toFloat: (t) => tf.cast(t, 'float32'),
    toInt: (t) => tf.cast(t, 'int32'),
    toBool: (t) => tf.cast(t, 'bool'),
    reshapeAs: (t, x: TfCore.Tensor) => tf.reshape(t, x.shape),
  };
  for (const [name, fn] of Object.entries(special)) {
    if (typeof proto[name] !== 'function') {
      proto[name] = function (this: TfCore.Tensor, ...args: never[]): unknown {
        return fn(this, ...args);
      };
    }
  }
}

let loading: Promise<FaceApiRuntime> | null = null;

async function load(): Promise<FaceApiRuntime> {
  const started = performance.now();
  const require = createRequire(import.meta.url);
  let root: string;
  try {
    root = dirname(require.resolve(`${FACE_API}/package.json`));
  } catch (err) {
    throw new Error(`${FACE_API} is not installed (it is a devDependency: npm install)`, { cause: err });
  }
  const entry = join(root, 'dist', 'face-api.node-wasm.js');
  const modelDir = join(root, 'model');
  const req = createRequire(entry);
  const tf = req('@tensorflow/tfjs-core') as Tf;
  const converter = req('@tensorflow/tfjs-converter') as object;
  const wasm = req('@tensorflow/tfjs-backend-wasm') as { setWasmPaths(p: string): void };
  addChainedOps(tf);
  const umbrella = { ...tf, ...converter };
  const mod = Module as unknown as { _load: (request: string, ...rest: unknown[]) => unknown };
  const originalLoad = mod._load;
  let faceapi: FaceApi;
  mod._load = function (this: unknown, request: string, ...rest: unknown[]): unknown {
    if (request === '@tensorflow/tfjs') return umbrella;
    return originalLoad.call(this, request, ...rest);
  };
  try {
    faceapi = req(entry) as FaceApi;
  } finally {
    mod._load = originalLoad;
  }
  const wasmDir = dirname(req.resolve('@tensorflow/tfjs-backend-wasm'));
  wasm.setWasmPaths(wasmDir.endsWith(sep) ? wasmDir : wasmDir + sep);
  if (tf.getBackend() !== 'wasm') {
    if (!(await tf.setBackend('wasm'))) throw new Error('face-api: the tfjs wasm backend did not start');
  }
  await tf.ready();
  await faceapi.nets.ssdMobilenetv1.loadFromDisk(modelDir);
  await faceapi.nets.faceLandmark68Net.loadFromDisk(modelDir);
  return { faceapi, tf, backend: tf.getBackend(), loadMs: performance.now() - started };
}

/** face-api on the wasm backend, loaded once per process (0.2-0.5 s). */
export function loadFaceApi(): Promise<FaceApiRuntime> {
  if (!loading) {
    loading = load();
    loading.catch(() => {
      loading = null;
    });
  }
  return loading;
}

// ---------------------------------------------------------------------------------------------------
// Tracking

export interface FaceBox {
  x: number;
  y: number;
  width: number;
  height: number;
  score: number;
}

/** Faces SsdMobilenetv1 finds in one rgb24 frame, best first (pixels of that frame). */
export async function detectFaces(
  rgb: Uint8Array,
  width: number,
  height: number,
  minConfidence = 0.3,
): Promise<FaceBox[]> {
  const { faceapi, tf } = await loadFaceApi();
  const img = tf.tensor3d(rgb, [height, width, 3], 'int32');
  try {
    const found = await faceapi.nets.ssdMobilenetv1.locateFaces(
      img,
      new faceapi.SsdMobilenetv1Options({ minConfidence, maxResults: 5 }),
    );
    return found
      .map((d) => ({ x: d.box.x, y: d.box.y, width: d.box.width, height: d.box.height, score: d.score }))
      .sort((a, b) => b.score - a.score);
  } finally {
    img.dispose();
  }
}

/** How frame pixels map to source pixels: source = offset + frame * scale. */
export interface FrameMapping {
  offsetX: number;
  offsetY: number;
  scaleX: number;
  scaleY: number;
}

export const IDENTITY: FrameMapping = { offsetX: 0, offsetY: 0, scaleX: 1, scaleY: 1 };

export interface TrackStats {
  frames: number;
  tracked: number;
  detections: number;
  ms: number;
}

/**
 * Follows the one face through frames of `width` x `height` rgb24 and returns, per frame, its 68
 * landmarks in source pixels (via `mapping`) or null where no plausible face was found.
 */
export class FaceTracker {
  private prev: Landmarks | null = null;
  readonly stats: TrackStats = { frames: 0, tracked: 0, detections: 0, ms: 0 };

  constructor(
    private readonly width: number,
    private readonly height: number,
    private readonly mapping: FrameMapping = IDENTITY,
  ) {}

  async next(rgb: Uint8Array): Promise<Landmarks | null> {
    const started = performance.now();
    const { tf } = await loadFaceApi();
    const img = tf.tensor3d(rgb, [this.height, this.width, 3], 'int32');
    const img4 = tf.tidy(() => tf.expandDims(tf.cast(img, 'float32'), 0) as Tensor4D);
    try {
      let lm: Landmarks | null = null;
      if (this.prev) lm = await this.refine(img4, cropFromLandmarks(this.prev));
      if (!lm) {
        this.stats.detections++;
        const faces = await detectFaces(rgb, this.width, this.height);
        const f = faces[0];
        if (f) {
          const size = Math.max(f.width, f.height);
          const box = { x: f.x + f.width / 2 - size / 2, y: f.y + f.height / 2 - size / 2, size };
          lm = await this.refine(img4, box);
        }
      }
      this.prev = lm;
      this.stats.frames++;
      if (!lm) return null;
      this.stats.tracked++;
      const out = new Float32Array(2 * LANDMARKS);
      const m = this.mapping;
      for (let i = 0; i < LANDMARKS; i++) {
        out[2 * i] = m.offsetX + (lm[2 * i] as number) * m.scaleX;
        out[2 * i + 1] = m.offsetY + (lm[2 * i + 1] as number) * m.scaleY;
      }
      return out;
    } finally {
      tf.dispose([img, img4]);
      this.stats.ms += performance.now() - started;
    }
  }

  /** Landmarks in `box`, then again in the crop derived from them; null when implausible. */
  private async refine(img4: Tensor4D, box: Box): Promise<Landmarks | null> {
    const first = await this.landmarksIn(img4, box);
    if (!plausible(first)) return null;
    const second = await this.landmarksIn(img4, cropFromLandmarks(first));
    return plausible(second) ? second : null;
  }

  /** The landmark net on the square `box` (frame pixels; may reach outside the frame: filled black). */
  private async landmarksIn(img4: Tensor4D, box: Box): Promise<Landmarks> {
    const { faceapi, tf } = await loadFaceApi();
    const w = this.width;
    const h = this.height;
    const crop = tf.tidy(() => {
      const boxes = tf.tensor2d([
        [box.y / (h - 1), box.x / (w - 1), (box.y + box.size) / (h - 1), (box.x + box.size) / (w - 1)],
      ]);
      const resized = tf.image.cropAndResize(img4, boxes, [0], [LANDMARK_INPUT, LANDMARK_INPUT]);
      return tf.squeeze(resized, [0]) as Tensor3D;
    });
    try {
      const res = await faceapi.nets.faceLandmark68Net.detectLandmarks(crop);
      const one = Array.isArray(res) ? res[0] : res;
      const out = new Float32Array(2 * LANDMARKS).fill(NaN);
      const k = box.size / LANDMARK_INPUT;
      one?.positions.forEach((p, i) => {
        if (i >= LANDMARKS) return;
        out[2 * i] = box.x + p.x * k;
        out[2 * i + 1] = box.y + p.y * k;
      });
      return out;
    } finally {
      crop.dispose();
    }
  }
}
