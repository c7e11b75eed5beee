import type { Context } from "hono";
import type { z } from "zod";
import { errors } from "../../common/errors";
import { readTextWithin } from "./read-text";
import type { AppEnv } from "./types";

/**
 * Reads a JSON body under the size limit (declared or streamed), then validates it. Every failure is a 4xx in the envelope.
 */
export async function readJson<S extends z.ZodType>(c: Context<AppEnv>, schema: S): Promise<z.output<S>> {
  return (await readJsonWithRaw(c, schema)).value;
}

/** The validated body and the text it came from (forwarded as-is when nothing changes). */
export async function readJsonWithRaw<S extends z.ZodType>(
  c: Context<AppEnv>,
  schema: S,
): Promise<{ value: z.output<S>; raw: string }> {
  const type = c.req.header("content-type");
  if (!type || !/^application\/(?:[\w.+-]+\+)?json\b/i.test(type)) throw errors.unsupportedMediaType(type);

  const limit = c.get("config").MAX_REQUEST_BODY_BYTES;
  const text = await readTextWithin(c.req.raw, limit);
  if (text === null) throw errors.tooLarge(limit);
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
  const parsed = schema.safeParse(c.req.query());
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const param = issue?.path.join(".") || null;
  throw errors.badRequest("invalid_query", `${param}: ${issue?.message}`, param);
}
