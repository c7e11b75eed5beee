import { errors } from "../../common/errors";
import type { Config } from "../config/env";
import type { RequestDb } from "../db/client";
import {
  type DecryptedCredential,
  decryptCredential,
  listSealedCredentials,
  type SealedCredential,
} from "../db/queries/credentials";
import { masterKeys } from "./master-keys";
import { checkUpstreamUrl } from "./ssrf";

interface Entry {
  /** Fresh until then; after it, served while one background refresh runs. */
  freshUntil: number;
  hardExpiry: number;
  rows: Map<string, SealedCredential>;
  decrypted: Map<string, Promise<DecryptedCredential>>;
}

const MAX_TENANTS = 5_000;
/** How long credentials may be served from cache while Postgres cannot be reached. */
const STALE_LIMIT_MS = 5 * 60_000;

/**
 * Isolate cache of a tenant's credentials, so routing a request needs no database round trip once
 * warm. Rows are fetched per tenant in one query and decrypted on first use. Past the TTL the entry
 * is still served while one background refresh runs (stale-while-revalidate). A PUT or DELETE in
 * this isolate forgets the tenant at once; other isolates see it within the TTL plus one refresh.
 */
class CredentialCache {
  private readonly entries = new Map<string, Entry>();
  private readonly loading = new Map<string, Promise<Entry>>();

  private async entry(handle: RequestDb, config: Config, tenantId: string): Promise<Entry> {
    const now = Date.now();
    const hit = this.entries.get(tenantId);
    if (hit && hit.freshUntil > now) return hit;
    if (hit && hit.hardExpiry > now) {
      if (!this.loading.has(tenantId)) handle.defer(() => this.load(handle, config, tenantId));
      return hit;
    }
    return this.load(handle, config, tenantId);
  }

  private load(handle: RequestDb, config: Config, tenantId: string): Promise<Entry> {
    let pending = this.loading.get(tenantId);
    if (pending) return pending;
    pending = listSealedCredentials(handle.db, tenantId)
      .then((rows) => {
        const now = Date.now();
        const ttl = config.RELAY_CREDENTIAL_CACHE_TTL_MS;
        const entry: Entry = {
          freshUntil: now + ttl,
          hardExpiry: now + ttl + STALE_LIMIT_MS,
          rows: new Map(rows.map((r) => [r.name, r])),
          decrypted: new Map(),
        };
        if (ttl > 0) {
          this.entries.delete(tenantId);
          if (this.entries.size >= MAX_TENANTS) {
            const oldest = this.entries.keys().next().value;
            if (oldest !== undefined) this.entries.delete(oldest);
          }
          this.entries.set(tenantId, entry);
        }
        return entry;
      })
      .finally(() => this.loading.delete(tenantId));
    this.loading.set(tenantId, pending);
    return pending;
  }

  async names(handle: RequestDb, config: Config, tenantId: string): Promise<Set<string>> {
    return new Set((await this.entry(handle, config, tenantId)).rows.keys());
  }

  async get(
    handle: RequestDb,
    config: Config,
    tenantId: string,
    name: string,
  ): Promise<DecryptedCredential | null> {
    const entry = await this.entry(handle, config, tenantId);
    const row = entry.rows.get(name);
    if (!row) return null;
    let decrypted = entry.decrypted.get(name);
    if (!decrypted) {
      decrypted = masterKeys(config)
        .then((keys) => decryptCredential(row, keys))
        .then((cred) => vetted(cred, config));
      entry.decrypted.set(name, decrypted);
      decrypted.catch(() => entry.decrypted.delete(name));
    }
    return decrypted;
  }

  forget(tenantId: string): void {
    this.entries.delete(tenantId);
  }
}

/**
 * A stored base URL is checked again when it is used, once per cache load: rows written before a
 * rule existed (cloud metadata is never an upstream) or before the operator turned private
 * upstreams off must not reach the network.
 */
function vetted(cred: DecryptedCredential, config: Config): DecryptedCredential {
  if (!cred.baseUrl) return cred;
  const check = checkUpstreamUrl(cred.baseUrl, config.RELAY_ALLOW_PRIVATE_UPSTREAMS);
  if (!check.ok) {
    throw errors.badRequest(
      "invalid_base_url",
      `The '${cred.name}' credential's baseUrl ${check.reason}: PUT /v1/credentials/${cred.name} with another baseUrl`,
      "model",
    );
  }
  return cred;
}

export const credentialCache = new CredentialCache();
