import { tmpdir } from "node:os";
import { join } from "node:path";
import { z } from "zod";
import { brokerSchema } from "./broker/settings";
import { lifecycleSchema } from "./lifecycle/settings";

const hostPort = z.string().regex(/^[^\s:]+:\d{1,5}$|^\[[0-9a-fA-F:]+\]:\d{1,5}$/, "must be host:port");

const schema = z
  .object({
    RELAY_SIDECAR_HOST: z.string().min(1).default("127.0.0.1"),
    RELAY_SIDECAR_PORT: z.coerce.number().int().min(0).max(65535).default(8790),
    // When the port is taken, try the next ones (as many as this says) instead of failing: binding is
    // the only race-free test of a free port. `npm run dev` uses it; production wants a fixed port.
    RELAY_SIDECAR_PORT_SEARCH: z.coerce.number().int().min(0).max(1000).default(0),
    // Echoed in /health's x-relay-instance header, so whoever started this process knows it answers.
    RELAY_INSTANCE_ID: z.string().optional(),
    REDIS_URL: z
      .string()
      .regex(/^rediss?:\/\//, "must be a redis:// or rediss:// URL")
      .optional()
      .or(z.literal("").transform(() => undefined)),
    RELAY_REDIS_REST_TOKEN: z.string().min(16, "must be at least 16 characters").optional(),
    RELAY_PG_PROXY_TARGETS: z
      .string()
      .optional()
      .transform((v) =>
        v
          ? v
              .split(",")
              .map((s) => s.trim())
              .filter(Boolean)
          : [],
      )
      .pipe(z.array(hostPort)),
    RELAY_SHUTDOWN_GRACE_MS: z.coerce.number().int().min(0).max(600_000).default(10_000),
    // The Worker's internal JWTs are signed with this; operators may use RELAY_OPERATOR_TOKEN instead.
    RELAY_INTERNAL_SECRET: z.string().min(16, "must be at least 16 characters").optional(),
    RELAY_OPERATOR_TOKEN: z.string().min(16, "must be at least 16 characters").optional(),
    // Where the PIDs of running models are kept, so a restart after a crash can reclaim their ports.
    RELAY_LIFECYCLE_STATE_FILE: z.string().optional(),
  })
  .extend(lifecycleSchema.shape)
  .extend(brokerSchema.shape);

export type SidecarConfig = z.output<typeof schema> & { RELAY_LIFECYCLE_STATE_FILE: string };

/** Every setting the sidecar reads, from its one schema (`npm run dev` forwards exactly these). */
export const SIDECAR_SETTINGS: readonly string[] = Object.keys(schema.shape);

/** Validated at start: a bad value stops the sidecar with a message naming the variable. */
export function loadSidecarConfig(env: NodeJS.ProcessEnv): SidecarConfig {
  const result = schema.safeParse(env);
  if (!result.success) {
    const problems = result.error.issues.map((i) => `  ${i.path.join(".")}: ${i.message}`).join("\n");
    throw new Error(`invalid sidecar configuration:\n${problems}`);
  }
  const config = result.data;
  if (config.RELAY_REDIS_REST_TOKEN && !config.REDIS_URL) {
    throw new Error("invalid sidecar configuration:\n  RELAY_REDIS_REST_TOKEN needs REDIS_URL");
  }
  if (config.RELAY_MODEL_LIFECYCLE_ENABLED && !config.RELAY_INTERNAL_SECRET && !config.RELAY_OPERATOR_TOKEN) {
    throw new Error(
      "invalid sidecar configuration:\n  local models need RELAY_INTERNAL_SECRET (shared with the Worker) or RELAY_OPERATOR_TOKEN",
    );
  }
  return {
    ...config,
    RELAY_LIFECYCLE_STATE_FILE:
      config.RELAY_LIFECYCLE_STATE_FILE ??
      join(tmpdir(), `relay-sidecar-${config.RELAY_SIDECAR_PORT}.models.json`),
  };
}
