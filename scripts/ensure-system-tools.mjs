#!/usr/bin/env node
// Runs before `npm start` and `npm test`: makes sure the system tools dhs shells out to are there.
// All present: exits 0 without a word. Missing, as root with apt-get: installs them with apt-get.
// Otherwise: says what to install and exits 1. Plain Node, no dependencies.
import { spawnSync } from 'node:child_process';

/**
 * The tools. `command`: what is run when the `env` variable is unset (the variable overrides it with a
 * path); `check`: arguments with which a working install exits 0; `apt`: Debian packages that provide
 * it. Another tool is one more row, e.g. pocketsphinx with apt: ['pocketsphinx', 'pocketsphinx-en-us'].
 */
const SERVER_TOOLS = [
  { name: 'ffmpeg', command: 'ffmpeg', env: 'DHS_FFMPEG', check: ['-version'], apt: ['ffmpeg'] },
  { name: 'ffprobe', command: 'ffprobe', env: 'DHS_FFPROBE', check: ['-version'], apt: ['ffmpeg'] },
];
/**
 * `--test` (npm test): the console's browser tests drive Debian's Chromium with playwright-core; the
 * voice eval's tests transcribe real English with pocketsphinx.
 */
const TEST_TOOLS = [
  { name: 'chromium', command: 'chromium', env: 'DHS_CHROMIUM', check: ['--version'], apt: ['chromium'] },
  {
    name: 'pocketsphinx',
    command: 'pocketsphinx_continuous',
    env: 'DHS_POCKETSPHINX',
    // decodes nothing, exits 0 once the en-us model loads (bare, it exits 1 without a terminal)
    check: ['-infile', '/dev/null', '-logfn', '/dev/null'],
    apt: ['pocketsphinx', 'pocketsphinx-en-us'],
  },
];
const TOOLS = process.argv.includes('--test') ? [...SERVER_TOOLS, ...TEST_TOOLS] : SERVER_TOOLS;

const say = (line) => process.stderr.write(`ensure-system-tools: ${line}\n`);

function works(tool) {
  const command = process.env[tool.env] || tool.command;
  const res = spawnSync(command, tool.check, { stdio: 'ignore', timeout: 20_000 });
  return !res.error && res.status === 0;
}

function canRun(command, args) {
  const res = spawnSync(command, args, { stdio: 'ignore' });
  return !res.error && res.status === 0;
}

function aptPackages(tools) {
  return [...new Set(tools.flatMap((t) => t.apt))];
}

function explain(missing) {
  say(`dhs needs these tools, missing or not working: ${missing.map((t) => t.name).join(', ')}`);
  for (const t of missing.filter((t) => process.env[t.env])) {
    const command = [process.env[t.env], ...t.check].join(' ');
    say(`  ${t.env} is set, but \`${command}\` fails: fix or unset ${t.env}.`);
  }
  say(`  Install: sudo apt-get install -y ${aptPackages(missing).join(' ')}   (Debian/Ubuntu)`);
  say(`  or set ${missing.map((t) => t.env).join(' and ')} to the path of a working binary.`);
}

const missing = TOOLS.filter((t) => !works(t));
if (missing.length === 0) process.exit(0);

// A variable pointing at a broken binary is a configuration mistake that apt-get cannot fix.
const installable = missing.filter((t) => !process.env[t.env]);
const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
if (installable.length === missing.length && isRoot && canRun('apt-get', ['--version'])) {
  const pkgs = aptPackages(installable);
  say(`installing ${pkgs.join(' ')} with apt-get (missing: ${installable.map((t) => t.name).join(', ')})`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const update = spawnSync('apt-get', ['update'], { stdio: 'inherit', env });
  const install =
    update.status === 0
      ? spawnSync('apt-get', ['install', '-y', ...pkgs], { stdio: 'inherit', env })
      : update;
  const still = TOOLS.filter((t) => !works(t));
  if (install.status === 0 && still.length === 0) process.exit(0);
  say('apt-get did not make them work.');
  explain(still.length > 0 ? still : missing);
  process.exit(1);
}

explain(missing);
process.exit(1);
