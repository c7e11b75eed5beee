import type { Config } from "../config/env";
import { record } from "../outbox/outbox";
import type { UsageRecord } from "../outbox/records";

export type { UsageRecord };

/** One usage event per model call, after the response: through the outbox, so it is never lost. */
export function recordUsage(config: Config, usage: UsageRecord): Promise<void> {
  return record(config, { kind: "usage", ...usage });
}
