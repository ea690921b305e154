#!/usr/bin/env node
// Entry for `dhs` and `npx --no-install dhs`: runs the TypeScript sources through tsx's loader.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/main.ts');
await main(process.argv.slice(2));
