#!/usr/bin/env node
// Builds the web console (console/src, plain TypeScript + the SDK) into console/dist with esbuild:
// one script, one stylesheet, the page. Run by `npm install` (the `prepare` script) and by the tests;
// `node console/build.mjs` by hand after changing console/src. Nothing is fetched at run time.
import { copyFileSync, mkdirSync, renameSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';

const here = dirname(fileURLToPath(import.meta.url));

/**
 * Builds into `outdir` (default console/dist) and answers the files written. Each file is written
 * beside its place and renamed over it, so a server reading the folder (tests build while others
 * serve it) never sees a missing or half-written file.
 */
export async function buildConsole(outdir = join(here, 'dist')) {
  mkdirSync(outdir, { recursive: true });
  const tmp = (name) => join(outdir, `.${name}.${process.pid}.tmp`);
  await build({
    entryPoints: [join(here, 'src', 'main.ts')],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: ['chrome110', 'firefox110', 'safari16'],
    minify: true,
    sourcemap: false,
    legalComments: 'none',
    outfile: tmp('app.js'),
    logLevel: 'warning',
  });
  copyFileSync(join(here, 'src', 'styles.css'), tmp('app.css'));
  copyFileSync(join(here, 'src', 'index.html'), tmp('index.html'));
  const files = ['index.html', 'app.js', 'app.css'];
  for (const f of files) renameSync(tmp(f), join(outdir, f));
  return files.map((f) => join(outdir, f));
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const files = await buildConsole(process.argv[2]);
  console.log(`console built: ${files.join(', ')}`);
}
