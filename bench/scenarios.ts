// What `npm run bench` measures: the targets (what the load generator talks to) and the scenarios
// (the load and the upstream's answer). A new target is a name in `TargetName`, an entry in
// `TARGETS` and a place in a scenario's `targets`; one that needs relay set up differently (a key
// under a policy, a guardrail) gets it from `seedRelay`'s keys through `RequestContext.apiKeys`.

/** Tokens per stream. */
export const TOKENS = 100;

/** The wire format the upstream answers in. */
export type Format = "openai" | "anthropic";

/** The process that serves a target: its CPU and memory are what a cell measures (none for the mock). */
export type Server = "mock" | "bare" | "relay";

export interface Scenario {
  name: string;
  /** The upstream's format: every target of a scenario is measured against the same upstream stream. */
  format: Format;
  stream: boolean;
  concurrency: number;
  /** Pause before each token event (0: as fast as the upstream can write, still one event per write). */
  delayMs: number;
  /** The upstream writes the first event, then everything else at once: the pre-issue-11 shape. */
  oneWrite?: boolean;
  targets: readonly TargetName[];
  /** Left out of `--quick`. */
  fullOnly?: boolean;
}

export interface RequestContext {
  origin: Record<Server, string>;
  /** Relay API keys seeded for the run, by name; `default` has no policy. */
  apiKeys: Record<string, string>;
}

export interface LoadRequest {
  origin: string;
  path: string;
  headers: Record<string, string>;
  body: string;
}

export interface Target {
  server: Server;
  /** Upstream formats the target can be measured against. */
  formats: readonly Format[];
  request(s: Scenario, ctx: RequestContext): LoadRequest;
  /** SSE events the client must receive from one stream of the scenario. */
  clientEvents(s: Scenario): number;
}

/**
 * Events the mock writes per stream, one write each. OpenAI: role chunk, tokens, finish chunk,
 * usage chunk (every target asks for it, as relay always does upstream), `[DONE]`. Anthropic:
 * message_start, content_block_start, tokens, content_block_stop, message_delta, message_stop.
 */
export function upstreamEvents(format: Format): number {
  return format === "openai" ? TOKENS + 4 : TOKENS + 5;
}

/** The mock reads the stream's shape from the model name (see mock-upstream.ts). */
const upstreamModel = (s: Scenario) => `bench-${TOKENS}-${s.delayMs}${s.oneWrite ? "-once" : ""}`;

const JSON_HEADERS = { "content-type": "application/json" };
const PROMPT = "Say hello to the benchmark.";
/** What the pii-redact target sends: personal data for pre_call to find. */
const PII_PROMPT = "Say hello to john@example.com, card 4111 1111 1111 1111, phone +1 415-555-0123.";

function openAIBody(model: string, stream: boolean, includeUsage: boolean, prompt = PROMPT): string {
  return JSON.stringify({
    model,
    messages: [{ role: "user", content: prompt }],
    stream,
    ...(includeUsage ? { stream_options: { include_usage: true } } : {}),
  });
}

function anthropicBody(model: string, stream: boolean): string {
  return JSON.stringify({ model, max_tokens: 1024, messages: [{ role: "user", content: PROMPT }], stream });
}

const UPSTREAM_PATH: Record<Format, string> = {
  openai: "/openai/v1/chat/completions",
  anthropic: "/anthropic/v1/messages",
};

/** The upstream's own API, called on the mock's paths: the direct path and the bare Workers. */
function upstreamApi(server: Server, prefix = ""): Target {
  return {
    server,
    formats: ["openai", "anthropic"],
    request: (s, ctx) => ({
      origin: ctx.origin[server],
      path: prefix + UPSTREAM_PATH[s.format],
      headers: JSON_HEADERS,
      body:
        s.format === "openai"
          ? openAIBody(upstreamModel(s), s.stream, s.stream)
          : anthropicBody(upstreamModel(s), s.stream),
    }),
    clientEvents: (s) => upstreamEvents(s.format),
  };
}

/** A relay route: the client's API, the upstream's format (the credential it routes to), the key. */
function relayRoute(opts: {
  client: Format;
  upstream: Format;
  clientEvents: number;
  key?: string;
  prompt?: string;
  /** The client asks for the usage chunk itself (stream_options.include_usage). */
  includeUsage?: boolean;
}): Target {
  return {
    server: "relay",
    formats: [opts.upstream],
    request: (s, ctx) => {
      const model = `${opts.upstream}:${upstreamModel(s)}`;
      const keyName = opts.key ?? "default";
      const key = ctx.apiKeys[keyName];
      if (!key) throw new Error(`no relay API key named '${keyName}' was seeded`);
      return {
        origin: ctx.origin.relay,
        path: opts.client === "openai" ? "/v1/chat/completions" : "/v1/messages",
        headers: { ...JSON_HEADERS, authorization: `Bearer ${key}` },
        // Unless the target says so, the client does not ask for usage: the OpenAI SDK's default.
        body:
          opts.client === "openai"
            ? openAIBody(model, s.stream, s.stream && opts.includeUsage === true, opts.prompt)
            : anthropicBody(model, s.stream),
      };
    },
    clientEvents: () => opts.clientEvents,
  };
}

export type TargetName =
  | "direct"
  | "bare"
  | "bare+js"
  | "relay-openai"
  | "relay-openai-usage"
  | "relay-limited"
  | "relay-pii"
  | "relay-anthropic"
  | "relay-translate";

export const TARGETS: Record<TargetName, Target> = {
  direct: upstreamApi("mock"),
  bare: upstreamApi("bare"),
  "bare+js": upstreamApi("bare", "/js"),
  // OpenAI pass-through. Relay asks upstream for usage and removes the usage chunk the client did
  // not ask for: one event fewer than the upstream sends.
  "relay-openai": relayRoute({ client: "openai", upstream: "openai", clientEvents: TOKENS + 3 }),
  // The same route with a client that asks for usage: relay changes no byte, and the body flows
  // natively beside relay's reader.
  "relay-openai-usage": relayRoute({
    client: "openai",
    upstream: "openai",
    clientEvents: TOKENS + 4,
    includeUsage: true,
  }),
  // The same route with a key under a policy (LIMITED_POLICY: every limit on, none hit): the cost
  // of enforcement, beside relay-openai.
  "relay-limited": relayRoute({
    client: "openai",
    upstream: "openai",
    clientEvents: TOKENS + 3,
    key: "limited",
  }),
  // The same route with a key whose policy makes pii-redact mandatory: the prompt is redacted before
  // the call and every event of the answer goes through the during_call scanner.
  "relay-pii": relayRoute({
    client: "openai",
    upstream: "openai",
    clientEvents: TOKENS + 3,
    key: "pii",
    prompt: PII_PROMPT,
  }),
  // Anthropic pass-through: every upstream event reaches the client.
  "relay-anthropic": relayRoute({ client: "anthropic", upstream: "anthropic", clientEvents: TOKENS + 5 }),
  // Anthropic → OpenAI: role chunk, tokens, finish chunk, [DONE]; block starts and stops, the
  // message delta and message_stop have no event of their own.
  "relay-translate": relayRoute({ client: "openai", upstream: "anthropic", clientEvents: TOKENS + 3 }),
};

/**
 * The bench's key under a policy: rpm, tpm, concurrency and both budgets on, set far above what
 * the load reaches, so every request is checked and admitted. (The bench model has a price, so
 * budgets reserve and settle real amounts.)
 */
export const LIMITED_POLICY = {
  rpm: 10_000_000,
  tpm: 10_000_000_000,
  maxConcurrent: 10_000,
  dailyBudgetUsd: 1_000_000,
  monthlyBudgetUsd: 1_000_000_000,
};

/** The bench's key with pii-redact mandatory. */
export const PII_POLICY = {
  guardrails: { mandatory: ["pii-redact"], optional: [], forbidden: [], overrides: {} },
};

const OPENAI_TARGETS = ["direct", "bare", "bare+js", "relay-openai"] as const;
const STREAM_OPENAI_TARGETS = [...OPENAI_TARGETS, "relay-openai-usage"] as const;
const WITH_LIMITED = [...OPENAI_TARGETS, "relay-limited"] as const;
const ANTHROPIC_TARGETS = ["direct", "bare", "bare+js", "relay-anthropic", "relay-translate"] as const;

export const JSON_C1: Scenario = {
  name: "json c=1",
  format: "openai",
  stream: false,
  concurrency: 1,
  delayMs: 0,
  targets: WITH_LIMITED,
  fullOnly: true,
};
export const JSON_C50: Scenario = { ...JSON_C1, name: "json c=50", concurrency: 50, fullOnly: false };
export const SSE_OPENAI: Scenario = {
  name: "sse openai c=20",
  format: "openai",
  stream: true,
  concurrency: 20,
  delayMs: 0,
  targets: [...STREAM_OPENAI_TARGETS, "relay-limited", "relay-pii"],
};
export const SSE_ANTHROPIC: Scenario = {
  ...SSE_OPENAI,
  name: "sse anthropic c=20",
  format: "anthropic",
  targets: ANTHROPIC_TARGETS,
};
export const PACED_OPENAI: Scenario = {
  ...SSE_OPENAI,
  name: "sse openai c=20 10ms",
  delayMs: 10,
  targets: STREAM_OPENAI_TARGETS,
};
export const PACED_ANTHROPIC: Scenario = { ...SSE_ANTHROPIC, name: "sse anthropic c=20 10ms", delayMs: 10 };
export const ONE_WRITE_OPENAI: Scenario = {
  ...SSE_OPENAI,
  name: "extra: sse openai c=20 one write",
  oneWrite: true,
  fullOnly: true,
  targets: OPENAI_TARGETS,
};

// Unpaced before paced: the paced cells' short warm-up relies on the JIT warmed by the unpaced ones.
export const SCENARIOS: readonly Scenario[] = [
  JSON_C1,
  JSON_C50,
  SSE_OPENAI,
  SSE_ANTHROPIC,
  PACED_OPENAI,
  PACED_ANTHROPIC,
  ONE_WRITE_OPENAI,
];

/** Throws when a scenario names a target that cannot be measured against its upstream's format. */
export function checkScenarios(scenarios: readonly Scenario[]): void {
  for (const s of scenarios) {
    for (const t of s.targets) {
      if (!TARGETS[t].formats.includes(s.format))
        throw new Error(`${s.name}: target ${t} does not take a ${s.format} upstream`);
    }
  }
}
