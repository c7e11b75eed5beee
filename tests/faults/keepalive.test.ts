import { createServer, type Server, type Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type FaultStack, leakedSecrets, startFaultStack } from "./stack";

// Issue 16, item 5: a valid request to a healthy upstream answered `502 upstream_unreachable:
// Network connection lost`. The cause: keep-alive connections the upstream had closed while they
// sat in the Worker's pool. A request sent on one fails before it reaches the upstream, and after a
// burst the pool holds several such connections, more than RELAY_MAX_RETRIES covered (each retry
// also waited a backoff first). The upstream here makes that deterministic: it answers the first
// request on each connection and drops the connection when a second one arrives on it, as an
// upstream does whose idle timeout fired while the request was on its way.

const EMBEDDING = JSON.stringify({
  object: "list",
  data: [{ object: "embedding", index: 0, embedding: [0.1, 0.2] }],
  model: "m",
  usage: { prompt_tokens: 1, total_tokens: 1 },
});

function oneRequestPerConnection(): { server: Server; received: () => number } {
  let received = 0;
  const server = createServer((socket: Socket) => {
    let buf = Buffer.alloc(0);
    let served = 0;
    socket.on("error", () => {});
    socket.on("data", (d) => {
      buf = Buffer.concat([buf, d]);
      const end = buf.indexOf("\r\n\r\n");
      if (end < 0) return;
      const length = Number(/content-length: *(\d+)/i.exec(buf.subarray(0, end).toString())?.[1] ?? 0);
      if (buf.length < end + 4 + length) return;
      buf = buf.subarray(end + 4 + length);
      if (served++ > 0) {
        socket.destroy();
        return;
      }
      received++;
      socket.write(
        `HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: ${EMBEDDING.length}\r\nconnection: keep-alive\r\n\r\n${EMBEDDING}`,
      );
    });
  });
  return { server, received: () => received };
}

describe("pooled keep-alive connections the upstream closed", () => {
  let stack: FaultStack;
  const upstream = oneRequestPerConnection();

  beforeAll(async () => {
    // Retries off: a request that never reached the upstream is not a retry, and must still succeed.
    stack = await startFaultStack({ worker: { RELAY_MAX_RETRIES: "0" } });
    await new Promise<void>((r) => upstream.server.listen(0, "127.0.0.1", () => r()));
    const port = (upstream.server.address() as { port: number }).port;
    const put = await stack.call("/v1/credentials/pooled", {
      method: "PUT",
      json: {
        provider: "openai_compatible",
        apiKey: "sk-test-openai",
        baseUrl: `http://127.0.0.1:${port}/v1`,
      },
    });
    expect(put.status, put.text).toBe(201);
  });
  afterAll(async () => {
    await stack?.stop();
    upstream.server.close();
  });

  const embed = () =>
    stack.call("/v1/embeddings", { method: "POST", json: { model: "pooled:m", input: "hello" } });

  it("sends a valid request again at once, and it never fails", async () => {
    for (let round = 0; round < 5; round++) {
      // A burst leaves several connections in the pool, each of which the upstream will drop.
      const burst = await Promise.all([1, 2, 3, 4, 5].map(() => embed()));
      for (const answer of burst) expect(answer.status, answer.text).toBe(200);
      for (let i = 0; i < 3; i++) {
        const answer = await embed();
        expect(answer.status, answer.text).toBe(200);
        expect(answer.json().data[0].embedding).toEqual([0.1, 0.2]);
      }
    }
    // Each request reached the upstream once: resending never doubled one.
    expect(upstream.received()).toBe(5 * 8);
  });

  it("leaked no secret into any log line, response body or header", () => {
    expect(leakedSecrets(stack)).toEqual([]);
  });
});
