import { defineConfig } from 'vite';

// base './': the built dist/ works from any path on any static host.
export default defineConfig({
  base: './',
  build: { target: 'es2022' },
  worker: { format: 'es' },
});
