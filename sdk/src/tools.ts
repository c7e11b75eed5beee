// Tool definitions: what the user writes, what goes on the wire, and how an input is checked.
import { Validator } from "@cfworker/json-schema";
import { type core, prettifyError, toJSONSchema } from "zod";
import { isRecord } from "./errors";

/** A JSON Schema object, sent as it is. */
export type JsonSchema = { [keyword: string]: unknown };

/** What a handler gets besides its input. `signal` aborts when the run ends early or is aborted. */
export interface ToolContext {
  runId: string;
  toolUseId: string;
  signal: AbortSignal;
}

/**
 * A tool that runs in this process. With a zod 4 schema the handler's input is the schema's
 * parsed output; with a JSON Schema it is the validated input, typed by the handler's annotation.
 * The handler's return value (any JSON) is the result the model reads.
 */
export interface FunctionTool<Input = unknown> {
  description: string;
  inputSchema: core.$ZodType<Input> | JsonSchema;
  // Method syntax, whose parameters TypeScript checks both ways: with a JSON Schema, a handler may
  // annotate its input (`(input: { q: string }, ctx) => …`) where a function type would insist on unknown.
  handler(input: Input, context: ToolContext): unknown;
}

export type BuiltinToolName = "calculator";

/** A tool relay runs itself; its `tool_call` and `tool_result` events pass through untouched. */
export interface BuiltinTool {
  builtin: BuiltinToolName;
}

export type ToolDefinition<Input = unknown> = FunctionTool<Input> | BuiltinTool;

export type WireTool =
  | { kind: "function"; name: string; description: string; inputSchema: JsonSchema }
  | { kind: "builtin"; name: BuiltinToolName };

const BUILTINS: readonly string[] = ["calculator"] satisfies BuiltinToolName[];

export type CheckedInput = { ok: true; value: unknown } | { ok: false; message: string };

export interface LocalTool {
  name: string;
  check(input: unknown): Promise<CheckedInput>;
  handler: (input: unknown, context: ToolContext) => unknown;
}

export interface ToolSet {
  /** Sent with every run; built once. */
  wire: WireTool[];
  /** Function tools by name; a builtin's calls are relay's to answer. */
  local: Map<string, LocalTool>;
  builtins: Set<string>;
}

/** Checks and compiles the tools once, when the agent is created, so a bad definition fails early. */
export function compileTools(tools: Record<string, ToolDefinition<never>> | undefined): ToolSet {
  const set: ToolSet = { wire: [], local: new Map(), builtins: new Set() };
  for (const [name, definition] of Object.entries(tools ?? {})) {
    if (!isRecord(definition)) throw new TypeError(`Tool "${name}" must be an object`);
    if ("builtin" in definition) {
      const builtin = definition.builtin;
      if (typeof builtin !== "string" || !BUILTINS.includes(builtin)) {
        throw new TypeError(
          `Tool "${name}": unknown builtin ${JSON.stringify(builtin)}; relay has ${BUILTINS.join(", ")}`,
        );
      }
      // The model sees a builtin under its own name, whatever the key it was given here.
      set.wire.push({ kind: "builtin", name: builtin as BuiltinToolName });
      set.builtins.add(builtin);
      continue;
    }
    const { description, inputSchema, handler } = definition as Partial<FunctionTool>;
    if (typeof description !== "string") throw new TypeError(`Tool "${name}" needs a description`);
    if (typeof handler !== "function") throw new TypeError(`Tool "${name}" needs a handler function`);
    const { jsonSchema, check } = compileSchema(name, inputSchema);
    set.wire.push({ kind: "function", name, description, inputSchema: jsonSchema });
    set.local.set(name, { name, check, handler: handler as LocalTool["handler"] });
  }
  return set;
}

function compileSchema(
  name: string,
  schema: unknown,
): { jsonSchema: JsonSchema; check: (input: unknown) => Promise<CheckedInput> } {
  if (!isRecord(schema))
    throw new TypeError(`Tool "${name}": inputSchema must be a zod schema or a JSON Schema object`);
  if ("_zod" in schema) return compileZod(name, schema as unknown as core.$ZodType);
  if ("~standard" in schema) {
    const vendor = isRecord(schema["~standard"]) ? schema["~standard"].vendor : undefined;
    throw new TypeError(
      vendor === "zod"
        ? `Tool "${name}": this is a zod 3 schema; use zod 4 (import { z } from "zod" with zod@4)`
        : `Tool "${name}": inputSchema must be a zod 4 schema or a JSON Schema object, not a ${String(vendor)} schema`,
    );
  }
  return compileJsonSchema(schema);
}

function compileZod(name: string, schema: core.$ZodType) {
  let jsonSchema: JsonSchema;
  try {
    // The model writes the schema's input (before transforms and defaults), so that is what it is shown.
    jsonSchema = toJSONSchema(schema, { io: "input" }) as JsonSchema;
  } catch (err) {
    throw new TypeError(
      `Tool "${name}": inputSchema has no JSON Schema form (${err instanceof Error ? err.message : String(err)})`,
    );
  }
  const check = async (input: unknown): Promise<CheckedInput> => {
    const result = await schema["~standard"].validate(input);
    return result.issues ? { ok: false, message: prettifyError(result) } : { ok: true, value: result.value };
  };
  return { jsonSchema, check };
}

// @cfworker/json-schema interprets the schema instead of compiling it to code, so it needs no
// eval or `new Function`: those are forbidden in Workers and under a strict-CSP page, where
// compiling validators (ajv) cannot run. It covers drafts 4, 7, 2019-09 and 2020-12.
function compileJsonSchema(schema: JsonSchema) {
  const validator = new Validator(schema, draftOf(schema), false);
  const check = async (input: unknown): Promise<CheckedInput> => {
    const result = validator.validate(input);
    if (result.valid) return { ok: true, value: input };
    // Every error, the summaries ("Property "n" does not match schema") with the details below them:
    // the model reads them all to fix its next call.
    const messages = result.errors.map((unit) => `${unit.instanceLocation}: ${unit.error}`);
    return { ok: false, message: messages.join(" ") };
  };
  return { jsonSchema: schema, check };
}

function draftOf(schema: JsonSchema): "4" | "7" | "2019-09" | "2020-12" {
  const uri = typeof schema.$schema === "string" ? schema.$schema : "";
  if (uri.includes("draft-04")) return "4";
  if (uri.includes("draft-06") || uri.includes("draft-07")) return "7";
  if (uri.includes("2019-09")) return "2019-09";
  return "2020-12";
}
