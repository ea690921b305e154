#!/usr/bin/env node
// Builds the web console (console/src, plain TypeScript + the SDK) into console/dist with esbuild:
// one script, one stylesheet, the page. Run by `npm install` (the `prepare` script) and by the tests;
// `node console/build.mjs` by hand after changing console/src. Nothing is fetched at run time.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';

const here = dirname(fileURLToPath(import.meta.url));

/** Builds into `outdir` (default console/dist) and answers the files written. */
export async function buildConsole(outdir = join(here, 'dist')) {
  rmSync(outdir, { recursive: true, force: true });
  mkdirSync(outdir, { recursive: true });
  await build({
    entryPoints: [join(here, 'src', 'main.ts')],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: ['chrome110', 'firefox110', 'safari16'],
    minify: true,
    sourcemap: false,
    legalComments: 'none',
    outfile: join(outdir, 'app.js'),
    logLevel: 'warning',
  });
  writeFileSync(join(outdir, 'app.css'), readFileSync(join(here, 'src', 'styles.css')));
  writeFileSync(join(outdir, 'index.html'), readFileSync(join(here, 'src', 'index.html')));
  return ['index.html', 'app.js', 'app.css'].map((f) => join(outdir, f));
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const files = await buildConsole(process.argv[2]);
  console.log(`console built: ${files.join(', ')}`);
}
