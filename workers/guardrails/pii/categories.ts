import { z } from "zod";

/** What pii-redact can find, each switched on per key through `categories`. */
export const PII_CATEGORIES = ["email", "phone", "ssn", "card", "iban", "ip", "secret"] as const;
export type PiiCategory = (typeof PII_CATEGORIES)[number];

/** The word inside a category's placeholders: `[EMAIL_1]`. */
export const PLACEHOLDER_LABELS: Record<PiiCategory, string> = {
  email: "EMAIL",
  phone: "PHONE",
  ssn: "SSN",
  card: "CARD",
  iban: "IBAN",
  ip: "IP",
  secret: "SECRET",
};

/**
 * pii-redact's configuration: the catalog's `config` shallow-merged with the key's override.
 * `restore_output` puts the caller's own values back into the answer; `categories` narrows what
 * is looked for (all of them when absent).
 */
export const piiConfigSchema = z.object({
  restore_output: z.boolean().default(true),
  categories: z.array(z.enum(PII_CATEGORIES)).min(1).optional(),
});
export type PiiConfig = z.infer<typeof piiConfigSchema>;

/** Counts per category, for execution records: how many, never which. */
export type PiiCounts = Partial<Record<PiiCategory, number>>;
