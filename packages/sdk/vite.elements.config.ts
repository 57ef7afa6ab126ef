import { defineConfig } from 'vite';

// The self-registering bundle for pages without a build step:
//   <script type="module" src=".../webchuan-elements.js"></script>
// Everything (Lit, Comlink, the tokenizer's wasm) is inside; the engine's worker files sit beside it.
export default defineConfig({
  // Relative URLs: the worker files are found beside the script, wherever it is served from.
  base: './',
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    lib: { entry: 'src/elements/index.ts', formats: ['es'], fileName: () => 'webchuan-elements.js' },
  },
  worker: { format: 'es' },
});
