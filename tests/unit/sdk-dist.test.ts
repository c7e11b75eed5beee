import { execFile } from "node:child_process";
import { cp, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FakeRelay } from "../mocks/fake-relay";

const exec = promisify(execFile);
const ROOT = join(import.meta.dirname, "../..");

/**
 * The package as a user installs it: the build's output and package.json in a node_modules of its
 * own, beside only its dependencies, imported by name from plain Node (no tsx, no vitest
 * transform). It is built into a temporary folder, so the sdk/dist that other tests may be
 * importing is never rewritten under them.
 */
let dir: string;
let relay: FakeRelay;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "relay-sdk-dist-"));
  const pkg = join(dir, "node_modules/@relay/sdk");
  await mkdir(join(dir, "node_modules/@cfworker"), { recursive: true });
  await exec(join(ROOT, "node_modules/.bin/tsup"), ["--out-dir", join(pkg, "dist"), "--silent"], {
    cwd: join(ROOT, "sdk"),
  });
  await cp(join(ROOT, "sdk/package.json"), join(pkg, "package.json"));
  await symlink(join(ROOT, "node_modules/zod"), join(dir, "node_modules/zod"));
  await symlink(
    join(ROOT, "node_modules/@cfworker/json-schema"),
    join(dir, "node_modules/@cfworker/json-schema"),
  );
  relay = await FakeRelay.start();
}, 60_000);

afterAll(async () => {
  await relay?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("the built package", () => {
  it("is self-contained ESM with its types", async () => {
    const js = await readFile(join(dir, "node_modules/@relay/sdk/dist/index.js"), "utf8");
    expect(js).toMatch(/SseParser = class/); // common/sse.ts is bundled in
    expect(js).not.toMatch(/from ["']\.\.?\//); // and nothing is imported by a relative path
    const types = await readFile(join(dir, "node_modules/@relay/sdk/dist/index.d.ts"), "utf8");
    expect(types).toMatch(/export \{[^}]*\bcreateAgent\b/);
  });

  it("runs a two-tool run in plain Node, configured from the environment", async () => {
    relay.script = async (r) => {
      r.token("checking");
      const outputs = await r.toolCalls([
        { id: "a", name: "weather", input: { city: "Paris" } },
        { id: "b", name: "lookup", input: { q: 5 } },
      ]);
      r.done(JSON.stringify(outputs), { input_tokens: 3, output_tokens: 4 });
    };
    const script = `
      import { createAgent, RelayError } from "@relay/sdk";
      import { z } from "zod";
      const agent = createAgent({
        model: "gpt-4o-mini",
        tools: {
          weather: { description: "w", inputSchema: z.object({ city: z.string() }), handler: ({ city }) => city + ": sunny" },
          lookup: {
            description: "l",
            inputSchema: { type: "object", properties: { q: { type: "string" } }, required: ["q"] },
            handler: () => "unreachable",
          },
        },
      });
      const run = agent.run("hi");
      const types = [];
      for await (const event of run) types.push(event.type);
      const result = await run.result();
      console.log(JSON.stringify({ types, result, isError: new RelayError({ code: "x", message: "y" }) instanceof Error }));
    `;
    const { stdout } = await exec(process.execPath, ["--input-type=module", "-e", script], {
      cwd: dir,
      env: { PATH: process.env.PATH, RELAY_URL: relay.url, RELAY_API_KEY: relay.apiKey },
      timeout: 20_000,
    });
    const out = JSON.parse(stdout);
    expect(out.types).toEqual(["token", "tool_call", "tool_call", "tool_result", "tool_result", "done"]);
    const outputs = JSON.parse(out.result.output);
    expect(outputs.a).toBe("Paris: sunny");
    expect(outputs.b.error).toMatch(/^invalid tool input: /);
    expect(out.result.usage).toEqual({ input_tokens: 3, output_tokens: 4 });
    expect(out.isError).toBe(true);
  });

  it("typechecks for a consumer under NodeNext resolution", async () => {
    await writeFile(
      join(dir, "consumer.ts"),
      `import { createAgent, type ModelId, RelayError, type RunEvent } from "@relay/sdk";
import { z } from "zod";

const model: ModelId = "claude-sonnet-4-6";
const agent = createAgent({
  model,
  tools: {
    double: { description: "d", inputSchema: z.object({ n: z.number() }), handler: ({ n }) => n * 2 },
    calculator: { builtin: "calculator" },
  },
});

export async function firstToken(): Promise<string | null> {
  try {
    for await (const event of agent.run("hi")) {
      const seen: RunEvent = event;
      if (seen.type === "token") return seen.text;
    }
  } catch (err) {
    if (err instanceof RelayError) return err.code;
  }
  return null;
}
      `,
    );
    await writeFile(join(dir, "package.json"), JSON.stringify({ type: "module" }));
    await writeFile(
      join(dir, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: {
          strict: true,
          noEmit: true,
          module: "nodenext",
          moduleResolution: "nodenext",
          target: "es2022",
          lib: ["es2022", "dom"],
          types: [],
          // The package's own .d.ts is checked too, not just trusted.
          skipLibCheck: false,
        },
        files: ["consumer.ts"],
      }),
    );
    await exec(process.execPath, [join(ROOT, "node_modules/typescript/bin/tsc"), "-p", "."], {
      cwd: dir,
      timeout: 60_000,
    }).catch((err) => {
      throw new Error(`tsc failed:\n${err.stdout}${err.stderr}`);
    });
  });
});
