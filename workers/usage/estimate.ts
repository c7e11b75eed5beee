// An estimate of the input tokens of a request, in any of the formats relay speaks, without a
// tokenizer: ⌈characters ÷ 3.5⌉ of every string the model reads (messages, system, tools and their
// schemas), plus 3 per message and 1,600 per image (about a megapixel image, by Anthropic's and
// OpenAI's published rules). Tokenizers differ by model; erring a little high is the useful side
// for a pre-flight check, which is what this is for (count_tokens off Anthropic, and reservations
// for token limits).

export const CHARS_PER_TOKEN = 3.5;
export const TOKENS_PER_MESSAGE = 3;
export const TOKENS_PER_IMAGE = 1600;

// Identifiers and payloads nobody reads as text.
const SKIP = new Set([
  "model",
  "models",
  "id",
  "tool_call_id",
  "tool_use_id",
  "call_id",
  "type",
  "role",
  "media_type",
  "data",
  "url",
  "image_url",
  "detail",
  "stream",
  "cache_control",
]);
const IMAGE_TYPES = new Set(["image", "image_url", "input_image"]);
const MESSAGE_LISTS = new Set(["messages", "input"]);

export function estimateInputTokens(body: unknown): number {
  let chars = 0;
  let extra = 0;
  const walk = (value: unknown, key: string | null): void => {
    if (typeof value === "string") {
      if (key === null || !SKIP.has(key)) chars += value.length;
      return;
    }
    if (Array.isArray(value)) {
      if (key !== null && MESSAGE_LISTS.has(key)) extra += TOKENS_PER_MESSAGE * value.length;
      for (const item of value) walk(item, null);
      return;
    }
    if (value && typeof value === "object") {
      const obj = value as Record<string, unknown>;
      if (typeof obj.type === "string" && IMAGE_TYPES.has(obj.type)) extra += TOKENS_PER_IMAGE;
      for (const [k, v] of Object.entries(obj)) {
        // Sampling settings, limits and flags are not read by the model.
        if (typeof v === "number" || typeof v === "boolean") continue;
        walk(v, k);
      }
    }
  };
  walk(body, null);
  return Math.ceil(chars / CHARS_PER_TOKEN) + extra;
}
