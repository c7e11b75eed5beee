import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/**
 * A stand-in for relay's run API, for testing @relay/sdk in Node without the Worker. It follows
 * the protocol of issue 12 on the wire: POST /v1/runs answers `id: <seq>` + `data: <json>` frames
 * with x-run-id / x-workflow-id, or an error envelope before the stream; tool results are checked
 * as relay checks them (404 run_not_found / tool_call_not_found, 409 tool_result_already_submitted
 * / run_not_waiting); a client that disconnects cancels its run. What a run does is the test's
 * script; faults for the tool-result route are queued by the test.
 */

export interface WireEvent {
  type: string;
  [field: string]: unknown;
}

export interface Recorded {
  method: string;
  path: string;
  headers: IncomingMessage["headers"];
  body: any;
}

/** How a tool-result post misbehaves, one entry per post, in order. */
export type PostFault =
  | "drop" // cut the connection before storing the result
  | "drop-after-store" // store the result, then cut the connection before answering
  | 503; // answer 503 without storing

export interface FakeRun {
  id: string;
  workflowId: string;
  body: any;
  status: "running" | "completed" | "failed" | "canceled";
  output: string | null;
  error: { code: string; message: string } | null;
  /** Every event sent, in order. */
  sent: WireEvent[];
  /** Tool-use id → the call; present once its tool_call was sent. */
  calls: Map<string, { name: string; result?: { output: unknown }; wake?: () => void }>;
  /** Resolves when the client closes the stream before the run ended. */
  disconnected: Promise<void>;
  clientGone: boolean;
}

export interface RunScript {
  token(text: string): void;
  /** Sends every tool_call at once, then waits for all their results; sends a tool_result per result as it arrives. */
  toolCalls(calls: { id: string; name: string; input: unknown }[]): Promise<Record<string, unknown>>;
  /** A builtin relay runs itself: tool_call and tool_result, nothing awaited from the client. */
  builtin(id: string, name: string, input: unknown, output: unknown): void;
  done(output: string, usage?: { input_tokens: number; output_tokens: number }): void;
  error(code: string, message: string): void;
  run: FakeRun;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class FakeRelay {
  readonly apiKey = `relay_test_${randomUUID()}`;
  readonly requests: Recorded[] = [];
  readonly runs = new Map<string, FakeRun>();
  /** What every run does; set by each test. */
  script: (run: RunScript) => Promise<void> = async (r) => r.done("");
  /** When set, POST /v1/runs answers this error instead of a stream. */
  reject: { status: number; type: string; code: string; message: string; param?: string } | null = null;
  /** Faults for the next tool-result posts, consumed one per post. */
  faults: PostFault[] = [];
  /** Hold the answer to each tool-result post until this many are in flight at once (or 3 s pass). */
  holdPostsUntil = 0;
  /** The most tool-result posts that were in flight at once. */
  peakPosts = 0;
  private inFlightPosts = 0;
  private postWaiters: (() => void)[] = [];

  private constructor(
    private readonly server: Server,
    readonly url: string,
  ) {}

  static async start(): Promise<FakeRelay> {
    let relay!: FakeRelay;
    const server = createServer((req, res) => {
      relay.handle(req, res).catch((err) => {
        if (!res.headersSent) send(res, 500, envelope("api_error", "internal_error", String(err)));
        else res.destroy();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as AddressInfo;
    relay = new FakeRelay(server, `http://127.0.0.1:${port}`);
    return relay;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  posts(): Recorded[] {
    return this.requests.filter((r) => r.path.includes("/tool-results/"));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", this.url);
    const text = await readBody(req);
    let body: any;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      return send(res, 400, envelope("invalid_request_error", "invalid_json", "The body is not JSON"));
    }
    this.requests.push({ method: req.method ?? "", path: url.pathname, headers: req.headers, body });
    if (req.headers.authorization !== `Bearer ${this.apiKey}`) {
      return send(res, 401, envelope("authentication_error", "invalid_api_key", "Invalid API key"));
    }
    const parts = url.pathname.split("/").filter(Boolean).map(decodeURIComponent);
    if (req.method === "POST" && url.pathname === "/v1/runs") return this.startRun(body, res);
    if (parts[0] !== "v1" || parts[1] !== "runs" || !parts[2]) {
      return send(res, 404, envelope("not_found_error", "not_found", "No such route"));
    }
    const run = this.runs.get(parts[2]);
    if (!run) return send(res, 404, envelope("not_found_error", "run_not_found", "No such run"));
    if (req.method === "POST" && parts[3] === "tool-results" && parts[4] && parts.length === 5) {
      return this.toolResult(run, parts[4], body, req, res);
    }
    if (req.method === "POST" && parts[3] === "cancel" && parts.length === 4) {
      if (run.status === "running") {
        run.status = "canceled";
        for (const call of run.calls.values()) call.wake?.();
      }
      return send(res, 200, { run: describe(run) });
    }
    if (req.method === "GET" && parts.length === 3) return send(res, 200, { run: describe(run) });
    return send(res, 404, envelope("not_found_error", "not_found", "No such route"));
  }

  private async startRun(body: any, res: ServerResponse): Promise<void> {
    if (this.reject) {
      const { status, type, code, message, param } = this.reject;
      return send(res, status, envelope(type, code, message, param));
    }
    if (!body || typeof body.model !== "string" || body.model === "") {
      return send(
        res,
        400,
        envelope("invalid_request_error", "model_required", "model is required", "model"),
      );
    }
    for (const tool of body.tools ?? []) {
      const ok =
        tool.kind === "builtin"
          ? tool.name === "calculator"
          : tool.kind === "function" &&
            typeof tool.name === "string" &&
            typeof tool.description === "string" &&
            tool.inputSchema?.type === "object";
      if (!ok) {
        return send(res, 400, envelope("invalid_request_error", "invalid_tool_schema", "Bad tool", "tools"));
      }
    }
    let markGone!: () => void;
    const run: FakeRun = {
      id: `run_${randomUUID()}`,
      workflowId: body.workflowId ?? `wf_${randomUUID()}`,
      body,
      status: "running",
      output: null,
      error: null,
      sent: [],
      calls: new Map(),
      disconnected: new Promise((resolve) => {
        markGone = resolve;
      }),
      clientGone: false,
    };
    this.runs.set(run.id, run);
    res.writeHead(200, {
      "content-type": "text/event-stream",
      "cache-control": "no-cache, no-transform",
      "x-run-id": run.id,
      "x-workflow-id": run.workflowId,
    });
    res.on("close", () => {
      if (res.writableEnded) return;
      run.clientGone = true;
      if (run.status === "running") run.status = "canceled";
      for (const call of run.calls.values()) call.wake?.();
      markGone();
    });

    let seq = 0;
    const emit = (event: WireEvent) => {
      if (res.writableEnded || run.clientGone) return;
      run.sent.push(event);
      seq++;
      const frame = `id: ${seq}\ndata: ${JSON.stringify(event)}\n\n`;
      // Two writes, split mid-frame, so the client's parser meets frames that span chunks.
      const cut = Math.floor(frame.length / 2);
      res.write(frame.slice(0, cut));
      res.write(frame.slice(cut));
    };
    const end = () => {
      if (!res.writableEnded && !run.clientGone) res.end();
    };
    const script: RunScript = {
      run,
      token: (text) => emit({ type: "token", text }),
      toolCalls: async (calls) => {
        for (const call of calls) {
          run.calls.set(call.id, { name: call.name });
          emit({ type: "tool_call", ...call });
        }
        const outputs: Record<string, unknown> = {};
        await Promise.all(
          calls.map(async ({ id }) => {
            const entry = run.calls.get(id);
            if (!entry) throw new Error("unreachable");
            while (!entry.result) {
              if (run.status !== "running") throw new Error(`run ${run.status}`);
              await new Promise<void>((wake) => {
                entry.wake = wake;
              });
            }
            outputs[id] = entry.result.output;
            emit({ type: "tool_result", id, output: entry.result.output });
          }),
        );
        return outputs;
      },
      builtin: (id, name, input, output) => {
        emit({ type: "tool_call", id, name, input });
        emit({ type: "tool_result", id, output });
      },
      done: (output, usage = { input_tokens: 0, output_tokens: 0 }) => {
        run.status = "completed";
        run.output = output;
        emit({ type: "done", output, usage });
        end();
      },
      error: (code, message) => {
        run.status = "failed";
        run.error = { code, message };
        emit({ type: "error", code, message });
        end();
      },
    };
    try {
      await this.script(script);
    } catch (err) {
      if (run.status === "canceled") {
        emit({ type: "error", code: "run_canceled", message: "The run was canceled" });
        end();
        return;
      }
      if (run.status === "running") script.error("internal_error", String(err));
    }
    end();
  }

  private async toolResult(
    run: FakeRun,
    toolUseId: string,
    body: any,
    req: IncomingMessage,
    res: ServerResponse,
  ): Promise<void> {
    this.inFlightPosts++;
    this.peakPosts = Math.max(this.peakPosts, this.inFlightPosts);
    for (const wake of this.postWaiters.splice(0)) wake();
    try {
      if (this.holdPostsUntil > 0) {
        const deadline = Date.now() + 3_000;
        while (this.inFlightPosts < this.holdPostsUntil && this.peakPosts < this.holdPostsUntil) {
          if (Date.now() > deadline) break;
          await Promise.race([new Promise<void>((r) => this.postWaiters.push(r)), sleep(50)]);
        }
      }
      const fault = this.faults.shift();
      if (fault === "drop") return void req.socket.destroy();
      if (fault === 503) {
        return send(
          res,
          503,
          envelope("service_unavailable", "broker_unavailable", "The broker is unavailable"),
        );
      }
      if (!body || !("output" in body)) {
        return send(
          res,
          400,
          envelope("invalid_request_error", "output_required", "output is required", "output"),
        );
      }
      if (run.status !== "running") {
        return send(res, 409, envelope("invalid_request_error", "run_not_waiting", "The run has ended"));
      }
      const call = run.calls.get(toolUseId);
      if (!call)
        return send(res, 404, envelope("not_found_error", "tool_call_not_found", "No such tool call"));
      if (call.result) {
        return send(
          res,
          409,
          envelope(
            "invalid_request_error",
            "tool_result_already_submitted",
            "A result was already submitted",
          ),
        );
      }
      call.result = { output: body.output };
      call.wake?.();
      if (fault === "drop-after-store") return void req.socket.destroy();
      send(res, 200, { ok: true });
    } finally {
      this.inFlightPosts--;
    }
  }
}

function describe(run: FakeRun) {
  return {
    id: run.id,
    status: run.status,
    model: run.body.model,
    output: run.output,
    error: run.error,
    workflowId: run.workflowId,
  };
}

function envelope(type: string, code: string, message: string, param: string | null = null) {
  return { error: { message, type, code, param, request_id: `req_${randomUUID()}` } };
}

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(body));
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = "";
    req.setEncoding("utf8");
    req.on("data", (chunk) => (text += chunk));
    req.on("end", () => resolve(text));
    req.on("error", reject);
  });
}
