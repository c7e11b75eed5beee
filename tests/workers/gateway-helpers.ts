import { SseParser } from "../../common/sse";
import { bindings, call, createTenant } from "./helpers";

export const MOCK = bindings.MOCK_UPSTREAM_URL as string;

/** A tenant with credentials for the mock OpenAI (built-in and as `groq`) and the mock Anthropic. */
export async function gatewayTenant() {
  const tenant = await createTenant();
  const put = (name: string, json: unknown) =>
    call(`/v1/credentials/${name}`, { method: "PUT", key: tenant.apiKey, json });
  await put("openai", { apiKey: "sk-test-openai", baseUrl: `${MOCK}/openai/v1` });
  await put("anthropic", { apiKey: "sk-ant-test", baseUrl: `${MOCK}/anthropic` });
  await put("groq", { apiKey: "sk-test-openai", baseUrl: `${MOCK}/openai/v1` });
  return tenant;
}

export interface Recorded {
  path: string;
  model: string;
  headers: Record<string, string>;
  body: any;
  closedEarly: boolean;
}

/** What the mock upstream received for one model name. */
export async function upstreamSaw(model: string): Promise<Recorded[]> {
  const res = await fetch(`${MOCK}/_mock/requests?model=${encodeURIComponent(model)}`);
  return (await res.json()) as Recorded[];
}

export function unique(base: string, ...flags: string[]): string {
  return [base, ...flags, crypto.randomUUID().slice(0, 8)].join("~");
}

/** A streamed body as its events. */
export function events(text: string): { event?: string; data: string }[] {
  const parser = new SseParser();
  return [...parser.push(text), ...parser.flush()].map(({ event, data }) => ({ event, data }));
}

export function chunks(text: string): any[] {
  return events(text)
    .filter((e) => e.data !== "[DONE]")
    .map((e) => JSON.parse(e.data));
}
