import { Hono } from "hono";
import { RelayError } from "../../../common/errors";
import { SESSION_HEADERS } from "../../../common/session";
import { lifecycleErrors } from "./errors";
import type { Lease, LifecycleManager } from "./manager";

interface RequestRecord {
  at: string;
  model: string;
  path: string;
  status: number;
  ms: number;
  coldStart: boolean;
}

const HISTORY = 200;
const HEARTBEAT_MS = 2000;
const encoder = new TextEncoder();

function sessionOf(headers: Headers): string | null {
  for (const h of SESSION_HEADERS) {
    const v = headers.get(h);
    if (v) return v;
  }
  return null;
}

/** The model body with the `local:` prefix dropped, as the model's own server expects it. */
function modelName(body: Record<string, unknown>): string | null {
  const model = typeof body.model === "string" ? body.model : null;
  return model?.startsWith("local:") ? model.slice(6) : model;
}

/** Releases the lease when the proxied body ends, fails or is cancelled by the client. */
function releasing(
  body: ReadableStream<Uint8Array>,
  lease: Lease,
  done: (status: number) => void,
): ReadableStream<Uint8Array> {
  let released = false;
  const release = (status: number) => {
    if (released) return;
    released = true;
    lease.release();
    done(status);
  };
  const reader = body.getReader();
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const { done: end, value } = await reader.read();
        if (end) {
          controller.close();
          release(200);
        } else controller.enqueue(value);
      } catch (err) {
        controller.error(err);
        release(502);
      }
    },
    async cancel() {
      await reader.cancel().catch(() => {});
      release(499);
    },
  });
}

export function lifecycleRoutes(manager: LifecycleManager): Hono {
  const app = new Hono();
  const history: RequestRecord[] = [];
  const remember = (r: RequestRecord) => {
    history.push(r);
    if (history.length > HISTORY) history.shift();
  };

  const proxy = async (c: { req: { raw: Request; path: string } }, path: string): Promise<Response> => {
    const started = Date.now();
    const text = await c.req.raw.text();
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(text) as Record<string, unknown>;
    } catch {
      throw new RelayError({
        status: 400,
        type: "invalid_request_error",
        code: "invalid_json",
        message: "Request body is not valid JSON",
      });
    }
    const name = modelName(body);
    if (!name)
      throw new RelayError({
        status: 400,
        type: "invalid_request_error",
        code: "model_required",
        message: "model is required",
        param: "model",
      });
    if (!manager.settings.RELAY_MODEL_MAP[name]) throw lifecycleErrors.unknown(name);
    const upstreamBody = body.model === name ? text : JSON.stringify({ ...body, model: name });
    const session = sessionOf(c.req.raw.headers);
    const coldStart = !manager.isReady(name, session);
    const signal = c.req.raw.signal;
    const record = (status: number) =>
      remember({
        at: new Date(started).toISOString(),
        model: name,
        path,
        status,
        ms: Date.now() - started,
        coldStart,
      });

    const forward = async (lease: Lease): Promise<Response> => {
      try {
        const res = await fetch(`${lease.model.url}${path}`, {
          method: "POST",
          headers: { "content-type": "application/json", accept: c.req.raw.headers.get("accept") ?? "*/*" },
          body: upstreamBody,
          signal,
        });
        if (!res.body) {
          lease.release();
          record(res.status);
          return res;
        }
        const headers = new Headers(res.headers);
        headers.delete("content-length");
        return new Response(
          releasing(res.body, lease, (s) => record(s === 200 ? res.status : s)),
          { status: res.status, headers },
        );
      } catch (err) {
        lease.release();
        record(502);
        throw new RelayError({
          status: 502,
          type: "api_error",
          code: "model_unreachable",
          message: `Model '${name}' did not answer: ${(err as Error).message}`,
        });
      }
    };

    if (body.stream !== true || !coldStart) return forward(await manager.acquire(name, session));

    // A streamed request that must wait for a cold start gets its headers now and SSE comments
    // while the model loads, so that clients and proxies do not time out; then the stream itself.
    const acquiring = manager.acquire(name, session);
    const stream = new ReadableStream<Uint8Array>({
      async start(controller) {
        controller.enqueue(encoder.encode(`: loading model ${name}\n\n`));
        const beat = setInterval(
          () => controller.enqueue(encoder.encode(": still loading\n\n")),
          HEARTBEAT_MS,
        );
        let lease: Lease;
        try {
          lease = await acquiring;
        } catch (err) {
          clearInterval(beat);
          const e = err instanceof RelayError ? err : lifecycleErrors.startFailed(name, String(err), "");
          controller.enqueue(
            encoder.encode(
              `data: ${JSON.stringify({ error: { message: e.message, type: e.type, code: e.code } })}\n\n`,
            ),
          );
          controller.close();
          record(e.status);
          return;
        }
        clearInterval(beat);
        try {
          const res = await forward(lease);
          const reader = (res.body as ReadableStream<Uint8Array>).getReader();
          for (;;) {
            const { done, value } = await reader.read();
            if (done) break;
            controller.enqueue(value);
          }
          controller.close();
        } catch (err) {
          const message = err instanceof Error ? err.message : String(err);
          controller.enqueue(
            encoder.encode(
              `data: ${JSON.stringify({ error: { message, type: "api_error", code: "model_unreachable" } })}\n\n`,
            ),
          );
          controller.close();
        }
      },
    });
    return new Response(stream, {
      status: 200,
      headers: { "content-type": "text/event-stream", "cache-control": "no-cache" },
    });
  };

  app.post("/v1/chat/completions", (c) => proxy(c, "/v1/chat/completions"));
  app.post("/v1/completions", (c) => proxy(c, "/v1/completions"));
  app.post("/v1/embeddings", (c) => proxy(c, "/v1/embeddings"));

  app.get("/v1/models", (c) =>
    c.json({
      object: "list",
      data: Object.entries(manager.settings.RELAY_MODEL_MAP).map(([id, spec]) => ({
        id,
        object: "model",
        created: 0,
        owned_by: "local",
        ctx_size: spec.ctx_size,
        context_length: spec.ctx_size,
        multimodal: spec.multimodal ?? false,
        thinking_levels: spec.thinking_levels ?? [],
        state: manager.get(id)?.state ?? "stopped",
      })),
    }),
  );

  app.get("/relay/status", (c) =>
    c.json({
      settings: {
        maxWarmModels: manager.settings.RELAY_SWITCH_MAX_WARM_MODELS,
        idleShutdownMs: manager.settings.RELAY_MODEL_IDLE_SHUTDOWN_MS,
        serializeRequests: manager.settings.RELAY_SERIALIZE_REQUESTS,
      },
      models: manager.names().map((name) => {
        const p = manager.get(name);
        return {
          name,
          state: p?.state ?? "stopped",
          port: p?.port ?? null,
          pid: p?.pid ?? null,
          inflight: p?.inflight ?? 0,
          queued: manager.queueDepth(name),
          lastUsedAt: p?.lastUsedAt ? new Date(p.lastUsedAt).toISOString() : null,
          session: p?.session ? "set" : null,
          breaker: manager.breakerState(name),
        };
      }),
    }),
  );

  app.post("/relay/models/:name/load", async (c) => {
    const proc = await manager.load(c.req.param("name"));
    return c.json({ name: proc.name, state: proc.state, port: proc.port });
  });
  app.post("/relay/models/:name/unload", async (c) =>
    c.json({ name: c.req.param("name"), unloaded: await manager.unload(c.req.param("name")) }),
  );
  app.get("/relay/logs/:name", (c) => {
    const name = c.req.param("name");
    if (!manager.settings.RELAY_MODEL_MAP[name]) throw lifecycleErrors.unknown(name);
    return c.text(manager.get(name)?.logs.text() ?? "");
  });
  app.get("/relay/requests", (c) => c.json({ requests: [...history].reverse() }));
  app.get("/relay/metrics", (c) => {
    const lines: string[] = [];
    const metric = (name: string, type: string, help: string, values: [string, number][]) => {
      lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
      for (const [model, v] of values) lines.push(`${name}{model="${model}"} ${v}`);
    };
    const names = manager.names();
    const counter = (f: (n: NonNullable<ReturnType<typeof manager.counters.get>>) => number) =>
      names.map((n): [string, number] => [
        n,
        f(manager.counters.get(n) ?? { starts: 0, stops: 0, failures: 0, loadMsTotal: 0, loadMsLast: 0 }),
      ]);
    metric(
      "relay_model_starts_total",
      "counter",
      "Successful model starts.",
      counter((x) => x.starts),
    );
    metric(
      "relay_model_stops_total",
      "counter",
      "Model stops (idle, switch, unload, session).",
      counter((x) => x.stops),
    );
    metric(
      "relay_model_start_failures_total",
      "counter",
      "Failed model starts.",
      counter((x) => x.failures),
    );
    metric(
      "relay_model_load_seconds_total",
      "counter",
      "Time spent loading models.",
      counter((x) => x.loadMsTotal / 1000),
    );
    metric(
      "relay_model_last_load_seconds",
      "gauge",
      "Duration of the last load.",
      counter((x) => x.loadMsLast / 1000),
    );
    metric(
      "relay_model_queue_depth",
      "gauge",
      "Requests waiting for a model.",
      names.map((n) => [n, manager.queueDepth(n)]),
    );
    metric(
      "relay_model_active_requests",
      "gauge",
      "Requests in flight per model.",
      names.map((n) => [n, manager.get(n)?.inflight ?? 0]),
    );
    metric(
      "relay_model_up",
      "gauge",
      "1 when the model is ready.",
      names.map((n) => [n, manager.get(n)?.state === "ready" ? 1 : 0]),
    );
    return c.text(`${lines.join("\n")}\n`, 200, { "content-type": "text/plain; version=0.0.4" });
  });
  return app;
}
