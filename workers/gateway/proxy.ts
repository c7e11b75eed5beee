import { errors, RelayError } from "../../common/errors";
import type { Config } from "../config/env";
import type { GuardrailRun } from "../guardrails/execute";
import { guardAnswer, guardRequest, guardStream } from "../guardrails/gateway";
import { readTextWithin } from "../http/read-text";
import { type Admission, admit } from "../limits/admission";
import { resolveTarget, type Target } from "../routing/resolve";
import type { Json, TokenUsage } from "../translate/types";
import { costOf } from "../usage/prices";
import { recordUsage } from "../usage/recorder";
import { type GatewayContext, routeContext } from "./context";
import { type ClientRequest, type Plan, planRequest } from "./plan";
import type { StreamPump } from "./stream-pumps";
import { retryAfterMs, retryable, upstreamError } from "./upstream-errors";

export interface ProxyInput {
  client: ClientRequest;
  /** The requested model first, then the fallbacks of a `models` array. */
  candidates: string[];
  warnings: string[];
  /** Called with the assistant message items of a translated Responses answer once it completed. */
  keep?: (items: Json[]) => Promise<void>;
  /**
   * The guardrails the client asked for (the body's `guardrails`, already removed from it). The
   * plan's pre_call guardrails rewrite `client.body` in place: pass a body the caller may lose.
   */
  guardrails?: string[];
}

type Failure = {
  ok: false;
  error: RelayError;
  retryable: boolean;
  retryAfter: number | null;
  /** The connection failed before any answer came back (fetch itself threw). */
  connectionLost?: true;
};

/**
 * A keep-alive connection the upstream closed while it sat in the pool fails the next request sent
 * on it before that request reaches the upstream; after a burst the pool may hold several. Such a
 * failure is sent again at once, on the next connection, without waiting and without spending one
 * of RELAY_MAX_RETRIES: this many times per candidate (a refused connection fails the same way, so
 * it is bounded).
 */
const MAX_RESENDS = 8;

/** An upstream stream that has delivered its first bytes; the pump owns it from here. */
interface OpenStream {
  /** The upstream body, its first chunk already read. */
  body: ReadableStream<Uint8Array>;
  first: Uint8Array | null;
  /** Whether a deadline (not the client) ended the upstream request. */
  timedOut(): boolean;
  /** Aborts the upstream request (the client went away). */
  abort(): void;
  /** The stream is over: lets go of the attempt's timer and listeners. */
  release(): void;
}

type Success = { ok: true; text: string } | { ok: true; stream: OpenStream };

type AbortKind = "first_byte" | "deadline" | "client";

/** Timing of one request, for Server-Timing and the usage record. */
class Clock {
  readonly started = Date.now();
  upstreamMs = 0;
  waitedMs = 0;
  ttfbMs: number | null = null;
  serverTiming(): string {
    const total = Date.now() - this.started;
    const gateway = Math.max(total - this.upstreamMs - this.waitedMs, 0);
    let value = `gateway;dur=${gateway};desc="relay", upstream;dur=${this.upstreamMs}`;
    if (this.waitedMs) value += `, retry-wait;dur=${this.waitedMs}`;
    return value;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The one way through the gateway. The key's limits admit the request first (one Redis round
 * trip, none for a key without limits); every response then carries the key's rate-limit headers,
 * and what the request used is settled when its usage is recorded, a stream's at its end. An
 * admitted stream is never cut for a limit.
 */
export async function proxy(ctx: GatewayContext, input: ProxyInput): Promise<Response> {
  const { client } = input;
  // Guardrails first: a refused or blocked request does not count against the key's limits.
  const guard = await guardRequest(ctx, client, input.guardrails ?? [], input.candidates[0] ?? "");
  let admission: Admission | null;
  try {
    admission = await admit(ctx, {
      endpoint: client.endpoint,
      body: client.body,
      candidates: input.candidates,
    });
  } catch (err) {
    guard?.finish();
    throw err;
  }
  try {
    const res = await forward(ctx, input, admission, guard);
    if (admission)
      for (const [name, value] of Object.entries(admission.headers)) res.headers.set(name, value);
    return res;
  } catch (err) {
    // Failed before its usage was recorded (which settles): release what it holds now.
    admission?.settle(null, null);
    guard?.finish();
    if (admission && err instanceof RelayError) Object.assign(err.headers, admission.headers);
    throw err;
  }
}

/**
 * Sends the request to the first candidate that answers: each candidate is retried on 429, 5xx
 * and connection failures (honouring retry-after) while nothing has reached the client, then the
 * next candidate is tried. Streams are relayed event by event; usage is recorded once per request
 * after the response, off the critical path.
 */
async function forward(
  ctx: GatewayContext,
  input: ProxyInput,
  admission: Admission | null,
  guard: GuardrailRun | null,
): Promise<Response> {
  const { config, caller } = ctx;
  const { client } = input;
  const clock = new Clock();
  const deadline = clock.started + config.REQUEST_TIMEOUT_SECONDS * 1000;
  const clientSignal = ctx.signal;
  const routes = routeContext(ctx);

  let attempts = 0;
  let lastError: RelayError | null = null;
  let lastTarget: Target | null = null;

  const usage = (
    target: Target | null,
    status: number,
    errorCode: string | null,
    tokens: TokenUsage | null,
  ) => {
    const t = tokens ?? { input: 0, output: 0, cached: 0 };
    const costUsd = target && tokens ? costOf(config, target.model, t) : null;
    admission?.settle(tokens, costUsd);
    // The request is over: its guardrail records go out with its usage.
    guard?.finish();
    return recordUsage(config, {
      id: crypto.randomUUID(),
      requestId: ctx.requestId,
      runId: ctx.runId ?? null,
      tenantId: caller.tenantId,
      keyId: caller.keyId,
      endpoint: client.endpoint,
      provider: target?.provider ?? null,
      model: target?.model ?? null,
      requestedModel: input.candidates[0] ?? null,
      status,
      errorCode,
      stream: client.stream,
      inputTokens: t.input,
      outputTokens: t.output,
      cachedTokens: t.cached,
      costUsd,
      latencyMs: Date.now() - clock.started,
      ttfbMs: clock.ttfbMs,
      attempts,
      createdAt: new Date(clock.started).toISOString(),
    });
  };

  for (const model of input.candidates) {
    let target: Target;
    let plan: Plan;
    try {
      target = await resolveTarget(model, routes);
      plan = planRequest(client, target, config);
    } catch (err) {
      // A candidate that cannot be routed makes way for the next one.
      if (err instanceof RelayError && err.status < 500) {
        lastError = err;
        continue;
      }
      throw err;
    }
    lastTarget = target;

    let resends = 0;
    for (let retry = 0; ; retry++) {
      attempts++;
      const outcome = await attempt(plan, target, config, clock, deadline, clientSignal, client.stream);
      if (outcome.ok) {
        const headers = new Headers({
          "x-relay-provider": target.provider,
          "x-relay-model": target.model,
          "x-relay-attempts": String(attempts),
          "server-timing": clock.serverTiming(),
        });
        const warnings = [...input.warnings, ...(plan.warnings ?? [])];
        if (warnings.length) headers.set("x-relay-warning", warnings.join("; "));
        const done = (): Promise<void> => {
          const items = input.keep && plan.messages?.();
          return items?.length && input.keep ? input.keep(items) : Promise.resolve();
        };
        if ("text" in outcome) {
          return respondWhole(plan, outcome.text, headers, guard, (status, code, tokens) => {
            ctx.waitUntil(usage(target, status, code, tokens));
            return status === 200 ? done() : undefined;
          });
        }
        // A guarded stream changes the client's bytes: it never takes the native pass-through.
        const streamed = guard
          ? { ...plan, passthrough: false, pump: () => guardStream(guard, plan.pump()) }
          : plan;
        return respondStream(ctx, streamed, outcome.stream, headers, config, (status, code, tokens) => {
          // Items are kept before the client hears the end: its very next request may name them.
          return {
            recorded: usage(target, status, code, tokens),
            beforeEnd: status === 200 && code === null ? done() : undefined,
          };
        });
      }
      lastError = outcome.error;
      if (outcome.connectionLost && resends < MAX_RESENDS && !clientSignal?.aborted) {
        resends++;
        retry--;
        continue;
      }
      if (!outcome.retryable || retry >= config.RELAY_MAX_RETRIES) break;
      const wait = Math.round(
        outcome.retryAfter ?? Math.min(250 * 2 ** retry, 4000) * (0.75 + Math.random() * 0.5),
      );
      if (wait > config.RELAY_RETRY_MAX_WAIT_MS || Date.now() + wait >= deadline) break;
      await sleep(wait);
      clock.waitedMs += wait;
    }
    if (clientSignal?.aborted) break;
  }

  const error = lastError ?? errors.badRequest("model_not_found", "No model to route", "model");
  error.headers["x-relay-attempts"] = String(attempts);
  error.headers["server-timing"] = clock.serverTiming();
  ctx.waitUntil(usage(lastTarget, error.status, error.code, null));
  throw error;
}

async function attempt(
  plan: Plan,
  target: Target,
  config: Config,
  clock: Clock,
  deadline: number,
  clientSignal: AbortSignal | undefined,
  stream: boolean,
): Promise<Success | Failure> {
  const over = { release: () => {} };
  const outcome = await attemptOnce(plan, target, config, clock, deadline, clientSignal, stream, over);
  // A stream's attempt is over when the stream is (respondStream releases it).
  if (!(outcome.ok && "stream" in outcome)) over.release();
  return outcome;
}

async function attemptOnce(
  plan: Plan,
  target: Target,
  config: Config,
  clock: Clock,
  deadline: number,
  clientSignal: AbortSignal | undefined,
  stream: boolean,
  over: { release: () => void },
): Promise<Success | Failure> {
  // Native timer signals rather than setTimeout: under nodejs_compat every setTimeout builds a
  // Node Timeout object, which the benchmark showed as a tenth of a request's CPU. One at a time
  // (the first byte's, then the deadline's), and its listener is removed when the attempt is over:
  // a timer cannot be cleared, and while its listener lived it held the attempt's closures for the
  // whole REQUEST_TIMEOUT_SECONDS, which was most of relay's memory under load.
  const controller = new AbortController();
  const signal = controller.signal;
  let firstByteSeen = false;
  let kind: AbortKind | null = null;
  const stop = (k: AbortKind) => {
    if (kind !== null) return;
    kind = k;
    controller.abort();
  };
  const onClient = () => stop("client");
  let timer: AbortSignal | null = null;
  let armed: "first_byte" | "deadline" = "deadline";
  const onTimer = () => {
    timer = null;
    if (armed === "first_byte" && firstByteSeen) arm();
    else stop(armed);
  };
  const arm = () => {
    const left = Math.max(deadline - Date.now(), 1);
    const firstByteMs = config.RELAY_FIRST_BYTE_TIMEOUT_SECONDS * 1000;
    armed = !firstByteSeen && firstByteMs < left ? "first_byte" : "deadline";
    timer = AbortSignal.timeout(armed === "first_byte" ? firstByteMs : left);
    timer.addEventListener("abort", onTimer);
  };
  /** The attempt is over: nothing of it stays reachable from the timer or the client's signal. */
  const release = () => {
    timer?.removeEventListener("abort", onTimer);
    timer = null;
    clientSignal?.removeEventListener("abort", onClient);
  };
  over.release = release;
  arm();
  if (clientSignal?.aborted) stop("client");
  else clientSignal?.addEventListener("abort", onClient);
  const abortKind = (): AbortKind | null => kind;
  const sent = Date.now();
  // Local models are served by the sidecar: say so, since that is the process to look at.
  const upstreamName =
    target.provider === "local" ? "the sidecar that serves local models (SIDECAR_URL)" : target.provider;
  const failure = (err: unknown): Failure => {
    const kind = abortKind();
    if (kind === "client") {
      return {
        ok: false,
        error: new RelayError({
          status: 499,
          type: "api_error",
          code: "client_closed",
          message: "The client went away",
        }),
        retryable: false,
        retryAfter: null,
      };
    }
    if (kind) {
      const limit =
        kind === "first_byte"
          ? `RELAY_FIRST_BYTE_TIMEOUT_SECONDS=${config.RELAY_FIRST_BYTE_TIMEOUT_SECONDS}`
          : `REQUEST_TIMEOUT_SECONDS=${config.REQUEST_TIMEOUT_SECONDS}`;
      return {
        ok: false,
        error: errors.timeout(`${upstreamName} did not answer in time (${limit})`),
        retryable: false,
        retryAfter: null,
      };
    }
    const message = err instanceof Error ? err.message : String(err);
    return {
      ok: false,
      error: errors.badGateway("upstream_unreachable", `Could not reach ${upstreamName}: ${message}`),
      retryable: true,
      retryAfter: null,
    };
  };

  let res: Response;
  try {
    res = await fetch(plan.url, { method: "POST", headers: plan.headers, body: plan.body, signal });
  } catch (err) {
    clock.upstreamMs += Date.now() - sent;
    const outcome = failure(err);
    return outcome.retryable ? { ...outcome, connectionLost: true } : outcome;
  }

  if (!res.ok) {
    firstByteSeen = true;
    clock.upstreamMs += Date.now() - sent;
    const error = await upstreamError(res, target);
    return { ok: false, error, retryable: retryable(res.status), retryAfter: retryAfterMs(res.headers) };
  }

  if (!stream) {
    firstByteSeen = true;
    clock.ttfbMs = Date.now() - clock.started;
    // The rest of the body is bounded by the overall deadline and MAX_UPSTREAM_RESPONSE_BYTES.
    try {
      const text = await readTextWithin(res, config.MAX_UPSTREAM_RESPONSE_BYTES);
      if (text === null) {
        const error = errors.badGateway(
          "upstream_response_too_large",
          `The upstream response is larger than MAX_UPSTREAM_RESPONSE_BYTES=${config.MAX_UPSTREAM_RESPONSE_BYTES}`,
        );
        return { ok: false, error, retryable: false, retryAfter: null };
      }
      return { ok: true, text };
    } catch (err) {
      return failure(err);
    } finally {
      clock.upstreamMs += Date.now() - sent;
    }
  }

  // A page or a JSON body where an event stream belongs (a proxy's error page, an upstream that
  // ignored `stream`) would reach the client as an empty 200: refuse it before anything is sent.
  const type = res.headers.get("content-type");
  if (type && !type.includes("event-stream")) {
    firstByteSeen = true;
    clock.upstreamMs += Date.now() - sent;
    await res.body?.cancel().catch(() => {});
    const error = errors.badGateway(
      "upstream_invalid_response",
      `The upstream answered ${type.split(";")[0]} where an event stream was expected`,
    );
    return { ok: false, error, retryable: false, retryAfter: null };
  }

  // A stream commits only when its first bytes arrive, so a silent upstream is still a clean 504.
  const reader = (res.body as ReadableStream<Uint8Array>).getReader();
  let first: Uint8Array | null;
  try {
    const r = await reader.read();
    first = r.done ? null : r.value;
  } catch (err) {
    clock.upstreamMs += Date.now() - sent;
    await reader.cancel().catch(() => {});
    return failure(err);
  }
  // From here the overall deadline governs.
  firstByteSeen = true;
  clock.ttfbMs = Date.now() - clock.started;
  clock.upstreamMs += Date.now() - sent;
  reader.releaseLock();
  return {
    ok: true,
    stream: {
      body: res.body as ReadableStream<Uint8Array>,
      first,
      timedOut: () => {
        const kind = abortKind();
        return kind !== null && kind !== "client";
      },
      abort: () => stop("client"),
      release,
    },
  };
}

async function respondWhole(
  plan: Plan,
  text: string,
  headers: Headers,
  guard: GuardrailRun | null,
  /** Records the outcome; what it returns must land before the answer is sent. */
  record: (status: number, code: string | null, tokens: TokenUsage | null) => Promise<void> | undefined,
): Promise<Response> {
  let answer: { body: string; usage: TokenUsage | null };
  try {
    answer = plan.respond(text);
  } catch (err) {
    record(502, err instanceof RelayError ? err.code : "upstream_invalid_response", null);
    throw err;
  }
  if (guard) {
    try {
      answer.body = await guardAnswer(guard, answer.body);
    } catch (err) {
      // The upstream was paid for even when a guardrail stops its answer.
      const e = err instanceof RelayError ? err : null;
      record(e?.status ?? 500, e?.code ?? "internal_error", answer.usage);
      throw err;
    }
  }
  await landed(record(200, null, answer.usage));
  headers.set("content-type", "application/json");
  return new Response(answer.body, { status: 200, headers });
}

function respondStream(
  ctx: GatewayContext,
  plan: Plan,
  upstream: OpenStream,
  headers: Headers,
  config: Config,
  /** Records the outcome; `beforeEnd` must land before the client's stream closes, `recorded` need not. */
  record: (
    status: number,
    code: string | null,
    tokens: TokenUsage | null,
  ) => { recorded: Promise<void>; beforeEnd?: Promise<void> },
): Response {
  const pump = plan.pump();
  let finished = false;
  // Registered now, while the request is alive: the outcome may be recorded after the client's
  // stream has closed (an error written last), when a new waitUntil would come too late.
  let settle: () => void = () => {};
  ctx.waitUntil(new Promise<void>((resolve) => (settle = resolve)));
  const finish = (status: number, code: string | null): Promise<void> => {
    if (finished) return Promise.resolve();
    finished = true;
    upstream.release();
    const { recorded, beforeEnd } = record(status, code, pump.usage());
    Promise.allSettled([recorded, beforeEnd]).finally(settle);
    return landed(beforeEnd);
  };

  const limit = config.MAX_UPSTREAM_RESPONSE_BYTES;
  let size = 0;
  let tooLarge = false;
  /** Counts what arrived; false (and the upstream stopped) once it passed the limit. */
  const within = (chunk: Uint8Array) => {
    size += chunk.byteLength;
    if (size <= limit) return true;
    tooLarge = true;
    upstream.abort();
    return false;
  };

  // The client's body is the runtime's own stream: no JavaScript runs between its writable side
  // and the client, and a write resolves once the client has taken it, so the client's pace still
  // governs how fast relay reads upstream. A JS TransformStream here cost ≈ 35 µs of CPU per
  // upstream chunk (docs/performance.md).
  const out = new IdentityTransformStream();

  /** The upstream failed, or relay stopped it, after the first byte: an error event, then the end. */
  const fail = async (prefix: string, err: unknown) => {
    if (finished) return;
    const timedOut = !tooLarge && upstream.timedOut();
    const [message, type, code] = tooLarge
      ? [
          `The upstream stream exceeded MAX_UPSTREAM_RESPONSE_BYTES=${limit}`,
          "api_error",
          "upstream_response_too_large",
        ]
      : timedOut
        ? [
            `The request exceeded REQUEST_TIMEOUT_SECONDS=${config.REQUEST_TIMEOUT_SECONDS}`,
            "timeout_error",
            "upstream_timeout",
          ]
        : [
            `The upstream stream failed: ${err instanceof Error ? err.message : String(err)}`,
            "api_error",
            "upstream_stream_error",
          ];
    const writer = out.writable.getWriter();
    try {
      await writer.write(encoder.encode(prefix));
      await writer.write(pump.error(message, type));
      await writer.close();
      finish(200, code);
    } catch {
      // The client's side is gone: it disconnected. Stop the upstream request too.
      upstream.abort();
      finish(499, "client_closed");
    }
  };

  if (plan.passthrough) passNatively(upstream, pump, out, within, fail, finish);
  else pumpInto(upstream, pump, out, within, fail, finish);

  headers.set("content-type", "text/event-stream; charset=utf-8");
  headers.set("cache-control", "no-cache, no-transform");
  return new Response(out.readable, { status: 200, headers });
}

const encoder = new TextEncoder();
/** How long an answer or a stream's end waits for what must land before it (kept Responses items). */
const FINISH_WAIT_MS = 1000;

/** Waits for `work`, FINISH_WAIT_MS at most, and never throws. */
function landed(work: Promise<void> | undefined): Promise<void> {
  if (!work) return Promise.resolve();
  return Promise.race([work.catch(() => {}), new Promise<void>((r) => setTimeout(r, FINISH_WAIT_MS))]);
}
/** How long relay's reader of a pass-through stream lets small events gather (5 ms gathered too few at 10 ms pacing). */
const OBSERVE_WAIT_MS = 50;
const OBSERVE_BATCH_BYTES = 2048;

/**
 * The client receives the upstream's bytes as they are: the body is `tee()`d, one branch piped
 * natively into the client's stream, the other read by relay beside it for usage, the size limit
 * and errors. Relay's reads never hold the client's branch back (each is a plain read of what has
 * arrived), and nothing of relay's runs per chunk on the client's path.
 */
async function passNatively(
  upstream: OpenStream,
  pump: StreamPump,
  out: IdentityTransformStream,
  within: (chunk: Uint8Array) => boolean,
  fail: (prefix: string, err: unknown) => Promise<void>,
  finish: (status: number, code: string | null) => Promise<void>,
): Promise<void> {
  const [toClient, toRelay] = upstream.body.tee();
  const stop = new AbortController();
  // The client's branch has ended: relay's reader stops letting events gather and catches up.
  const hurry = new AbortController();
  const waitOptions = { signal: hurry.signal };
  const observed = (async () => {
    const reader = toRelay.getReader();
    let reads = 0;
    let chunk = upstream.first;
    for (;;) {
      if (chunk) {
        if (!within(chunk)) {
          stop.abort();
          await reader.cancel().catch(() => {});
          return;
        }
        pump.push(chunk);
        // A small chunk is an event or two: let the next ones gather on relay's branch, so that
        // one wake-up of relay's reader takes several (the client's branch does not wait for it).
        // A chunk of 2 KB or more says the upstream is sending faster than that: read on at once,
        // so that the size limit follows close behind the client and relay's branch buffers little.
        // The first reads never wait, so that a stream that starts large is measured at once.
        reads++;
        if (reads > 2 && chunk.byteLength < OBSERVE_BATCH_BYTES && !hurry.signal.aborted)
          await scheduler.wait(OBSERVE_WAIT_MS, waitOptions).catch(() => {});
      }
      const r = await reader.read();
      if (r.done) return;
      chunk = r.value;
    }
  })();
  // Its failure is the upstream's, which the client's branch sees too and handles below.
  observed.catch(() => {});
  try {
    if (upstream.first) {
      const writer = out.writable.getWriter();
      await writer.write(upstream.first);
      writer.releaseLock();
    }
    await toClient.pipeTo(out.writable, { preventClose: true, preventAbort: true, signal: stop.signal });
  } catch (err) {
    // The upstream failed, relay stopped it, or the client went away (then the error cannot be
    // written and the upstream is aborted). The blank lines end whatever event the client had a
    // part of, so that the error event is read as its own.
    hurry.abort();
    await fail("\n\n", err);
    await observed.catch(() => {});
    return;
  }
  // Usage is recorded before the client sees the end, as when relay's pump is on the path: a
  // caller that reads usage once its stream ended (an agent run) finds it.
  hurry.abort();
  await observed.catch(() => {});
  pump.end();
  await finish(200, null);
  const writer = out.writable.getWriter();
  await writer.close().catch(() => {});
}

/**
 * Relay's pump between the upstream and the client, for streams whose bytes change: each read
 * takes everything the upstream has delivered since the last one, the pump turns it into the
 * client's bytes in one go, and they are written into the client's native stream.
 */
async function pumpInto(
  upstream: OpenStream,
  pump: StreamPump,
  out: IdentityTransformStream,
  within: (chunk: Uint8Array) => boolean,
  fail: (prefix: string, err: unknown) => Promise<void>,
  finish: (status: number, code: string | null) => Promise<void>,
): Promise<void> {
  const reader = upstream.body.getReader();
  const writer = out.writable.getWriter();
  let clientGone = false;
  // The client went away while relay waits on the upstream: stop the upstream now.
  writer.closed.catch(() => {
    if (finished()) return;
    clientGone = true;
    upstream.abort();
    reader.cancel().catch(() => {});
  });
  let done = false;
  const finished = () => done;
  try {
    let chunk = upstream.first;
    for (;;) {
      if (chunk) {
        if (!within(chunk)) throw new Error("too large");
        // A guarded stream's pump (guardrails/gateway.ts) has already rewritten these bytes.
        const bytes = pump.push(chunk);
        if (bytes.length) await writer.write(bytes);
      }
      const r = await reader.read();
      if (r.done) break;
      chunk = r.value;
    }
    const rest = pump.end();
    if (rest.length) await writer.write(rest);
    done = true;
    await finish(200, null);
    await writer.close().catch(() => {});
  } catch (err) {
    if (done) return;
    done = true;
    reader.cancel().catch(() => {});
    if (clientGone) {
      finish(499, "client_closed");
      return;
    }
    writer.releaseLock();
    await fail("", err);
  }
}
