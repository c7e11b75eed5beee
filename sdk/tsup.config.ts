import { defineConfig } from "tsup";

export default defineConfig({
  entry: ["src/index.ts"],
  format: ["esm"],
  // One file: common/sse.ts, imported relatively from outside the package, is bundled in.
  // zod and @cfworker/json-schema stay imports: zod is the user's own (a peer dependency).
  dts: true,
  platform: "neutral",
  target: "es2022",
  sourcemap: true,
  clean: true,
});
