import { createServer as createHttpServer, type Server } from "node:http";
import { createServer as createTcpServer, type Server as TcpServer } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../helpers/stack";
import { chat, eventually, type FaultStack, leakedSecrets, startFaultStack } from "./stack";

// Upstreams that misbehave: cut mid-stream, silent, stalled, speaking garbage, or not there at all.
// Each request ends cleanly and in bounded time (an error response, or an error event closing the
// stream), the upstream connection is let go, and its usage event says what happened.

const FIRST_BYTE_S = 2;
const REQUEST_S = 6;

describe("upstreams that fail", () => {
  let stack: FaultStack;
  let junk: TcpServer;
  let html: Server;
  let closedPort = 0;

  beforeAll(async () => {
    stack = await startFaultStack({
      worker: {
        RELAY_FIRST_BYTE_TIMEOUT_SECONDS: String(FIRST_BYTE_S),
        REQUEST_TIMEOUT_SECONDS: String(REQUEST_S),
        RELAY_MAX_RETRIES: "1",
      },
    });
    // Not HTTP at all: a line of bytes, then the connection closes.
    junk = createTcpServer((socket) => socket.end("SSH-2.0-OpenSSH_9.6\r\n\u0000\u00ff garbage\r\n"));
    // HTTP, but not what the API promises: a page where JSON should be.
    html = createHttpServer((_req, res) => {
      res.writeHead(200, { "content-type": "text/html" });
      res.end("<html><body>Bad gateway page from a proxy</body></html>");
    });
    await new Promise<void>((r) => junk.listen(0, "127.0.0.1", () => r()));
    await new Promise<void>((r) => html.listen(0, "127.0.0.1", () => r()));
    closedPort = await freePort();
    const port = (s: TcpServer | Server) => (s.address() as { port: number }).port;
    for (const [name, baseUrl] of [
      ["junk", `http://127.0.0.1:${port(junk)}/v1`],
      ["html", `http://127.0.0.1:${port(html)}/v1`],
      ["gone", `http://127.0.0.1:${closedPort}/v1`],
    ]) {
      const put = await stack.call(`/v1/credentials/${name}`, {
        method: "PUT",
        json: { provider: "openai_compatible", apiKey: "sk-test-openai", baseUrl },
      });
      expect(put.status, put.text).toBe(201);
    }
  });
  afterAll(async () => {
    await stack?.stop();
    junk?.close();
    html?.close();
  });

  /** A request with a deadline of its own: relay must end it first. */
  const timed = async (model: string, stream: boolean) => {
    const started = Date.now();
    const answer = await chat(stack, model, stream);
    return { ...answer, ms: Date.now() - started };
  };
  const lastEvent = (text: string) => {
    const frames = text.trim().split("\n\n");
    return JSON.parse((frames.at(-1) ?? "").replace(/^data: /, ""));
  };
  const usageOf = async (model: string) => {
    let rows: { status: number; error_code: string | null; stream: boolean }[] = [];
    await eventually(async () => {
      await stack.call("/v1/usage");
      rows = await stack.query(
        "select status, error_code, stream from usage_events where requested_model = $1",
        [model],
      );
      return rows.length > 0;
    }, 15_000);
    return rows;
  };
  const unique = (tag: string) => `groq:fault-${crypto.randomUUID().slice(0, 8)}~${tag}`;

  it("cut mid-stream: an error event closes the stream, and usage records the failure", async () => {
    const model = unique("drop");
    const res = await timed(model, true);
    expect(res.status).toBe(200);
    expect(lastEvent(res.text).error).toMatchObject({ type: "api_error" });
    expect(await usageOf(model)).toEqual([
      expect.objectContaining({ stream: true, error_code: expect.stringMatching(/.+/) }),
    ]);
  });

  it("never answers: 504 after the first-byte timeout, the upstream request let go", async () => {
    for (const stream of [false, true]) {
      const model = unique("slow600000");
      const res = await timed(model, stream);
      expect(res.status).toBe(504);
      expect(res.json().error).toMatchObject({ type: "timeout_error", code: "upstream_timeout" });
      expect(res.ms).toBeLessThan((FIRST_BYTE_S + 3) * 1000);
      expect(await usageOf(model)).toEqual([
        expect.objectContaining({ status: 504, error_code: "upstream_timeout" }),
      ]);
      const seen = await stack.upstreamRequests(model.slice("groq:".length));
      expect(
        await eventually(
          async () => (await stack.upstreamRequests(model.slice(5))).every((r) => r.closedEarly),
          5000,
        ),
      ).toBe(true);
      expect(seen.length).toBeGreaterThan(0);
    }
  });

  it("stalls mid-stream: the stream ends with a timeout error event at REQUEST_TIMEOUT_SECONDS", async () => {
    const model = unique("stall600000");
    const res = await timed(model, true);
    expect(res.status).toBe(200);
    expect(lastEvent(res.text).error).toMatchObject({ type: "timeout_error" });
    expect(res.ms).toBeLessThan((REQUEST_S + 3) * 1000);
    expect(await usageOf(model)).toEqual([
      expect.objectContaining({ error_code: expect.stringMatching(/timeout/) }),
    ]);
    expect(
      await eventually(
        async () => (await stack.upstreamRequests(model.slice(5))).every((r) => r.closedEarly),
        5000,
      ),
    ).toBe(true);
  });

  it("garbage in a stream is skipped; garbage for a body is a 502 in the envelope", async () => {
    const model = unique("garbage");
    const streamed = await timed(model, true);
    expect(streamed.status).toBe(200);
    expect(streamed.text.trimEnd().endsWith("data: [DONE]")).toBe(true);

    for (const name of ["junk", "html"]) {
      for (const stream of [false, true]) {
        const m = `${name}:m-${crypto.randomUUID().slice(0, 8)}`;
        const res = await timed(m, stream);
        expect(res.status, `${name} stream=${stream}: ${res.text}`).toBe(502);
        expect(res.json().error.type).toBe("api_error");
        expect(res.ms).toBeLessThan(5000);
        expect((await usageOf(m))[0]).toMatchObject({ status: 502 });
      }
    }
  });

  it("not there at all: 502 upstream_unreachable at once", async () => {
    const m = `gone:m-${crypto.randomUUID().slice(0, 8)}`;
    const res = await timed(m, false);
    expect(res.status).toBe(502);
    expect(res.json().error.code).toBe("upstream_unreachable");
    expect(res.ms).toBeLessThan(3000);
    expect((await usageOf(m))[0]).toMatchObject({ status: 502, error_code: "upstream_unreachable" });
  });

  it("leaked no secret into any log line, response body or header", () => {
    expect(leakedSecrets(stack)).toEqual([]);
  });
});
