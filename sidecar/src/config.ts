import { z } from "zod";

const hostPort = z.string().regex(/^[^\s:]+:\d{1,5}$|^\[[0-9a-fA-F:]+\]:\d{1,5}$/, "must be host:port");

const schema = z.object({
  RELAY_SIDECAR_HOST: z.string().min(1).default("127.0.0.1"),
  RELAY_SIDECAR_PORT: z.coerce.number().int().min(0).max(65535).default(8790),
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
});

export type SidecarConfig = z.output<typeof schema>;

/** Validated at start: a bad value stops the sidecar with a message naming the variable. */
export function loadSidecarConfig(env: NodeJS.ProcessEnv): SidecarConfig {
  const result = schema.safeParse(env);
  if (!result.success) {
    const problems = result.error.issues.map((i) => `  ${i.path.join(".")}: ${i.message}`).join("\n");
    throw new Error(`invalid sidecar configuration:\n${problems}`);
  }
  if (result.data.RELAY_REDIS_REST_TOKEN && !result.data.REDIS_URL) {
    throw new Error("invalid sidecar configuration:\n  RELAY_REDIS_REST_TOKEN needs REDIS_URL");
  }
  return result.data;
}
