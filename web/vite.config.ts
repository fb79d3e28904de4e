import { defineConfig } from 'vitest/config';
import react from '@vitejs/plugin-react';

// The API server the dev server proxies to (`npm run dev`).
const api = process.env.TRIBUTARY_API ?? 'http://127.0.0.1:5055';

export default defineConfig({
  base: '/',
  plugins: [react()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    sourcemap: false,
    // The layout engine is loaded on demand; keep the warning meaningful for the rest.
    chunkSizeWarningLimit: 600,
  },
  server: {
    proxy: { '/api': api, '/healthz': api },
  },
  test: {
    environment: 'happy-dom',
    globals: true,
    include: ['src/**/*.test.{ts,tsx}'],
    setupFiles: ['src/test/setup.ts'],
  },
});
