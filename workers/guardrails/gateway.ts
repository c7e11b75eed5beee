import { SseParser } from "../../common/sse";
import type { GatewayContext } from "../gateway/context";
import type { Endpoint } from "../gateway/fields";
import type { StreamPump } from "../gateway/stream-pumps";
import type { TokenUsage } from "../translate/types";
import { guardrailCatalog } from "./catalog";
import { GuardrailRun } from "./execute";
import { type PiiFormat, PiiSession, type PiiStreamAdapter, piiConfigSchema } from "./pii";
import { guardrailErrors, resolvePlan } from "./plan";
import { guardrailPolicyOf } from "./policy";

// Guardrails on the gateway's path: one request's plan is resolved from the cached catalog and the
// key's policy, pre_call rewrites the client's body before it is planned for any route (so every
// route kind, translated or local, forwards the rewritten text), post_call rewrites a whole answer
// in the client's format, and during_call wraps a stream's pump. A request whose plan is empty gets
// no GuardrailRun at all, and its stream is not touched.

type Json = Record<string, unknown>;

/** The wire format each guarded endpoint speaks to its client. */
const FORMATS: Record<Endpoint, PiiFormat> = {
  chat: "chat",
  messages: "messages",
  responses: "responses",
  // What is embedded is what a provider reads: pre_call redacts it (a vector has nothing to restore).
  embeddings: "embeddings",
};

export interface GuardedRequest {
  endpoint: Endpoint;
  body: Json;
  raw: string;
  stream: boolean;
}

/**
 * Resolves the plan of one request (no database round trip once the catalog is warm) and runs its
 * pre_call guardrails on `client.body`, in place; `client.raw` follows when the body changed.
 * Returns null when nothing runs. Errors (forbidden, unknown, unavailable, blocked) are thrown
 * after what ran so far is recorded.
 */
export async function guardRequest(
  ctx: GatewayContext,
  client: GuardedRequest,
  requested: string[],
  model: string,
): Promise<GuardrailRun | null> {
  const format = FORMATS[client.endpoint];
  const plan = resolvePlan(
    await guardrailCatalog.defs(ctx.db),
    guardrailPolicyOf(ctx.caller),
    requested,
    client.stream,
  );
  if (plan.length === 0) return null;
  const run = new GuardrailRun(
    {
      config: ctx.config,
      db: ctx.db,
      requestId: ctx.requestId,
      tenantId: ctx.caller.tenantId,
      keyId: ctx.caller.keyId,
      runId: ctx.runId ?? null,
      route: client.endpoint,
      model,
      waitUntil: ctx.waitUntil,
    },
    plan,
    format,
  );
  try {
    if (await run.pre(client.body)) client.raw = JSON.stringify(client.body);
    if (client.stream) run.stream();
  } catch (err) {
    run.finish();
    throw err;
  }
  return run;
}

/**
 * For what only counts a request's tokens (`/v1/messages/count_tokens`): the text the provider would
 * read is what pre_call leaves of it, so pii-redact in the plan redacts it here too (nothing is
 * recorded, and http guardrails are not called for a count). In place; whether it changed.
 */
export async function redactForCount(ctx: GatewayContext, body: Json, requested: string[]): Promise<boolean> {
  const plan = resolvePlan(
    await guardrailCatalog.defs(ctx.db),
    guardrailPolicyOf(ctx.caller),
    requested,
    false,
  );
  const pii = plan.find((g) => g.def.kind === "builtin" && g.def.name === "pii-redact");
  if (!pii?.def.modes.includes("pre_call") || pii.def.failurePolicy === "dry_run") return false;
  const config = piiConfigSchema.safeParse(pii.config);
  if (!config.success)
    throw guardrailErrors.unavailable("The guardrail 'pii-redact' could not run: its config is invalid");
  return new PiiSession(config.data).redactRequest("messages", body);
}

/** Checks a plan without running it (an agent run refuses a bad plan before its stream starts). */
export async function checkPlan(ctx: GatewayContext, requested: string[], stream: boolean): Promise<void> {
  resolvePlan(await guardrailCatalog.defs(ctx.db), guardrailPolicyOf(ctx.caller), requested, stream);
}

/** post_call on a whole answer in the client's format: the text to send (the same when unchanged). */
export async function guardAnswer(run: GuardrailRun, text: string): Promise<string> {
  if (!run.plan.some((g) => g.def.modes.includes("post_call"))) return text;
  let body: Json;
  try {
    body = JSON.parse(text) as Json;
  } catch {
    return text;
  }
  return (await run.post(body)) ? JSON.stringify(body) : text;
}

/** during_call: the pump that rewrites the client's stream, or the pump itself when nothing runs. */
export function guardStream(run: GuardrailRun | null, pump: StreamPump): StreamPump {
  const adapter = run?.stream();
  return adapter ? new GuardedPump(pump, adapter, run?.format !== "chat") : pump;
}

const encoder = new TextEncoder();

/**
 * Sits behind the route's own pump, on the client's stream: parses each event, lets the adapter
 * rewrite it, and forwards the event's own text when the adapter left it alone. Chat streams end in
 * `[DONE]`, before which whatever the adapter still holds is released; named-event formats
 * (Anthropic, Responses) release it at the very end.
 */
export class GuardedPump implements StreamPump {
  private readonly parser = new SseParser();
  private readonly decoder = new TextDecoder();
  private ended = false;

  constructor(
    private readonly inner: StreamPump,
    private readonly adapter: PiiStreamAdapter,
    /** Events carry `event: <type>` (Anthropic and Responses streams). */
    private readonly named: boolean,
  ) {}

  private serialise(events: Json[]): string {
    let out = "";
    for (const ev of events) {
      const data = JSON.stringify(ev);
      out +=
        this.named && typeof ev.type === "string"
          ? `event: ${ev.type}\ndata: ${data}\n\n`
          : `data: ${data}\n\n`;
    }
    return out;
  }

  private release(): string {
    if (this.ended) return "";
    this.ended = true;
    return this.serialise(this.adapter.end());
  }

  private guard(bytes: Uint8Array, last = false): Uint8Array {
    let out = "";
    const events = this.parser.push(this.decoder.decode(bytes, { stream: !last }));
    if (last) events.push(...this.parser.flush());
    for (const ev of events) {
      if (ev.data === "[DONE]") {
        out += this.release() + ev.raw;
        continue;
      }
      let parsed: unknown;
      try {
        parsed = JSON.parse(ev.data);
      } catch {
        out += ev.raw;
        continue;
      }
      if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
        out += ev.raw;
        continue;
      }
      const next = this.adapter.event(parsed as Json);
      out += this.adapter.lastUnchanged ? ev.raw : this.serialise(next);
    }
    if (last) out += this.release();
    return out ? encoder.encode(out) : new Uint8Array(0);
  }

  push(chunk: Uint8Array): Uint8Array {
    return this.guard(this.inner.push(chunk));
  }

  end(): Uint8Array {
    return this.guard(this.inner.end(), true);
  }

  error(message: string, type: string): Uint8Array {
    // Held text is dropped: the stream failed before its parts ended.
    this.ended = true;
    return this.inner.error(message, type);
  }

  usage(): TokenUsage | null {
    return this.inner.usage();
  }
}
