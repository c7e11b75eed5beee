-- The built-in pii-redact guardrail: every mode, fail closed, restores placeholders in answers, not
-- on by default (existing keys keep unguarded behaviour until an operator or a key asks for it).
INSERT INTO "guardrails" ("name", "description", "kind", "modes", "default_on", "failure_policy", "config", "config_schema", "enabled")
VALUES (
  'pii-redact',
  'Replaces e-mail addresses, phone numbers, US SSNs, payment cards, IBANs, IP addresses and provider secrets with placeholders before the model reads them, and restores them in the answer.',
  'builtin',
  '["pre_call", "post_call", "during_call"]'::jsonb,
  false,
  'fail_closed',
  '{"restore_output": true}'::jsonb,
  '{"type":"object","properties":{"restore_output":{"type":"boolean"},"categories":{"type":"array","items":{"enum":["email","phone","ssn","card","iban","ip","secret"]}}},"additionalProperties":false}'::jsonb,
  true
)
ON CONFLICT ("name") DO NOTHING;
