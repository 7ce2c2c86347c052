import { defineConfig } from 'vite';

// The page lives in www/. The wasm glue is built into www/pkg/ by scripts/build-web.sh, and the
// MNIST files are imported from ../data with `?url`, so the dev server may read the parent folder.
// Files in www/public/ (the showcase's pre-trained digit model) are copied into dist/ as they are.
export default defineConfig({
  root: '.',
  base: './',
  publicDir: 'public',
  server: {
    host: '127.0.0.1',
    fs: { allow: ['..'] },
  },
  preview: {
    host: '127.0.0.1',
  },
  worker: {
    format: 'es',
  },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    // The wasm module is large and loads in the worker only; Vite's size warning adds nothing.
    chunkSizeWarningLimit: 2000,
    // The trainer page, the face page and the showcase of the package's custom elements.
    rolldownOptions: {
      input: { index: 'index.html', face: 'face.html', embed: 'embed.html' },
    },
  },
});
