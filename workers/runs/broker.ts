import { errors, RelayError } from "../../common/errors";
import type { Config } from "../config/env";
import { sidecarToken } from "../local/sidecar";

// The Worker's side of the pending-tool broker in the sidecar (sidecar/src/broker): the agent loop
// registers a run and its tool calls, and waits for results by long-polling, which costs the Worker
// no CPU; results posted through any isolate wake the wait on any sidecar replica. A long-poll that
// breaks (a replica restarted, a network blip) is simply asked again until the run's deadline.

/** A call every run registers for itself: its wait returns once the run ends (a cancel from elsewhere). */
export const RUN_END_CALL = "~run-end";
const POLL_MS = 25_000;
const RETRY_MS = 250;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function brokerUrl(config: Config): string {
  if (!config.SIDECAR_URL) {
    throw errors.unavailable(
      "broker_unavailable",
      "Agent runs need the sidecar's tool broker: set SIDECAR_URL (npm run dev does)",
    );
  }
  return `${config.SIDECAR_URL.replace(/\/+$/, "")}/broker/runs`;
}

async function call(
  config: Config,
  path: string,
  init: { method: string; body?: unknown; signal?: AbortSignal; timeoutMs?: number },
): Promise<Response> {
  const signal = AbortSignal.any([
    AbortSignal.timeout(init.timeoutMs ?? 10_000),
    ...(init.signal ? [init.signal] : []),
  ]);
  try {
    return await fetch(`${brokerUrl(config)}${path}`, {
      method: init.method,
      headers: {
        authorization: `Bearer ${await sidecarToken(config)}`,
        ...(init.body !== undefined ? { "content-type": "application/json" } : {}),
      },
      body: init.body !== undefined ? JSON.stringify(init.body) : undefined,
      signal,
    });
  } catch (err) {
    if (init.signal?.aborted) throw err;
    throw errors.unavailable(
      "broker_unavailable",
      `The tool broker cannot be reached: ${(err as Error).message}`,
    );
  }
}

/** The broker's own error, as relay's (its codes are the API's: run_not_found, tool_call_not_found…). */
async function brokerFailure(res: Response): Promise<RelayError> {
  let body: { error?: { code?: string; message?: string; type?: string } } = {};
  try {
    body = (await res.json()) as typeof body;
  } catch {}
  const code = body.error?.code ?? (res.status >= 500 ? "broker_unavailable" : "broker_error");
  const message = body.error?.message ?? `The tool broker answered ${res.status}`;
  return new RelayError({ status: res.status, type: body.error?.type ?? "api_error", code, message });
}

async function ok(res: Response): Promise<unknown> {
  if (!res.ok) throw await brokerFailure(res);
  return res.json();
}

const path = (runId: string, rest = "") => `/${encodeURIComponent(runId)}${rest}`;
const callPath = (runId: string, toolUseId: string, tail: string) =>
  path(runId, `/calls/${encodeURIComponent(toolUseId)}${tail}`);

export const broker = {
  async registerRun(config: Config, runId: string, tenantId: string): Promise<void> {
    await ok(await call(config, path(runId), { method: "PUT", body: { tenantId } }));
    await ok(
      await call(config, path(runId, "/calls"), { method: "POST", body: { tenantId, ids: [RUN_END_CALL] } }),
    );
  },

  async addCalls(config: Config, runId: string, tenantId: string, ids: string[]): Promise<void> {
    await ok(await call(config, path(runId, "/calls"), { method: "POST", body: { tenantId, ids } }));
  },

  async submitResult(
    config: Config,
    runId: string,
    tenantId: string,
    toolUseId: string,
    output: unknown,
  ): Promise<void> {
    await ok(
      await call(config, callPath(runId, toolUseId, "/result"), {
        method: "POST",
        body: { tenantId, output },
      }),
    );
  },

  /** Ends the run; returns the status it ended with (the first end wins). */
  async endRun(config: Config, runId: string, tenantId: string, status: "completed" | "failed" | "canceled") {
    const body = (await ok(
      await call(config, path(runId, "/end"), { method: "POST", body: { tenantId, status } }),
    )) as { run: { status: string } };
    return body.run.status;
  },

  /**
   * A call's result once it is posted. Throws tool_result_timeout at the deadline, and the broker's
   * own error when the run ended meanwhile (run_not_waiting). Network failures and busy replicas are
   * asked again until the deadline.
   */
  async waitResult(
    config: Config,
    runId: string,
    tenantId: string,
    toolUseId: string,
    deadline: number,
    signal: AbortSignal,
  ): Promise<unknown> {
    for (;;) {
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new RelayError({
          status: 504,
          type: "timeout_error",
          code: "tool_result_timeout",
          message: `No result for tool call ${toolUseId} within RELAY_TOOL_RESULT_TIMEOUT_MS=${config.RELAY_TOOL_RESULT_TIMEOUT_MS}`,
        });
      }
      const waitMs = Math.min(POLL_MS, left);
      let res: Response;
      try {
        res = await call(
          config,
          `${callPath(runId, toolUseId, "/result")}?tenantId=${tenantId}&waitMs=${waitMs}`,
          {
            method: "GET",
            signal,
            timeoutMs: waitMs + 5000,
          },
        );
      } catch (err) {
        if (signal.aborted) throw err;
        await sleep(RETRY_MS);
        continue;
      }
      if (res.status === 200) return ((await res.json()) as { output: unknown }).output;
      if (res.status === 204) continue;
      if (res.status >= 500) {
        await res.body?.cancel();
        await sleep(RETRY_MS);
        continue;
      }
      throw await brokerFailure(res);
    }
  },
};
