import type { Config } from "../config/env";
import type { TokenUsage } from "../translate/types";

/** USD per million tokens. `cached_input` applies to cache reads; it defaults to `input`. */
export interface Price {
  input: number;
  output: number;
  cached_input?: number;
}

// Public list prices. Keys match a model name exactly or as a prefix (the longest prefix wins),
// so dated snapshots (`claude-sonnet-4-5-20250929`) find their family. RELAY_MODEL_PRICES adds
// to and overrides this table.
const BUILT_IN: Record<string, Price> = {
  "claude-opus-4": { input: 15, output: 75, cached_input: 1.5 },
  "claude-opus-4-5": { input: 5, output: 25, cached_input: 0.5 },
  "claude-sonnet-4": { input: 3, output: 15, cached_input: 0.3 },
  "claude-3-7-sonnet": { input: 3, output: 15, cached_input: 0.3 },
  "claude-3-5-sonnet": { input: 3, output: 15, cached_input: 0.3 },
  "claude-haiku-4-5": { input: 1, output: 5, cached_input: 0.1 },
  "claude-3-5-haiku": { input: 0.8, output: 4, cached_input: 0.08 },
  "claude-3-haiku": { input: 0.25, output: 1.25, cached_input: 0.03 },
  "gpt-5": { input: 1.25, output: 10, cached_input: 0.125 },
  "gpt-5-mini": { input: 0.25, output: 2, cached_input: 0.025 },
  "gpt-5-nano": { input: 0.05, output: 0.4, cached_input: 0.005 },
  "gpt-4.1": { input: 2, output: 8, cached_input: 0.5 },
  "gpt-4.1-mini": { input: 0.4, output: 1.6, cached_input: 0.1 },
  "gpt-4.1-nano": { input: 0.1, output: 0.4, cached_input: 0.025 },
  "gpt-4o": { input: 2.5, output: 10, cached_input: 1.25 },
  "gpt-4o-mini": { input: 0.15, output: 0.6, cached_input: 0.075 },
  o1: { input: 15, output: 60, cached_input: 7.5 },
  "o1-mini": { input: 1.1, output: 4.4, cached_input: 0.55 },
  o3: { input: 2, output: 8, cached_input: 0.5 },
  "o3-mini": { input: 1.1, output: 4.4, cached_input: 0.55 },
  "o4-mini": { input: 1.1, output: 4.4, cached_input: 0.275 },
  "text-embedding-3-small": { input: 0.02, output: 0 },
  "text-embedding-3-large": { input: 0.13, output: 0 },
  "text-embedding-ada-002": { input: 0.1, output: 0 },
};

let merged: { source: Config["RELAY_MODEL_PRICES"]; keys: [string, Price][] } | undefined;

function table(config: Config): [string, Price][] {
  if (merged && merged.source === config.RELAY_MODEL_PRICES) return merged.keys;
  const all = { ...BUILT_IN, ...config.RELAY_MODEL_PRICES };
  // Longest first, so the first prefix that matches is the most specific.
  const keys = Object.entries(all).sort((a, b) => b[0].length - a[0].length);
  merged = { source: config.RELAY_MODEL_PRICES, keys };
  return keys;
}

export function priceFor(config: Config, model: string): Price | null {
  for (const [key, price] of table(config)) if (model === key || model.startsWith(key)) return price;
  return null;
}

/** Cost in USD, or null when the model has no price. */
export function costOf(config: Config, model: string, usage: TokenUsage): number | null {
  const price = priceFor(config, model);
  if (!price) return null;
  const cachedRate = price.cached_input ?? price.input;
  const uncached = Math.max(usage.input - usage.cached, 0);
  return (uncached * price.input + usage.cached * cachedRate + usage.output * price.output) / 1_000_000;
}
