import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const web = fileURLToPath(new URL('.', import.meta.url));

/** The dashboard: web/ built into dist/web, which `tideway serve` serves (src/server/static.ts). */
export default defineConfig({
  root: web,
  base: '/',
  logLevel: 'warn',
  build: {
    outDir: fileURLToPath(new URL('../dist/web', import.meta.url)),
    emptyOutDir: true,
    // Node 20 runs the server; any browser of the last few years runs the dashboard.
    target: 'es2022',
    sourcemap: false,
    reportCompressedSize: false,
  },
});
