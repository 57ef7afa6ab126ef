#!/usr/bin/env node
// The `webchuan` command: runs the TypeScript sources directly (through tsx), with a hook that loads
// WGSL kernels as text the way Vite does, so the CLI always runs exactly the code in the tree.
import { register } from 'node:module';
import { register as registerTsx } from 'tsx/esm/api';

registerTsx();
register('../src/wgsl-loader.mjs', import.meta.url);
const { main } = await import('../src/cli.ts');
process.exitCode = await main(process.argv.slice(2));
