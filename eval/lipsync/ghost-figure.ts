/**
 * The README's ghost-lip before/after figure (docs/lipsync-ghost-before-after.jpg), from an eval run that
 * kept its files and rendered two engines (e.g. `--engines=sample,sample-fixedmask --keep --out=ghost-ab`):
 * the `before` engine's worst frames by the ghost measure (ghost.ts), at most `perClip` per clip, each a
 * row of mouth crops: base frame | before | after (the same output frame of the `after` engine).
 *
 *   node --import tsx eval/lipsync/ghost-figure.ts --report=eval-results/ghost-ab.json \
 *     --before=sample-fixedmask --after=sample [--rows=6] [--per-clip=2] [--out=docs/lipsync-ghost-before-after.jpg]
 *
 * The work folder is the report's name with `-work` (run.ts --keep --out=NAME).
 */
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readFrames } from './frames.ts';
import { cropTile, mouthCropBox, tileSheet, writeJpeg } from './ghost.ts';
import { pingPong, type LipSyncReport } from './run.ts';
import { FaceTracker, loadFaceApi } from './tracker.ts';

const TILE: readonly [number, number] = [200, 150];

async function frameAt(
  ffmpegPath: string,
  file: string,
  w: number,
  h: number,
  index: number,
): Promise<Uint8Array> {
  let i = 0;
  for await (const f of readFrames(file, { ffmpegPath, width: w, height: h, maxFrames: index + 1 })) {
    if (i++ === index) return f;
  }
  throw new Error(`${file}: no frame ${index}`);
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const arg = (name: string, fallback?: string): string => {
    const v = args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? fallback;
    if (v === undefined) throw new Error(`--${name}= is required`);
    return v;
  };
  const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
  const reportFile = resolve(arg('report'));
  const workDir = reportFile.replace(/\.json$/, '-work');
  const before = arg('before');
  const after = arg('after');
  const rows = Number(arg('rows', '6'));
  const perClip = Number(arg('per-clip', '2'));
  const out = resolve(repoRoot, arg('out', 'docs/lipsync-ghost-before-after.jpg'));
  const { locateFfmpeg } = await import('../../src/repositories/ffmpeg-locate.ts');
  const ffmpegPath = locateFfmpeg(process.env).ffmpegPath;
  const { readFile } = await import('node:fs/promises');
  const report = JSON.parse(await readFile(reportFile, 'utf8')) as LipSyncReport;

  const picks: Array<{ clip: string; frame: number; score: number }> = [];
  for (const r of report.results.filter((x) => x.condition === before && x.ghost)) {
    for (const w of r.ghost!.worst.slice(0, perClip)) picks.push({ clip: r.clip, ...w });
  }
  picks.sort((a, b) => b.score - a.score);
  picks.length = Math.min(picks.length, rows);
  if (picks.length === 0) throw new Error(`no ghost frames of ${before} in ${reportFile}`);

  await loadFaceApi();
  const tiles: Uint8Array[] = [];
  for (const p of picks) {
    const clip = report.clips.find((c) => c.clip === p.clip)!;
    const { width: w, height: h, halfFrames } = clip;
    const dir = join(workDir, p.clip);
    const baseIndex = pingPong(p.frame, halfFrames);
    const base = await frameAt(ffmpegPath, join(dir, 'first.mp4'), w, h, baseIndex);
    const b = await frameAt(ffmpegPath, join(dir, `out-${before}.mp4`), w, h, p.frame);
    const a = await frameAt(ffmpegPath, join(dir, `out-${after}.mp4`), w, h, p.frame);
    // The crop box from the before output's own landmarks (a fresh start on this one frame).
    const tracker = new FaceTracker(w, h, { offsetX: 0, offsetY: 0, scaleX: 1, scaleY: 1 });
    const lm = (await tracker.next(b)) ?? (await tracker.next(base));
    if (!lm) throw new Error(`${p.clip} frame ${p.frame}: no face found`);
    const box = mouthCropBox(lm);
    for (const f of [base, b, a]) tiles.push(cropTile(f, w, h, box, TILE[0], TILE[1]));
    console.log(`${p.clip} frame ${p.frame} (base ${baseIndex}): ghost ${p.score}`);
  }
  await writeJpeg(ffmpegPath, tileSheet(tiles, TILE[0], TILE[1], 3), out, 5);
  console.log(`wrote ${out}: columns base | ${before} | ${after}`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
