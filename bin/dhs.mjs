#!/usr/bin/env node
// Entry for `dhs` (npm start, a global install, npx): runs the TypeScript sources through tsx's loader.
// `serve` and `worker` first make sure the system tools are there (ffmpeg: installed with apt-get when
// missing and root), in this process, so that `npm start` runs one process that signals reach.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { register } from 'tsx/esm/api';

const args = process.argv.slice(2);
if ((args[0] === 'serve' || args[0] === 'worker') && process.env.DHS_TOOLS_CHECKED !== '1') {
  const check = fileURLToPath(new URL('../scripts/ensure-system-tools.mjs', import.meta.url));
  const res = spawnSync(process.execPath, [check], { stdio: 'inherit' });
  if (res.status !== 0) process.exit(res.status ?? 1);
}
// the project's own tsconfig, whatever the current directory (a global install runs from anywhere)
register({ tsconfig: fileURLToPath(new URL('../tsconfig.json', import.meta.url)) });
const { silenceKnownWarnings } = await import('../src/node-warnings.ts');
silenceKnownWarnings();
// customer commands talk HTTP to a server: they load neither the server's modules nor its config
const customer = await import('../src/cli/customer.ts');
if (customer.isCustomerCommand(args[0])) {
  process.exitCode = await customer.runCustomer(args);
} else {
  const { main } = await import('../src/main.ts');
  await main(args);
}
