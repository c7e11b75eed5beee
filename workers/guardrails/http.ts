import { z } from "zod";
import type { Action, GuardrailDef, Mode } from "./types";

// An operator's own guardrail, called over HTTP with the seed's contract: relay POSTs
// {request_id, guardrail, mode, context, config, request?, response?} and expects
// {action: allow|block|modify|warn, request?, response?, reason?, metadata}. Anything else — a
// non-2xx status, a timeout, an answer that is not that — is a failure the guardrail's failure
// policy decides about.

const DEFAULT_TIMEOUT_MS = 5000;
const MAX_ANSWER_BYTES = 4 * 1024 * 1024;

const verdict = z.object({
  action: z.enum(["allow", "block", "modify", "warn"]),
  request: z.record(z.string(), z.unknown()).optional(),
  response: z.record(z.string(), z.unknown()).optional(),
  reason: z.string().max(2000).nullish(),
  metadata: z.record(z.string(), z.unknown()).nullish(),
});

export interface Verdict {
  action: Action;
  request?: Record<string, unknown>;
  response?: Record<string, unknown>;
  reason: string | null;
  metadata: Record<string, unknown>;
}

export class GuardrailCallError extends Error {}

export interface HttpGuardrailCall {
  requestId: string;
  mode: Exclude<Mode, "during_call">;
  context: Record<string, unknown>;
  config: Record<string, unknown>;
  body: Record<string, unknown>;
}

export async function callHttpGuardrail(
  def: GuardrailDef,
  token: string | null,
  call: HttpGuardrailCall,
): Promise<Verdict> {
  if (!def.endpointUrl) throw new GuardrailCallError("it has no endpoint URL");
  const payload = {
    request_id: call.requestId,
    guardrail: def.name,
    mode: call.mode,
    context: call.context,
    config: call.config,
    ...(call.mode === "pre_call" ? { request: call.body } : { response: call.body }),
  };
  let res: Response;
  try {
    res = await fetch(def.endpointUrl, {
      method: "POST",
      headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify(payload),
      signal: AbortSignal.timeout(def.timeoutMs ?? DEFAULT_TIMEOUT_MS),
    });
  } catch (err) {
    const timedOut = (err as Error).name === "TimeoutError";
    throw new GuardrailCallError(
      timedOut ? `no answer within ${def.timeoutMs ?? DEFAULT_TIMEOUT_MS} ms` : "it cannot be reached",
    );
  }
  if (!res.ok) {
    await res.body?.cancel().catch(() => {});
    throw new GuardrailCallError(`it answered ${res.status}`);
  }
  const text = await res.text();
  if (text.length > MAX_ANSWER_BYTES) throw new GuardrailCallError("its answer is too large");
  let parsed: z.output<typeof verdict>;
  try {
    parsed = verdict.parse(JSON.parse(text));
  } catch {
    throw new GuardrailCallError("its answer is not {action: allow|block|modify|warn, …}");
  }
  if (parsed.action === "modify" && !(call.mode === "pre_call" ? parsed.request : parsed.response)) {
    throw new GuardrailCallError(
      `it answered modify without a ${call.mode === "pre_call" ? "request" : "response"}`,
    );
  }
  return {
    action: parsed.action,
    request: parsed.request,
    response: parsed.response,
    reason: parsed.reason ?? null,
    metadata: parsed.metadata ?? {},
  };
}
