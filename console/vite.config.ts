import { defineConfig } from "vite";

// The console is a small Preact app. It is served by the Worker: the HTML through the Worker (which
// adds the session it starts with), the hashed files under /console/assets/ by Workers static
// assets (wrangler.toml [assets], directory dist/site). scripts/build-console.ts runs this build.
export default defineConfig({
  root: import.meta.dirname,
  base: "/console/",
  publicDir: false,
  oxc: { jsx: { runtime: "automatic", importSource: "preact" } },
  build: {
    outDir: "../dist/site/console",
    emptyOutDir: true,
    target: "es2022",
    // Phones and old laptops: every byte of the first page counts, source maps are not shipped.
    sourcemap: false,
    modulePreload: { polyfill: false },
    reportCompressedSize: false,
  },
});
