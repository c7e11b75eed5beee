import { exports } from "cloudflare:workers";
import Anthropic from "@anthropic-ai/sdk";
import OpenAI from "openai";
import { describe, expect, it } from "vitest";
import { gatewayTenant, unique } from "./gateway-helpers";
import { BASE, call } from "./helpers";

// The official clients against a key under a policy: they read relay's rate-limit headers, raise
// their typed 429 errors and wait as long as retry-after says before retrying.
const self = (exports as unknown as { default: Fetcher }).default;

/** The Worker in-process, remembering every status it answered. */
function recordingFetch(statuses: number[]): typeof fetch {
  return (async (input: RequestInfo | URL, init?: RequestInit) => {
    const res = await self.fetch(new Request(input, init));
    statuses.push(res.status);
    return res;
  }) as typeof fetch;
}

async function limitedKey(policy: Record<string, unknown>): Promise<string> {
  const tenant = await gatewayTenant();
  const res = await call("/v1/keys", { method: "POST", key: tenant.apiKey, json: { policy } });
  expect(res.status).toBe(201);
  return res.body.apiKey;
}

describe("the official SDKs and relay's limits", () => {
  it("OpenAI: the rate-limit headers reach the client, and 429 is a typed RateLimitError", async () => {
    const apiKey = await limitedKey({ rpm: 2, tpm: 50_000 });
    const client = new OpenAI({ apiKey, baseURL: `${BASE}/v1`, fetch: recordingFetch([]), maxRetries: 0 });
    const model = unique("groq:llama-3.1-8b");
    const messages = [{ role: "user" as const, content: "ping" }];

    const { data, response } = await client.chat.completions.create({ model, messages }).withResponse();
    expect(data.choices[0]?.message.content).toBe("Hello! You said: ping");
    expect(response.headers.get("x-ratelimit-limit-requests")).toBe("2");
    expect(response.headers.get("x-ratelimit-remaining-requests")).toBe("1");
    expect(response.headers.get("x-ratelimit-limit-tokens")).toBe("50000");
    expect(Number(response.headers.get("x-ratelimit-remaining-tokens"))).toBeLessThan(50_000);

    await client.chat.completions.create({ model, messages });
    const err = await client.chat.completions.create({ model, messages }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.RateLimitError);
    const rateLimited = err as InstanceType<typeof OpenAI.RateLimitError>;
    expect(rateLimited.status).toBe(429);
    expect(rateLimited.code).toBe("rate_limit_exceeded");
    expect(Number(rateLimited.headers?.get("retry-after"))).toBeGreaterThan(50);
    expect(rateLimited.headers?.get("x-ratelimit-remaining-requests")).toBe("0");
  });

  it("OpenAI: retries a concurrency refusal after retry-after and then succeeds", async () => {
    const apiKey = await limitedKey({ maxConcurrent: 1 });
    const statuses: number[] = [];
    const client = new OpenAI({
      apiKey,
      baseURL: `${BASE}/v1`,
      fetch: recordingFetch(statuses),
      maxRetries: 4,
    });
    const messages = [{ role: "user" as const, content: "ping" }];
    // Holds the only slot for about 1.5 s.
    const holder = client.chat.completions.create({
      model: unique("groq:llama-3.1-8b", "slow1500"),
      messages,
    });
    await new Promise((r) => setTimeout(r, 300));
    const started = Date.now();
    const answer = await client.chat.completions.create({ model: unique("groq:llama-3.1-8b"), messages });
    const waited = Date.now() - started;
    expect(answer.choices[0]?.message.content).toBe("Hello! You said: ping");
    expect((await holder).choices[0]?.message.content).toBe("Hello! You said: ping");
    expect(statuses.filter((s) => s === 429).length).toBeGreaterThanOrEqual(1);
    // retry-after-ms is 1000: the SDK waited that long, not its own sub-second backoff.
    expect(waited).toBeGreaterThanOrEqual(1000);
  });

  it("Anthropic: the anthropic-ratelimit headers reach the client, and 429 is a typed RateLimitError", async () => {
    const apiKey = await limitedKey({ rpm: 1 });
    const client = new Anthropic({ apiKey, baseURL: BASE, fetch: recordingFetch([]), maxRetries: 0 });
    const params = {
      model: unique("claude-sonnet-4-5"),
      max_tokens: 32,
      messages: [{ role: "user" as const, content: "ping" }],
    };
    const { response } = await client.messages.create(params).withResponse();
    expect(response.headers.get("anthropic-ratelimit-requests-limit")).toBe("1");
    expect(response.headers.get("anthropic-ratelimit-requests-remaining")).toBe("0");
    const err = await client.messages.create(params).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Anthropic.RateLimitError);
    expect((err as InstanceType<typeof Anthropic.RateLimitError>).headers?.get("retry-after")).toBeTruthy();
  });
});
