import { describe, expect, it } from "vitest";
import { call, createTenant } from "./helpers";

describe("bad input gets a clear 4xx in the envelope", () => {
  it("malformed JSON → 400 invalid_json", async () => {
    const { apiKey } = await createTenant();
    const res = await call("/v1/keys", {
      method: "POST",
      key: apiKey,
      headers: { "content-type": "application/json" },
      body: "{not json",
    });
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ type: "invalid_request_error", code: "invalid_json" });
  });

  it("wrong content type → 415", async () => {
    const { apiKey } = await createTenant();
    const res = await call("/v1/keys", {
      method: "POST",
      key: apiKey,
      headers: { "content-type": "text/plain" },
      body: "{}",
    });
    expect(res.status).toBe(415);
    expect(res.body.error.code).toBe("unsupported_media_type");
  });

  it("oversize body → 413, whether declared or streamed", async () => {
    const { apiKey } = await createTenant();
    const big = JSON.stringify({ apiKey: "x".repeat(1_100_000) });
    const declared = await call("/v1/credentials/openai", {
      method: "PUT",
      key: apiKey,
      json: JSON.parse(big),
    });
    expect(declared.status).toBe(413);
    expect(declared.body.error.code).toBe("request_too_large");

    const bytes = new TextEncoder().encode(big);
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let i = 0; i < bytes.length; i += 65536) controller.enqueue(bytes.slice(i, i + 65536));
        controller.close();
      },
    });
    const chunked = await call("/v1/credentials/openai", {
      method: "PUT",
      key: apiKey,
      headers: { "content-type": "application/json" },
      body: stream,
    });
    expect(chunked.status).toBe(413);
  });

  it("unknown method on a known path → 404 envelope, never a 500", async () => {
    const { apiKey } = await createTenant();
    const res = await call("/v1/keys", { method: "PATCH", key: apiKey });
    expect(res.status).toBe(404);
    expect(res.body.error.type).toBe("not_found_error");
  });

  it("bad query parameters → 400", async () => {
    const { apiKey } = await createTenant();
    const res = await call("/v1/audit?limit=0", { key: apiKey });
    expect(res.status).toBe(400);
    expect(res.body.error.param).toBe("limit");
  });
});
