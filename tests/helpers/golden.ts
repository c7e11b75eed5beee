import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { expect } from "vitest";
import { SseParser } from "../../common/sse";
import type { StreamTranslator } from "../../workers/translate/streams";

// Golden fixtures of the translators: inputs are hand-written in the providers' real formats; the
// expected outputs were produced once, read line by line, and are pinned. UPDATE_GOLDEN=1 rewrites them.
const dir = resolve(import.meta.dirname, "../fixtures/translate");

export const fixture = (name: string) => readFileSync(resolve(dir, name), "utf8");
export const fixtureJson = (name: string) => JSON.parse(fixture(name));

export function golden(name: string, actual: string): void {
  const path = resolve(dir, name);
  if (process.env.UPDATE_GOLDEN === "1" || !existsSync(path)) writeFileSync(path, actual);
  expect(actual).toBe(readFileSync(path, "utf8"));
}

/** Feeds a stream through a translator in uneven slices, as a network would deliver it. */
export function runStream(translator: StreamTranslator, input: string, slice = 37): string {
  const parser = new SseParser();
  let out = "";
  for (let i = 0; i < input.length; i += slice)
    for (const ev of parser.push(input.slice(i, i + slice))) out += translator.event(ev);
  for (const ev of parser.flush()) out += translator.event(ev);
  return out + translator.end();
}
