import { fileURLToPath } from 'node:url';
import { defineConfig, type Plugin } from 'vite';
import { t } from './i18n/zh-CN.ts';

const here = (p: string): string => fileURLToPath(new URL(p, import.meta.url));

const escapeHtml = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** Static HTML speaks from the same catalog as the scripts: `{{key}}` is the catalog's text for key. */
function catalogText(): Plugin {
  return {
    name: 'classcast-catalog-text',
    transformIndexHtml(html) {
      return html.replace(/\{\{(\w+)\}\}/g, (m, key: string) => {
        const v = (t as Record<string, unknown>)[key];
        if (typeof v !== 'string') throw new Error(`web: {{${key}}} is not a text of web/i18n/zh-CN.ts`);
        return escapeHtml(v);
      });
    },
  };
}

/**
 * The pages' build: every HTML entry under web/ becomes a page shell; scripts, styles and images go to
 * web/dist/assets/ with content hashes in their names (served immutable); the HTML files are not hashed
 * (served no-cache). Nothing is loaded from outside the deployment.
 */
export default defineConfig({
  root: here('.'),
  base: '/',
  publicDir: false,
  logLevel: 'warn',
  plugins: [catalogText()],
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    outDir: here('./dist'),
    emptyOutDir: true,
    assetsDir: 'assets',
    // phones of 2019 and later (Android WebView 80+, iOS 13+): module scripts, no legacy bundle
    target: ['es2020', 'chrome80', 'safari13'],
    modulePreload: { polyfill: false },
    sourcemap: false,
    reportCompressedSize: false,
    // hls.js alone is ~370 KB before compression; it is loaded only by the lesson page
    chunkSizeWarningLimit: 600,
    rolldownOptions: {
      input: { index: here('./index.html'), 'not-found': here('./not-found.html'), console: here('./console.html') },
    },
  },
});
