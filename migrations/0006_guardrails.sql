CREATE TABLE "guardrail_executions" (
	"id" uuid PRIMARY KEY NOT NULL,
	"request_id" text NOT NULL,
	"tenant_id" uuid NOT NULL,
	"key_id" uuid,
	"run_id" uuid,
	"guardrail" text NOT NULL,
	"mode" text NOT NULL,
	"action" text NOT NULL,
	"failure_policy" text NOT NULL,
	"latency_ms" integer NOT NULL,
	"reason" text,
	"metadata" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"created_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "guardrails" (
	"name" text PRIMARY KEY NOT NULL,
	"description" text DEFAULT '' NOT NULL,
	"kind" text NOT NULL,
	"modes" jsonb NOT NULL,
	"default_on" boolean DEFAULT false NOT NULL,
	"failure_policy" text DEFAULT 'fail_closed' NOT NULL,
	"config" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"config_schema" jsonb,
	"enabled" boolean DEFAULT true NOT NULL,
	"endpoint_url" text,
	"timeout_ms" integer,
	"token_ciphertext" "bytea",
	"token_iv" "bytea",
	"token_auth_tag" "bytea",
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE INDEX "guardrail_executions_time_idx" ON "guardrail_executions" USING btree ("created_at");--> statement-breakpoint
CREATE INDEX "guardrail_executions_tenant_idx" ON "guardrail_executions" USING btree ("tenant_id","created_at");