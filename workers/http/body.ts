import type { Context } from "hono";
import { z } from "zod";
import { errors } from "../../common/errors";
import { readTextWithin } from "./read-text";
import type { AppEnv } from "./types";

/**
 * A model name as a client gives it: relay routes by it and echoes it in headers (x-relay-model)
 * and usage, so control characters (a NUL, a CR/LF) are refused here rather than break those.
 */
export const modelName = z
  .string()
  .max(256)
  .refine((s) => !/\p{Cc}/u.test(s), "must not contain control characters");

/**
 * JSON nested deeper than this is refused before it is parsed: no request of any API relay serves
 * needs more, and walking a 30,000-level body (translation, guardrails, logs) is a way to crash.
 */
export const MAX_JSON_DEPTH = 64;

/** Whether arrays and objects in a JSON text nest deeper than `limit`, counted in one pass without parsing. */
export function nestsDeeperThan(text: string, limit: number): boolean {
  // A text shorter than the limit cannot open that many brackets.
  if (text.length <= limit) return false;
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    if (inString) {
      if (ch === 92) i++;
      else if (ch === 34) inString = false;
    } else if (ch === 34) inString = true;
    else if (ch === 91 || ch === 123) {
      if (++depth > limit) return true;
    } else if (ch === 93 || ch === 125) depth--;
  }
  return false;
}

// In JSON text a NUL can only be the escape \u0000 (not itself preceded by an escaping backslash).
const NUL_ESCAPE = /(?:^|[^\\])(?:\\\\)*\\u0000/;

/**
 * Reads a JSON body under the size limit (declared or streamed), then validates it. Every failure is a 4xx in the envelope.
 * Strings with NUL characters are refused: what these routes take is stored, and Postgres text
 * and jsonb cannot hold U+0000.
 */
export async function readJson<S extends z.ZodType>(c: Context<AppEnv>, schema: S): Promise<z.output<S>> {
  return (await readJsonWithRaw(c, schema, { allowNul: false })).value;
}

/**
 * The validated body and the text it came from (forwarded as-is when nothing changes). The gateway
 * allows NUL characters: prompts go to the upstream, which judges them, and are not stored.
 */
export async function readJsonWithRaw<S extends z.ZodType>(
  c: Context<AppEnv>,
  schema: S,
  opts: { allowNul: boolean },
): Promise<{ value: z.output<S>; raw: string }> {
  const type = c.req.header("content-type");
  if (!type || !/^application\/(?:[\w.+-]+\+)?json\b/i.test(type)) throw errors.unsupportedMediaType(type);

  const limit = c.get("config").MAX_REQUEST_BODY_BYTES;
  const text = await readTextWithin(c.req.raw, limit);
  if (text === null) throw errors.tooLarge(limit);
  if (nestsDeeperThan(text, MAX_JSON_DEPTH)) {
    throw errors.badRequest(
      "json_too_deep",
      `Request body nests arrays and objects deeper than ${MAX_JSON_DEPTH} levels`,
    );
  }
  if (!opts.allowNul && NUL_ESCAPE.test(text)) {
    throw errors.badRequest("invalid_characters", "Request body has a NUL character (\\u0000) in a string");
  }
  let value: unknown;
  try {
    value = text === "" ? undefined : JSON.parse(text);
  } catch {
    throw errors.badRequest("invalid_json", "Request body is not valid JSON");
  }
  const result = schema.safeParse(value);
  if (!result.success) {
    const issue = result.error.issues[0];
    const param = issue && issue.path.length > 0 ? issue.path.join(".") : null;
    const message = issue ? (param ? `${param}: ${issue.message}` : issue.message) : "Invalid request body";
    throw errors.badRequest("invalid_request", message, param);
  }
  return { value: result.data, raw: text };
}

/** The query string, validated; a bad value is a 400 naming the parameter. */
export function readQuery<S extends z.ZodType>(c: Context<AppEnv>, schema: S): z.output<S> {
  const values = c.req.query();
  // Query values end up as query parameters, and Postgres text cannot hold a NUL.
  for (const [name, value] of Object.entries(values)) {
    if (value.includes("\u0000")) {
      throw errors.badRequest("invalid_query", `${name}: must not contain a NUL character (%00)`, name);
    }
  }
  const parsed = schema.safeParse(values);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const param = issue?.path.join(".") || null;
  throw errors.badRequest("invalid_query", `${param}: ${issue?.message}`, param);
}
