import { errors } from "../../common/errors";
import { redactForCount } from "../guardrails/gateway";
import { requestedGuardrails } from "../guardrails/plan";
import { resolveTarget } from "../routing/resolve";
import type { Json } from "../translate/types";
import {
  CHARS_PER_TOKEN,
  estimateInputTokens,
  TOKENS_PER_IMAGE,
  TOKENS_PER_MESSAGE,
} from "../usage/estimate";
import { type GatewayContext, routeContext } from "./context";
import { anthropicHeaders, anthropicUrl } from "./plan";
import { upstreamError } from "./upstream-errors";

export const ESTIMATE_HEADER = "x-relay-token-count";
const ESTIMATE_METHOD = `estimate; chars/${CHARS_PER_TOKEN} + ${TOKENS_PER_MESSAGE}/message + ${TOKENS_PER_IMAGE}/image`;

/**
 * POST /v1/messages/count_tokens: Anthropic counts for its own models; for every other route relay
 * answers with its documented estimate and says so in x-relay-token-count. Counting is free at
 * Anthropic and consumes nothing, so it records no usage.
 */
export async function countTokens(
  ctx: GatewayContext,
  body: Json & { model?: string },
  clientHeaders: Record<string, string>,
): Promise<Response> {
  const model = body.model || ctx.config.DEFAULT_MODEL;
  if (!model) throw errors.badRequest("model_required", "model is required", "model");
  const requested = requestedGuardrails(body.guardrails);
  delete body.guardrails;
  const target = await resolveTarget(model, routeContext(ctx));
  if (target.wire !== "anthropic") {
    return Response.json(
      { input_tokens: estimateInputTokens(body) },
      { headers: { [ESTIMATE_HEADER]: ESTIMATE_METHOD, "x-relay-provider": target.provider } },
    );
  }
  await redactForCount(ctx, body, requested);
  const signal = AbortSignal.any([
    AbortSignal.timeout(ctx.config.REQUEST_TIMEOUT_SECONDS * 1000),
    ...(ctx.signal ? [ctx.signal] : []),
  ]);
  let res: Response;
  try {
    res = await fetch(anthropicUrl(target.baseUrl, "messages/count_tokens"), {
      method: "POST",
      headers: anthropicHeaders(target, false, clientHeaders),
      body: JSON.stringify({ ...body, model: target.model, models: undefined }),
      signal,
    });
  } catch (err) {
    throw errors.badGateway(
      "upstream_unreachable",
      `Could not reach ${target.provider}: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
  if (!res.ok) throw await upstreamError(res, target);
  return new Response(res.body, {
    headers: {
      "content-type": "application/json",
      [ESTIMATE_HEADER]: "exact",
      "x-relay-provider": target.provider,
    },
  });
}
