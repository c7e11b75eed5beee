import { z } from "zod";

// The lifecycle settings of the seed's configuration table, with its defaults.

const modelEntry = z
  .object({
    cmd: z.string().min(1, "cmd is required"),
    ctx_size: z.number().int().positive(),
    timeout_sec: z.number().positive().optional(),
    multimodal: z.boolean().optional(),
    port: z.number().int().min(1).max(65535).optional(),
    thinking_levels: z.array(z.enum(["on", "off"])).optional(),
    expert_flag: z.string().optional(),
    health_url: z.url({ protocol: /^https?$/ }).optional(),
  })
  .strict();

export type ModelSpec = z.output<typeof modelEntry>;

const bool = (def: boolean) =>
  z
    .enum(["true", "false", "1", "0", ""])
    .optional()
    .transform((v) => (v === undefined || v === "" ? def : v === "true" || v === "1"));
const ms = (def: number) => z.coerce.number().int().min(0).default(def);

/** RELAY_MODEL_MAP: JSON name → spec. A bad entry is an error naming it. */
const modelMap = z
  .string()
  .optional()
  .transform((v, ctx): Record<string, ModelSpec> => {
    if (!v?.trim()) return {};
    let raw: unknown;
    try {
      raw = JSON.parse(v);
    } catch {
      ctx.addIssue({ code: "custom", message: "must be a JSON object of model name → start config" });
      return z.NEVER;
    }
    if (!raw || typeof raw !== "object" || Array.isArray(raw)) {
      ctx.addIssue({ code: "custom", message: "must be a JSON object of model name → start config" });
      return z.NEVER;
    }
    const out: Record<string, ModelSpec> = {};
    for (const [name, entry] of Object.entries(raw)) {
      if (!/^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/.test(name)) {
        ctx.addIssue({
          code: "custom",
          message: `entry '${name}': names are letters, digits, '.', '_', '-', ':'`,
        });
        return z.NEVER;
      }
      const parsed = modelEntry.safeParse(entry);
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        ctx.addIssue({
          code: "custom",
          message: `entry '${name}': ${issue?.path.join(".") || "value"} ${issue?.message}`,
        });
        return z.NEVER;
      }
      out[name] = parsed.data;
    }
    return out;
  });

export const lifecycleSchema = z.object({
  RELAY_MODEL_LIFECYCLE_ENABLED: bool(false),
  RELAY_MODEL_MAP: modelMap,
  RELAY_SWITCH_POLICY: z.enum(["eager"]).default("eager"),
  RELAY_MODEL_PORT_BASE: z.coerce.number().int().min(1).max(65535).default(8081),
  RELAY_MODEL_IDLE_SHUTDOWN_MS: ms(3_600_000),
  RELAY_MODEL_START_TIMEOUT_MS: ms(120_000),
  RELAY_SWITCH_MAX_WARM_MODELS: z.coerce.number().int().min(1).default(2),
  RELAY_SERIALIZE_REQUESTS: bool(false),
  RELAY_LIFECYCLE_RING_BUFFER_BYTES: z.coerce.number().int().min(1024).default(65_536),
  RELAY_LIFECYCLE_SHUTDOWN_CONFIRM_TIMEOUT_MS: ms(10_000),
  RELAY_LIFECYCLE_CIRCUIT_BREAKER_THRESHOLD: z.coerce.number().int().min(1).default(3),
  RELAY_LIFECYCLE_CIRCUIT_BREAKER_WINDOW_MS: ms(300_000),
  RELAY_LIFECYCLE_CIRCUIT_BREAKER_COOLDOWN_MS: ms(120_000),
  RELAY_MODEL_QUEUE_LIMIT: z.coerce.number().int().min(1).default(64),
});

export type LifecycleSettings = z.output<typeof lifecycleSchema>;
