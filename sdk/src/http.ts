// The connection to one relay: its base URL, the key, and the fetch to use.
import { errorFromResponse, RelayError } from "./errors";

export type FetchLike = (input: string, init: RequestInit) => Promise<Response>;

export class RelayHttp {
  readonly baseUrl: string;
  private readonly headers: Record<string, string>;
  private readonly fetchImpl: FetchLike;

  constructor(baseUrl: string, apiKey: string, fetchImpl: FetchLike | undefined) {
    // RELAY_URL may be set the way OpenAI-SDK users set a base URL, ending in /v1; the paths below add it.
    this.baseUrl = baseUrl.replace(/\/+$/, "").replace(/\/v1$/, "");
    this.headers = { authorization: `Bearer ${apiKey}` };
    // Looked up at call time, and called unbound: some runtimes reject a detached `this` for fetch.
    this.fetchImpl = fetchImpl ?? ((input, init) => globalThis.fetch(input, init));
  }

  /** A request to `path`; a JSON body is sent as JSON. Network errors become RelayError `connection_error`. */
  async request(
    method: string,
    path: string,
    init: { body?: string; accept?: string; signal?: AbortSignal } = {},
  ): Promise<Response> {
    const headers: Record<string, string> = { ...this.headers, accept: init.accept ?? "application/json" };
    if (init.body !== undefined) headers["content-type"] = "application/json";
    try {
      return await this.fetchImpl(`${this.baseUrl}${path}`, {
        method,
        headers,
        body: init.body,
        signal: init.signal,
      });
    } catch (err) {
      if (init.signal?.aborted) throw init.signal.reason;
      throw new RelayError({
        code: "connection_error",
        message: `Could not reach relay at ${this.baseUrl}: ${err instanceof Error ? err.message : String(err)}`,
        cause: err,
      });
    }
  }

  /** A JSON request whose non-2xx answer is thrown as a RelayError. */
  async json<T>(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
    const response = await this.request(method, path, {
      body: body === undefined ? undefined : JSON.stringify(body),
      signal,
    });
    if (!response.ok) throw await errorFromResponse(response);
    return (await response.json()) as T;
  }
}

export function runPath(runId: string, rest = ""): string {
  return `/v1/runs/${encodeURIComponent(runId)}${rest}`;
}
