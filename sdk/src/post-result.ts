// Delivers a tool result. The run waits on it, so a lost post would stall the run until relay's
// tool-result timeout: network errors and server errors are retried with backoff.
import { errorFromResponse, RelayError } from "./errors";
import { type RelayHttp, runPath } from "./http";

export interface RetryPolicy {
  /** Attempts after the first. */
  retries: number;
  /** The first delay; each retry doubles it, with jitter. */
  baseDelayMs: number;
  maxDelayMs: number;
}

// About 4 s of retries in all: well inside relay's default 30 s wait for a result.
export const defaultRetry: RetryPolicy = { retries: 4, baseDelayMs: 250, maxDelayMs: 2_000 };

export async function postToolResult(
  http: RelayHttp,
  runId: string,
  toolUseId: string,
  body: string,
  signal: AbortSignal,
  retry: RetryPolicy = defaultRetry,
): Promise<void> {
  const path = runPath(runId, `/tool-results/${encodeURIComponent(toolUseId)}`);
  for (let attempt = 0; ; attempt++) {
    let failure: RelayError;
    try {
      const response = await http.request("POST", path, { body, signal });
      if (response.ok) {
        await response.text(); // read to the end so the connection can be reused
        return;
      }
      failure = await errorFromResponse(response, runId);
    } catch (err) {
      if (!(err instanceof RelayError) || err.code !== "connection_error") throw err;
      failure = err;
    }
    // A retry may find its own first attempt stored (the answer to it was lost): that is success.
    // On a first attempt the same answer means another client answered this call, which is an error.
    if (attempt > 0 && failure.status === 409 && failure.code === "tool_result_already_submitted") return;
    if (!isRetryable(failure) || attempt >= retry.retries) throw failure;
    await sleep(backoff(attempt, retry), signal);
  }
}

function isRetryable(error: RelayError): boolean {
  if (error.status === null) return true; // the request never got an answer
  return error.status === 408 || error.status === 429 || error.status >= 500;
}

function backoff(attempt: number, retry: RetryPolicy): number {
  const ceiling = Math.min(retry.maxDelayMs, retry.baseDelayMs * 2 ** attempt);
  // Jitter spreads out the retries of the many calls of one turn that failed together.
  return ceiling / 2 + Math.random() * (ceiling / 2);
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}
