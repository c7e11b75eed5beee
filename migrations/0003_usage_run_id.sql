ALTER TABLE "usage_events" ADD COLUMN "run_id" uuid;--> statement-breakpoint
CREATE INDEX "usage_events_run_idx" ON "usage_events" USING btree ("run_id");