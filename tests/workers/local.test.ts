import { describe, expect, it } from "vitest";
import { chunks, gatewayTenant } from "./gateway-helpers";
import { call, callWith } from "./helpers";

// The edge path to local models: Worker → sidecar (internal JWT) → fake llama-server.
const hello = [{ role: "user", content: "hi" }];

describe("local models through the Worker", () => {
  it("streams local:<model> from the sidecar, cold start included, and records usage", async () => {
    const { apiKey } = await gatewayTenant();
    const res = await call("/v1/chat/completions", {
      method: "POST",
      key: apiKey,
      json: { model: "local:tiny", messages: hello, stream: true, stream_options: { include_usage: true } },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("x-relay-provider")).toBe("local");
    expect(res.headers.get("x-relay-model")).toBe("tiny");
    const list = chunks(res.text);
    expect(list.map((c) => c.choices[0]?.delta?.content ?? "").join("")).toMatch(/^pong from \d+ $/);
    expect(list.at(-1)).toMatchObject({ usage: { total_tokens: 8 } });

    let usage: any;
    for (let i = 0; i < 50; i++) {
      usage = (await call("/v1/usage?group_by=provider", { key: apiKey })).body;
      if (usage.totals.requests >= 1) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(usage.data).toEqual([
      expect.objectContaining({ provider: "local", requests: 1, input_tokens: 5, output_tokens: 3 }),
    ]);
  });

  it("routes a bare name of the sidecar's model map, and lists local models", async () => {
    const { apiKey } = await gatewayTenant();
    const res = await call("/v1/chat/completions", {
      method: "POST",
      key: apiKey,
      json: { model: "tiny", messages: hello },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("x-relay-provider")).toBe("local");
    expect(res.body.choices[0].message.content).toMatch(/^pong from \d+$/);
    const models = await call("/v1/models", { key: apiKey });
    expect(models.body.data).toContainEqual(
      expect.objectContaining({ id: "local:tiny", owned_by: "local", context_length: 2048 }),
    );
  });

  it("passes the sidecar's errors through, and answers 502 when the sidecar is down", async () => {
    const { apiKey } = await gatewayTenant();
    const unknown = await call("/v1/chat/completions", {
      method: "POST",
      key: apiKey,
      json: { model: "local:nope", messages: hello },
    });
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.code).toBe("model_unknown");

    const started = Date.now();
    const down = await callWith({ SIDECAR_URL: "http://127.0.0.1:9" }, "/v1/chat/completions", {
      method: "POST",
      key: apiKey,
      json: { model: "local:tiny", messages: hello },
    });
    expect(down.status).toBe(502);
    expect(down.body.error.code).toBe("upstream_unreachable");
    expect(Date.now() - started).toBeLessThan(10_000);
  });
});
