/**
 * Node 20 warns once per process about two experimental features dhs uses on purpose: `node:wasi`
 * (Flite, src/engines/voice/flite.ts) and vm's USE_MAIN_CONTEXT_DEFAULT_LOADER (espeak-ng loaded as a
 * script, src/engines/voice/espeak-tts.ts). Operators cannot act on them, so exactly those two are
 * dropped; every other warning (other ExperimentalWarnings included) is printed as usual.
 * `--disable-warning` would need a flag on every node command line (and drops every warning of a
 * type), so the filter sits on process.emitWarning, which Node's own experimental warnings go through.
 */

/** ExperimentalWarning messages (their beginning) the product triggers knowingly. */
export const KNOWN_WARNINGS = [
  'WASI is an experimental feature',
  'vm.USE_MAIN_CONTEXT_DEFAULT_LOADER is an experimental feature',
] as const;

const installed = Symbol.for('dhs.silenceKnownWarnings');

/** True for the warnings dhs triggers on purpose (by type and message). */
export function isKnownWarning(warning: string | Error, typeOrOptions?: unknown): boolean {
  const type =
    warning instanceof Error
      ? warning.name
      : typeof typeOrOptions === 'string'
        ? typeOrOptions
        : typeof typeOrOptions === 'object' && typeOrOptions !== null
          ? (typeOrOptions as { type?: unknown }).type
          : undefined;
  if (type !== 'ExperimentalWarning') return false;
  const message = warning instanceof Error ? warning.message : warning;
  return KNOWN_WARNINGS.some((known) => message.startsWith(known));
}

/** Installs the filter (once per process); call it before the features are first used. */
export function silenceKnownWarnings(): void {
  const proc = process as NodeJS.Process & { [installed]?: true };
  if (proc[installed]) return;
  proc[installed] = true;
  const emit = process.emitWarning;
  process.emitWarning = function (this: unknown, warning: string | Error, ...rest: unknown[]) {
    if (isKnownWarning(warning, rest[0])) return;
    return (emit as (...args: unknown[]) => void).call(process, warning, ...rest);
  } as typeof process.emitWarning;
}
