// Defaults from the environment, where there is one: Node and Bun have `process.env`, Deno has
// `Deno.env`. Workers and browsers have neither, so there the options must be passed explicitly.
// Reached through globalThis so the SDK never imports a runtime-specific module.

interface RuntimeGlobals {
  process?: { env?: Record<string, string | undefined> };
  Deno?: { env?: { get(name: string): string | undefined } };
}

export function readEnv(name: string): string | undefined {
  const globals = globalThis as RuntimeGlobals;
  const fromProcess = globals.process?.env?.[name];
  if (fromProcess) return fromProcess;
  try {
    return globals.Deno?.env?.get(name) || undefined;
  } catch {
    // Deno without --allow-env throws; no permission means no default.
    return undefined;
  }
}
