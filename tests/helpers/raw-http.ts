import { connect } from "node:net";

// HTTP/1.1 over a bare socket, for requests no well-behaved client would send: header bytes that
// fetch refuses, unnormalised paths, lying content lengths, bodies that trickle in. One request per
// connection (`connection: close`), so the answer is everything until the socket closes.

export interface RawRequest {
  method: string;
  /** Sent as-is on the request line: no normalising, no encoding. */
  target: string;
  /** Name/value pairs written as `name: value` lines, bytes and all. */
  headers: [string, string][];
  body?: Buffer | null;
  /** The body in this many pieces with `pauseMs` between them (a slow client). */
  pieces?: number;
  pauseMs?: number;
  /** Whether to add a content-length matching the body (default true; false for chunked or lies). */
  contentLength?: boolean;
}

export interface RawAnswer {
  status: number;
  /** Header lines as received, lower-cased names. */
  headers: [string, string][];
  headerText: string;
  body: Buffer;
}

export function rawRequest(port: number, req: RawRequest, timeoutMs = 30_000): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1");
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no answer to ${req.method} ${req.target.slice(0, 80)} within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.on("data", (d) => chunks.push(d));
    socket.on("error", (err) => {
      // A server may answer and close before the whole body was written (413): keep the answer.
      if (chunks.length === 0) {
        clearTimeout(timer);
        reject(err);
      }
    });
    socket.on("close", () => {
      clearTimeout(timer);
      try {
        resolve(parseAnswer(Buffer.concat(chunks)));
      } catch (err) {
        reject(err);
      }
    });
    socket.on("connect", async () => {
      const body = req.body ?? null;
      const lines = [`${req.method} ${req.target} HTTP/1.1`, "host: 127.0.0.1", "connection: close"];
      for (const [k, v] of req.headers) lines.push(`${k}: ${v}`);
      if (body && req.contentLength !== false) lines.push(`content-length: ${body.length}`);
      socket.write(Buffer.from(`${lines.join("\r\n")}\r\n\r\n`, "latin1"));
      if (!body) return;
      const pieces = Math.max(1, req.pieces ?? 1);
      const size = Math.ceil(body.length / pieces);
      for (let i = 0; i < body.length; i += size) {
        if (socket.destroyed) return;
        socket.write(body.subarray(i, i + size));
        if (req.pauseMs && i + size < body.length) await new Promise((r) => setTimeout(r, req.pauseMs));
      }
    });
  });
}

function parseAnswer(raw: Buffer): RawAnswer {
  const end = raw.indexOf("\r\n\r\n");
  if (end < 0)
    throw new Error(`not an HTTP answer: ${JSON.stringify(raw.subarray(0, 200).toString("latin1"))}`);
  const headerText = raw.subarray(0, end).toString("latin1");
  const [statusLine = "", ...lines] = headerText.split("\r\n");
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine)?.[1] ?? Number.NaN);
  const headers = lines.map((l): [string, string] => {
    const i = l.indexOf(":");
    return [l.slice(0, i).trim().toLowerCase(), l.slice(i + 1).trim()];
  });
  let body = raw.subarray(end + 4);
  if (headers.some(([k, v]) => k === "transfer-encoding" && /chunked/i.test(v))) body = unchunk(body);
  return { status, headers, headerText, body };
}

function unchunk(data: Buffer): Buffer {
  const out: Buffer[] = [];
  let at = 0;
  for (;;) {
    const lineEnd = data.indexOf("\r\n", at);
    if (lineEnd < 0) break;
    const size = Number.parseInt(data.subarray(at, lineEnd).toString("latin1"), 16);
    if (!size) break;
    out.push(data.subarray(lineEnd + 2, lineEnd + 2 + size));
    at = lineEnd + 2 + size + 2;
  }
  return Buffer.concat(out);
}
