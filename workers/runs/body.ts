import { z } from "zod";
import { errors } from "../../common/errors";
import { modelName } from "../http/body";
import { BUILTIN_TOOLS } from "./builtins";

// POST /v1/runs, validated at the boundary. Tool schemas are checked enough to be sure every
// provider will take them (an object schema, plain names); the model's inputs are validated by the
// SDK against them, in the caller's process.

const TOOL_NAME = /^[A-Za-z0-9_-]{1,64}$/;
const UUID = z.uuid();

const functionTool = z.object({
  kind: z.literal("function"),
  name: z.string(),
  description: z.string().max(4096).default(""),
  inputSchema: z.record(z.string(), z.unknown()),
});
const builtinTool = z.object({ kind: z.literal("builtin"), name: z.string() });
const tool = z.discriminatedUnion("kind", [functionTool, builtinTool]);

const message = z.object({
  role: z.enum(["user", "assistant", "system"]),
  content: z.string(),
});

export const runBody = z
  .object({
    model: modelName.min(1).optional(),
    input: z.union([z.string().min(1), z.array(message).min(1)]),
    system: z.string().optional(),
    tools: z.array(tool).max(128).optional(),
    maxIterations: z.number().int().min(1).optional(),
    parentRunId: UUID.optional(),
    workflowId: UUID.optional(),
    metadata: z.record(z.string().max(64), z.string().max(512)).optional(),
    temperature: z.number().min(0).max(2).optional(),
    maxTokens: z.number().int().positive().optional(),
    // Guardrails the key may opt into, on every model call of the run (as a body's `guardrails`).
    guardrails: z.array(z.string().min(1).max(64)).max(64).optional(),
  })
  .strict();

export type RunBody = z.output<typeof runBody>;
export type RunTool = z.output<typeof tool>;
export type FunctionTool = z.output<typeof functionTool>;

/** The tools' names and schemas are usable by every provider, or the run is refused before it starts. */
export function checkTools(tools: RunTool[]): void {
  const seen = new Set<string>();
  tools.forEach((t, i) => {
    const param = `tools[${i}]`;
    if (!TOOL_NAME.test(t.name)) {
      throw errors.badRequest(
        "invalid_tool_schema",
        `${param}.name must be 1-64 letters, digits, '_' or '-'`,
        `${param}.name`,
      );
    }
    if (seen.has(t.name)) {
      throw errors.badRequest("invalid_tool_schema", `Two tools are named '${t.name}'`, `${param}.name`);
    }
    seen.add(t.name);
    if (t.kind === "builtin") {
      if (!BUILTIN_TOOLS[t.name]) {
        throw errors.badRequest(
          "invalid_tool_schema",
          `No builtin tool '${t.name}' (builtins: ${Object.keys(BUILTIN_TOOLS).join(", ")})`,
          `${param}.name`,
        );
      }
      return;
    }
    const schema = t.inputSchema;
    if (schema.type !== "object") {
      throw errors.badRequest(
        "invalid_tool_schema",
        `${param}.inputSchema must be a JSON Schema of type "object"`,
        `${param}.inputSchema`,
      );
    }
    if (
      schema.properties !== undefined &&
      (typeof schema.properties !== "object" || schema.properties === null)
    ) {
      throw errors.badRequest(
        "invalid_tool_schema",
        `${param}.inputSchema.properties must be an object`,
        `${param}.inputSchema.properties`,
      );
    }
    if (schema.required !== undefined && !Array.isArray(schema.required)) {
      throw errors.badRequest(
        "invalid_tool_schema",
        `${param}.inputSchema.required must be an array of property names`,
        `${param}.inputSchema.required`,
      );
    }
  });
}
