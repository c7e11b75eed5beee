CREATE TABLE "livekit_events" (
	"id" text PRIMARY KEY NOT NULL,
	"tenant_id" uuid,
	"event" text NOT NULL,
	"room" text,
	"room_sid" text,
	"participant_sid" text,
	"participant_identity" text,
	"participant_joined_at" timestamp with time zone,
	"track_sid" text,
	"egress_id" text,
	"ingress_id" text,
	"occurred_at" timestamp with time zone NOT NULL,
	"received_at" timestamp with time zone DEFAULT now() NOT NULL,
	"payload" jsonb NOT NULL
);
--> statement-breakpoint
ALTER TABLE "livekit_events" ADD CONSTRAINT "livekit_events_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "livekit_events_tenant_time_idx" ON "livekit_events" USING btree ("tenant_id","occurred_at");--> statement-breakpoint
CREATE INDEX "livekit_events_room_idx" ON "livekit_events" USING btree ("room_sid");