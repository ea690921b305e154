/**
 * `@vladmandic/human` (3.3.6) on TensorFlow.js's WebAssembly backend, offline, loaded once per process.
 *
 * How it runs (see shared FIELD-NOTES "Faces"): the package's Node entry wants `@tensorflow/tfjs-node`,
 * which does not install here, and its exports map refuses the `dist/human.node-wasm.js` subpath, so
 * that file is required by its resolved absolute path. The wasm binaries come from tfjs-backend-wasm's
 * `dist/` (wasmPath needs the trailing slash) and the models from the package's own `models/` folder as
 * `file://` URLs; Node 20's fetch cannot read those, so globalThis.fetch is wrapped to serve `file://`
 * URLs under that folder from disk (every other request goes to the original fetch untouched). Nothing
 * is downloaded. Only the face detector (BlazeFace) and the 468-point mesh are enabled.
 *
 * One Human instance holds per-process state (the sticky config, the frame-to-frame face tracking cache),
 * so every use goes through `withHuman`, which runs callers one at a time. Human merges the config given
 * to `detect()` into its own for good: a caller passes every option it relies on with each call.
 * WASM threads do not work in Node: for parallel detection, one loader per worker_thread.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Config, Human } from '@vladmandic/human';

export type { Human } from '@vladmandic/human';

const HUMAN_PACKAGE = '@vladmandic/human';
const WASM_PACKAGE = '@tensorflow/tfjs-backend-wasm';
/** The models this loader enables; each is `<name>.json` + `<name>.bin` in the package's models/ folder. */
const MODEL_FILES = ['blazeface.json', 'blazeface.bin', 'facemesh.json', 'facemesh.bin'];

/** Lowest detector score Human itself keeps (BlazeFace box, then the mesh's own face score). */
export const HUMAN_MIN_CONFIDENCE = 0.2;
/** Most faces detectFaces reports per frame (the mesh runs once per face found). */
export const MAX_FACES = 3;

export interface HumanFiles {
  /** Absolute path of dist/human.node-wasm.js. */
  entry: string;
  /** Absolute path of the package's models/ folder. */
  modelsDir: string;
  /** Absolute path of tfjs-backend-wasm's dist/ folder, with a trailing separator. */
  wasmDir: string;
}

function missing(what: string, cause?: unknown): Error {
  return new Error(
    `face detection is unavailable: ${what}. Install the face dependencies with ` +
      '`npm install` (they are @vladmandic/human 3.3.6 with @tensorflow/tfjs-core, tfjs-converter and ' +
      'tfjs-backend-wasm 4.22.0 in package.json)',
    cause === undefined ? undefined : { cause },
  );
}

/**
 * Finds the package files on disk, resolving packages as a module at `from` would (default: this file);
 * throws a clear Error when something is missing.
 */
export function locateHumanFiles(from: string | URL = import.meta.url): HumanFiles {
  const require = createRequire(from);
  let nodeEntry: string;
  try {
    // Resolving (not loading) the package's "node" entry gives its folder: dist/human.node.js.
    nodeEntry = require.resolve(HUMAN_PACKAGE);
  } catch (err) {
    throw missing(`${HUMAN_PACKAGE} is not installed`, err);
  }
  const root = dirname(dirname(nodeEntry));
  const entry = join(root, 'dist', 'human.node-wasm.js');
  const modelsDir = join(root, 'models');
  if (!existsSync(entry)) throw missing(`${entry} not found`);
  for (const f of MODEL_FILES) {
    if (!existsSync(join(modelsDir, f))) throw missing(`model file ${join(modelsDir, f)} not found`);
  }
  // Resolve tfjs-backend-wasm from Human's own location: that is the copy its require() will load.
  let wasmMain: string;
  try {
    wasmMain = createRequire(entry).resolve(WASM_PACKAGE);
  } catch (err) {
    throw missing(`${WASM_PACKAGE} is not installed`, err);
  }
  const wasmDir = dirname(wasmMain);
  if (
    !existsSync(join(wasmDir, 'tfjs-backend-wasm-simd.wasm')) &&
    !existsSync(join(wasmDir, 'tfjs-backend-wasm.wasm'))
  ) {
    throw missing(`no tfjs-backend-wasm*.wasm in ${wasmDir}`);
  }
  return { entry, modelsDir, wasmDir: wasmDir.endsWith(sep) ? wasmDir : wasmDir + sep };
}

/** The configuration: WASM backend, local files, no warmup, face detector + mesh only, no frame cache. */
/** Face models beyond the detector and mesh, all off (no emotion, iris, identity... is ever needed). */
export const FACE_EXTRAS_OFF = {
  attention: { enabled: false },
  iris: { enabled: false },
  emotion: { enabled: false },
  description: { enabled: false },
  antispoof: { enabled: false },
  liveness: { enabled: false },
} as const;

/** Every model other than the face's, off. */
export const OTHER_MODELS_OFF = {
  body: { enabled: false },
  hand: { enabled: false },
  object: { enabled: false },
  segmentation: { enabled: false },
} as const;

export function humanConfig(files: HumanFiles): Partial<Config> {
  return {
    backend: 'wasm',
    wasmPath: files.wasmDir,
    wasmPlatformFetch: false,
    modelBasePath: pathToFileURL(files.modelsDir).href + '/',
    cacheModels: false,
    debug: false,
    async: true,
    warmup: 'none',
    // 0 turns off Human's "input barely changed, reuse the last result" shortcut: frames are independent.
    cacheSensitivity: 0,
    filter: { enabled: false },
    gesture: { enabled: false },
    face: {
      enabled: true,
      detector: {
        modelPath: 'blazeface.json',
        rotation: false,
        maxDetected: MAX_FACES,
        minConfidence: HUMAN_MIN_CONFIDENCE,
        skipFrames: 0,
        return: false,
      },
      mesh: { enabled: true, modelPath: 'facemesh.json', keepInvalid: false },
      ...FACE_EXTRAS_OFF,
    },
    ...OTHER_MODELS_OFF,
  };
}

const FILE_FETCH_MARK = Symbol.for('dhs.human.fileFetch');

/**
 * Wraps globalThis.fetch so that `file://` URLs inside `modelsDir` are read from disk (what tfjs's
 * model loader asks for). Other `file://` URLs are refused; everything else goes to the original fetch.
 * Installed once per process.
 */
function installFileFetch(modelsDir: string): void {
  const g = globalThis as { fetch: typeof fetch };
  const original = g.fetch;
  if ((original as unknown as Record<symbol, unknown>)[FILE_FETCH_MARK]) return;
  const prefix = modelsDir.endsWith(sep) ? modelsDir : modelsDir + sep;
  const wrapped = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    if (!url.startsWith('file:')) return original(input, init);
    const path = fileURLToPath(url);
    if (!path.startsWith(prefix)) throw new TypeError(`fetch of ${url} refused: only model files are read`);
    const body = await readFile(path);
    const type = path.endsWith('.json') ? 'application/json' : 'application/octet-stream';
    return new Response(body, { status: 200, headers: { 'content-type': type } });
  };
  Object.defineProperty(wrapped, FILE_FETCH_MARK, { value: true });
  g.fetch = wrapped as typeof fetch;
}

export interface HumanLoadStats {
  /** Wall-clock milliseconds from the first request to a ready instance (backend + models). */
  loadMs: number;
  /** Process RSS right after loading, bytes. */
  rssAfterLoad: number;
  /** The tfjs backend in use ('wasm'). */
  backend: string;
}

const PROCESS_EVENTS = ['uncaughtException', 'unhandledRejection'] as const;
type ProcessListener = (...args: unknown[]) => void;
/** process as a plain emitter (its typed overloads do not take a union of event names). */
const emitter: NodeJS.EventEmitter = process;

function listenerSnapshot(): Map<string, ProcessListener[]> {
  return new Map(PROCESS_EVENTS.map((e) => [e, emitter.listeners(e) as ProcessListener[]]));
}

function removeAddedListeners(before: Map<string, ProcessListener[]>): void {
  for (const e of PROCESS_EVENTS) {
    const had = before.get(e) ?? [];
    for (const l of emitter.listeners(e) as ProcessListener[]) {
      if (!had.includes(l)) emitter.removeListener(e, l);
    }
  }
}

let loading: Promise<Human> | null = null;
let stats: HumanLoadStats | null = null;

async function load(): Promise<Human> {
  const started = performance.now();
  const files = locateHumanFiles();
  installFileFetch(files.modelsDir);
  const require = createRequire(import.meta.url);
  // The emscripten glue of tfjs-backend-wasm adds process listeners that rethrow every uncaught exception
  // and unhandled rejection (printing its whole minified source line); they are taken off again below
  // so the process keeps Node's own behaviour and the application's handlers.
  const before = listenerSnapshot();
  let human: Human;
  try {
    const mod = require(files.entry) as { Human: new (config?: Partial<Config>) => Human };
    human = new mod.Human(humanConfig(files));
    await human.init();
    await human.load();
  } finally {
    removeAddedListeners(before);
  }
  const backend = String(human.tf.getBackend());
  if (backend !== 'wasm') throw new Error(`face detection: tfjs backend is ${backend}, expected wasm`);
  const models = human.models.loaded();
  for (const m of ['blazeface', 'facemesh']) {
    if (!models.includes(m))
      throw missing(`model ${m} did not load (loaded: ${models.join(', ') || 'none'})`);
  }
  stats = { loadMs: performance.now() - started, rssAfterLoad: process.memoryUsage.rss(), backend };
  return human;
}

/**
 * The process's Human instance, loaded on first call (0.2-0.3 s: wasm backend and two models) and
 * cached. A failed load is not cached: the next call tries again. Use `withHuman` to run detection on it.
 */
export function loadHuman(): Promise<Human> {
  if (!loading) {
    loading = load();
    loading.catch(() => {
      loading = null;
    });
  }
  return loading;
}

/** Load time and memory of the loaded instance; null until loadHuman has finished. */
export function humanLoadStats(): HumanLoadStats | null {
  return stats;
}

let queue: Promise<unknown> = Promise.resolve();

/**
 * Runs `fn` with the Human instance once every earlier caller has finished (Human keeps per-instance
 * state between detect() calls, so calls must not interleave). Returns what `fn` returns.
 */
export function withHuman<T>(fn: (human: Human) => Promise<T>): Promise<T> {
  const run = queue.then(async () => fn(await loadHuman()));
  queue = run.catch(() => undefined);
  return run;
}

export interface DetectedFace {
  /** Human's face score, 0..1: the mesh model's face confidence (BlazeFace's box score without the mesh). */
  score: number;
  /** [x, y, width, height] in pixels of the input frame. */
  box: [number, number, number, number];
}

/** Per-call options of detectFaces (sticky in Human, so they are passed every time). */
const DETECT_OPTIONS: Partial<Config> = {
  cacheSensitivity: 0,
  face: {
    enabled: true,
    detector: { maxDetected: MAX_FACES, minConfidence: HUMAN_MIN_CONFIDENCE, skipFrames: 0, rotation: false },
    mesh: { enabled: true },
  },
};

/**
 * Faces in one frame of packed 8-bit RGB (`width * height * 3` bytes, rows top to bottom), best first.
 * Only faces Human scores at least HUMAN_MIN_CONFIDENCE are returned, at most MAX_FACES.
 */
export async function detectFaces(rgb: Uint8Array, width: number, height: number): Promise<DetectedFace[]> {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width <= 0 || height <= 0) {
    throw new RangeError(`bad frame size ${width}x${height}`);
  }
  if (rgb.length !== width * height * 3) {
    throw new RangeError(`frame of ${width}x${height} needs ${width * height * 3} bytes, got ${rgb.length}`);
  }
  return withHuman(async (human) => {
    const input = human.tf.tensor3d(rgb, [height, width, 3], 'int32');
    try {
      const result = await human.detect(input, DETECT_OPTIONS);
      if (result.error) throw new Error(`face detection failed: ${result.error}`);
      return result.face
        .map((f) => ({
          score: f.score,
          box: [f.box[0], f.box[1], f.box[2], f.box[3]] as DetectedFace['box'],
        }))
        .sort((a, b) => b.score - a.score);
    } finally {
      human.tf.dispose(input);
    }
  });
}
