import type { Context } from "hono";
import type { z } from "zod";
import { errors } from "../../common/errors";
import type { AppEnv } from "./types";

/**
 * Reads a JSON body under the size limit without trusting Content-Length alone (a chunked body
 * has none), then validates it. Every failure is a 4xx in the envelope.
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
  const declared = Number(c.req.header("content-length"));
  if (Number.isFinite(declared) && declared > limit) throw errors.tooLarge(limit);

  // A declared length within the limit lets the runtime read natively; otherwise count as we go.
  const text =
    Number.isFinite(declared) && c.req.header("content-length")
      ? await c.req.raw.text()
      : await readLimited(c.req.raw.body, limit);
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

async function readLimited(body: ReadableStream<Uint8Array> | null, limit: number): Promise<string> {
  if (!body) return "";
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let size = 0;
  let text = "";
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel();
      throw errors.tooLarge(limit);
    }
    text += decoder.decode(value, { stream: true });
  }
  return text + decoder.decode();
}
