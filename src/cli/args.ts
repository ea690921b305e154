/** A wrong command line: printed with the usage, exit code 2. */
export class UsageError extends Error {}

export interface ParsedArgs {
  positional: string[];
  values: Map<string, string>;
  switches: Set<string>;
}

/**
 * `--name value`, `--name=value` and bare switches. `valued` and `switches` list what the command
 * takes; anything else is a UsageError, so that a typo never passes silently.
 */
export function parseArgs(
  args: string[],
  valued: readonly string[],
  switches: readonly string[],
): ParsedArgs {
  const out: ParsedArgs = { positional: [], values: new Map(), switches: new Set() };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (!arg.startsWith('--') || arg === '--') {
      out.positional.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const name = arg.slice(2, eq === -1 ? undefined : eq);
    if (switches.includes(name)) {
      if (eq !== -1) throw new UsageError(`--${name} takes no value`);
      out.switches.add(name);
    } else if (valued.includes(name)) {
      let value: string | undefined;
      if (eq !== -1) value = arg.slice(eq + 1);
      else {
        value = args[i + 1];
        if (value === undefined || (value.startsWith('--') && value.length > 2))
          throw new UsageError(`--${name} needs a value`);
        i++;
      }
      out.values.set(name, value);
    } else throw new UsageError(`unknown option --${name}`);
  }
  return out;
}
