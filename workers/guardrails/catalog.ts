import type { Config } from "../config/env";
import { guardrailTokenAad, open } from "../credentials/crypto";
import { masterKeys } from "../credentials/master-keys";
import type { RequestDb } from "../db/client";
import { describeGuardrail, type GuardrailRow, listGuardrailRows } from "../db/queries/guardrails";
import type { GuardrailDef } from "./types";

// The catalog, cached in the isolate like keys and credentials: every request needs it (default-on
// guardrails apply to all keys), none may wait on Postgres for it once warm. Past its TTL it is served
// while one background refresh runs; an admin change in this isolate drops it at once, elsewhere
// within the TTL.

const TTL_MS = 10_000;
const STALE_LIMIT_MS = 5 * 60_000;

interface Entry {
  defs: Map<string, GuardrailDef>;
  rows: Map<string, GuardrailRow>;
  tokens: Map<string, Promise<string | null>>;
  freshUntil: number;
  hardExpiry: number;
}

let entry: Entry | undefined;
let loading: Promise<Entry> | undefined;

function load(handle: RequestDb): Promise<Entry> {
  loading ??= listGuardrailRows(handle.db)
    .then((rows) => {
      const now = Date.now();
      entry = {
        defs: new Map(rows.map((r) => [r.name, describeGuardrail(r)])),
        rows: new Map(rows.map((r) => [r.name, r])),
        tokens: new Map(),
        freshUntil: now + TTL_MS,
        hardExpiry: now + TTL_MS + STALE_LIMIT_MS,
      };
      return entry;
    })
    .finally(() => {
      loading = undefined;
    });
  return loading;
}

async function current(handle: RequestDb): Promise<Entry> {
  const now = Date.now();
  if (entry && entry.freshUntil > now) return entry;
  if (entry && entry.hardExpiry > now) {
    if (!loading) handle.defer(() => load(handle));
    return entry;
  }
  return load(handle);
}

export const guardrailCatalog = {
  async defs(handle: RequestDb): Promise<ReadonlyMap<string, GuardrailDef>> {
    return (await current(handle)).defs;
  },

  /** An http guardrail's bearer token, decrypted once per catalog load (null when it has none). */
  async token(handle: RequestDb, config: Config, name: string): Promise<string | null> {
    const e = await current(handle);
    let token = e.tokens.get(name);
    if (!token) {
      const row = e.rows.get(name);
      token =
        row?.tokenCiphertext && row.tokenIv && row.tokenAuthTag
          ? masterKeys(config)
              .then((keys) =>
                open(
                  keys,
                  {
                    ciphertext: row.tokenCiphertext as never,
                    iv: row.tokenIv as never,
                    authTag: row.tokenAuthTag as never,
                  },
                  guardrailTokenAad(name),
                ),
              )
              .then((o) => o.plaintext)
          : Promise.resolve(null);
      e.tokens.set(name, token);
      token.catch(() => e.tokens.delete(name));
    }
    return token;
  },

  forget(): void {
    entry = undefined;
  },
};
