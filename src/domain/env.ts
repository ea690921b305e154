import { z } from 'zod';

/**
 * The shapes environment variables are read with (src/config.ts and the remote engines' settings):
 * unset or blank means the default, anything else must be well-formed or start-up stops naming it.
 */

/** An integer within [min, max]; unset or blank: `def`. */
export const envInt = (def: number, min: number, max: number) =>
  z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v.trim() === '') return def;
      const n = Number(v);
      if (!Number.isInteger(n) || n < min || n > max) {
        ctx.addIssue({ code: 'custom', message: `must be an integer from ${min} to ${max}, got "${v}"` });
        return z.NEVER;
      }
      return n;
    });

/** Text, trimmed; unset or blank: `def`. */
export const envStr = (def: string) =>
  z
    .string()
    .optional()
    .transform((v) => (v === undefined || v.trim() === '' ? def : v.trim()));

/** Text, trimmed; unset or blank: undefined. */
export const envOptional = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === '' ? undefined : v.trim()));

/** One of `values` (trimmed, case ignored); unset or blank: `def`. */
export const envOneOf = <const V extends string>(values: readonly V[], def: V) =>
  z
    .string()
    .optional()
    .transform((v, ctx): V => {
      const s = (v ?? '').trim().toLowerCase();
      if (s === '') return def;
      const found = values.find((x) => x === s);
      if (found === undefined) {
        ctx.addIssue({ code: 'custom', message: `must be one of ${values.join(', ')}, got "${v}"` });
        return z.NEVER;
      }
      return found;
    });
