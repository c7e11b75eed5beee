import { Hono } from "hono";
import { RelayError } from "../../common/errors";
import type { AppEnv } from "../http/types";
import { callSidecar } from "../local/sidecar";

// The sidecar's lifecycle API, for operators: the Worker signs the internal JWT, so neither the
// console nor an operator's script needs the sidecar's own token or a route to it.

interface SidecarStatus {
  settings: { maxWarmModels: number; idleShutdownMs: number; serializeRequests: boolean };
  models: { name: string; [field: string]: unknown }[];
}

interface SidecarModel {
  id: string;
  ctx_size?: number;
  multimodal?: boolean;
}

const STATUS_TIMEOUT_MS = 5000;
// A load waits for the model to answer its health check, which may take minutes for a big model.
const LOAD_TIMEOUT_MS = 15 * 60_000;

function modelPath(name: string, action: string): string {
  return `/relay/models/${encodeURIComponent(name)}/${action}`;
}

export const localModelRoutes = new Hono<AppEnv>()
  .get("/", async (c) => {
    const config = c.get("config");
    if (!config.SIDECAR_URL) {
      return c.json({ configured: false, enabled: false, settings: null, models: [] });
    }
    let status: SidecarStatus;
    let listed: SidecarModel[];
    try {
      const [s, m] = await Promise.all([
        callSidecar(config, "/relay/status", { timeoutMs: STATUS_TIMEOUT_MS }),
        callSidecar(config, "/v1/models", { timeoutMs: STATUS_TIMEOUT_MS }),
      ]);
      status = (await s.json()) as SidecarStatus;
      listed = ((await m.json()) as { data: SidecarModel[] }).data;
    } catch (err) {
      // A sidecar without local models has no lifecycle routes at all.
      if (err instanceof RelayError && err.code === "route_not_found") {
        return c.json({ configured: true, enabled: false, settings: null, models: [] });
      }
      throw err;
    }
    const specs = new Map(listed.map((m) => [m.id, m]));
    return c.json({
      configured: true,
      enabled: true,
      settings: status.settings,
      models: status.models.map((m) => ({
        ...m,
        ctxSize: specs.get(m.name)?.ctx_size ?? null,
        multimodal: specs.get(m.name)?.multimodal ?? false,
      })),
    });
  })
  .post("/:name/load", async (c) => {
    const res = await callSidecar(c.get("config"), modelPath(c.req.param("name"), "load"), {
      method: "POST",
      timeoutMs: LOAD_TIMEOUT_MS,
    });
    return c.json(await res.json());
  })
  .post("/:name/unload", async (c) => {
    const res = await callSidecar(c.get("config"), modelPath(c.req.param("name"), "unload"), {
      method: "POST",
      timeoutMs: LOAD_TIMEOUT_MS,
    });
    return c.json(await res.json());
  })
  .get("/:name/logs", async (c) => {
    const name = c.req.param("name");
    const res = await callSidecar(c.get("config"), `/relay/logs/${encodeURIComponent(name)}`, {
      timeoutMs: STATUS_TIMEOUT_MS,
    });
    return c.json({ name, log: await res.text() });
  });
