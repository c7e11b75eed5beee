import { z } from "zod";

// The broker's settings. Its TTLs are fixed (see redis.ts): they bound memory, they are not a knob.

export const brokerSchema = z.object({
  // Namespace of every broker key, so deployments (or test runs) can share one Redis.
  RELAY_BROKER_KEY_PREFIX: z
    .string()
    .regex(/^[^\s{}]{1,64}$/, "at most 64 characters, no spaces or braces")
    .default("relay:broker:"),
  // Redis connections a replica may hold blocked in waits at once; more waits get 503 broker_busy.
  RELAY_BROKER_MAX_WAITERS: z.coerce.number().int().min(1).max(10_000).default(512),
  // Largest request body (a tool result with its envelope); keep it ≥ the Worker's MAX_REQUEST_BODY_BYTES.
  RELAY_BROKER_MAX_BODY_BYTES: z.coerce.number().int().min(1024).max(104_857_600).default(8_388_608),
});

export type BrokerSettings = z.output<typeof brokerSchema>;
