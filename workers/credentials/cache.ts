import type { Config } from "../config/env";
import type { RequestDb } from "../db/client";
import {
  type DecryptedCredential,
  decryptCredential,
  listSealedCredentials,
  type SealedCredential,
} from "../db/queries/credentials";
import { masterKeys } from "./master-keys";

interface Entry {
  expiresAt: number;
  rows: Map<string, SealedCredential>;
  decrypted: Map<string, Promise<DecryptedCredential>>;
}

const MAX_TENANTS = 5_000;

/**
 * Isolate cache of a tenant's credentials, so routing a request needs no database round trip once
 * warm. Rows are fetched per tenant in one query and decrypted on first use. A PUT or DELETE in
 * this isolate forgets the tenant at once; other isolates see it within the TTL.
 */
class CredentialCache {
  private readonly entries = new Map<string, Entry>();
  private readonly loading = new Map<string, Promise<Entry>>();

  private async entry(handle: RequestDb, config: Config, tenantId: string): Promise<Entry> {
    const now = Date.now();
    const hit = this.entries.get(tenantId);
    if (hit && hit.expiresAt > now) return hit;
    let pending = this.loading.get(tenantId);
    if (!pending) {
      pending = listSealedCredentials(handle.db, tenantId)
        .then((rows) => {
          const entry: Entry = {
            expiresAt: Date.now() + config.RELAY_CREDENTIAL_CACHE_TTL_MS,
            rows: new Map(rows.map((r) => [r.name, r])),
            decrypted: new Map(),
          };
          if (config.RELAY_CREDENTIAL_CACHE_TTL_MS > 0) {
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
    }
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
      decrypted = masterKeys(config).then((keys) => decryptCredential(row, keys));
      entry.decrypted.set(name, decrypted);
      decrypted.catch(() => entry.decrypted.delete(name));
    }
    return decrypted;
  }

  forget(tenantId: string): void {
    this.entries.delete(tenantId);
  }
}

export const credentialCache = new CredentialCache();
