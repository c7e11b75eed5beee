import { errors } from "../../common/errors";
import { type Config, required } from "../config/env";
import { loadMasterKeys, MasterKeyError, type MasterKeys } from "./crypto";

let cached: { source: string; keys: Promise<MasterKeys> } | undefined;

/** The imported master keys, once per isolate (bindings do not change while it lives). */
export async function masterKeys(config: Config): Promise<MasterKeys> {
  const current = required(config, "RELAY_MASTER_KEY");
  const previous = config.RELAY_MASTER_KEY_PREVIOUS;
  const source = `${current}\u0000${previous ?? ""}`;
  if (cached?.source !== source) cached = { source, keys: loadMasterKeys(current, previous) };
  try {
    return await cached.keys;
  } catch (err) {
    cached = undefined;
    if (err instanceof MasterKeyError) throw errors.misconfigured(err.message);
    throw err;
  }
}
