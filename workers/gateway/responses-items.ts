import type { Config } from "../config/env";
import { redisFrom } from "../redis/client";
import { RELAY_MESSAGE_PREFIX } from "../translate/responses-object";
import type { Json } from "../translate/types";

// The Responses API keeps responses unless told `store: false`, and clients lean on it: the Vercel
// AI SDK sends earlier assistant text back as `item_reference`s to the message items it received.
// On translated routes relay keeps exactly that — the assistant message items it minted, nothing
// of the input — in Redis for RELAY_RESPONSES_ITEM_TTL_SECONDS, under the tenant, and puts them back
// in place of references to them. No Redis, or `store: false`: nothing is kept.

const PREFIX = "relay:responses:item:";
const itemKey = (tenantId: string, id: string) => `${PREFIX}${tenantId}:${id}`;

/** Whether this request's message items are kept: the client did not opt out, and there is Redis. */
export function keepsItems(config: Config, body: Json): boolean {
  return body.store !== false && redisFrom(config) !== null;
}

function referencedId(item: unknown): string | null {
  if (!item || typeof item !== "object") return null;
  const i = item as Json;
  const isReference = i.type === "item_reference" || (i.type === undefined && i.role === undefined);
  return isReference && typeof i.id === "string" && i.id.startsWith(RELAY_MESSAGE_PREFIX) ? i.id : null;
}

/**
 * Replaces references to kept items by the items themselves; one Redis round trip, only when the
 * input refers to relay's items. Returns whether the body changed. A reference that cannot be
 * resolved stays, and the translation drops it with a warning.
 */
export async function restoreItemReferences(config: Config, tenantId: string, body: Json): Promise<boolean> {
  const input = body.input;
  if (!Array.isArray(input)) return false;
  const refs = input.map((item, i) => [i, referencedId(item)] as const).filter(([, id]) => id !== null);
  const redis = refs.length ? redisFrom(config) : null;
  if (!redis) return false;
  let values: (string | null)[];
  try {
    values = await redis.mget<(string | null)[]>(...refs.map(([, id]) => itemKey(tenantId, id as string)));
  } catch (err) {
    console.warn(
      JSON.stringify({ level: "warn", msg: "kept response items unavailable", error: String(err) }),
    );
    return false;
  }
  let changed = false;
  refs.forEach(([i], k) => {
    const value = values[k];
    if (!value) return;
    input[i] = JSON.parse(value);
    changed = true;
  });
  return changed;
}

/** Keeps the message items of a finished response (after the response; never on its path). */
export async function keepItems(config: Config, tenantId: string, items: Json[]): Promise<void> {
  const redis = redisFrom(config);
  if (!redis || items.length === 0) return;
  const pipeline = redis.pipeline();
  for (const item of items) {
    pipeline.set(itemKey(tenantId, String(item.id)), JSON.stringify(item), {
      ex: config.RELAY_RESPONSES_ITEM_TTL_SECONDS,
    });
  }
  try {
    await pipeline.exec();
  } catch (err) {
    console.warn(JSON.stringify({ level: "warn", msg: "could not keep response items", error: String(err) }));
  }
}
