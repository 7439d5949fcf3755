CREATE TABLE "event_sinks" (
	"id" text PRIMARY KEY NOT NULL,
	"kind" text NOT NULL,
	"tenant_ids" jsonb,
	"enabled" boolean DEFAULT true NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "sink_deliveries" (
	"event_id" text NOT NULL,
	"sink_id" text NOT NULL,
	"tenant_id" text NOT NULL,
	"session_id" text NOT NULL,
	"seq" bigint NOT NULL,
	"status" text DEFAULT 'pending' NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"next_attempt_at" timestamp with time zone DEFAULT now() NOT NULL,
	"last_error" text,
	"delivered_at" timestamp with time zone,
	CONSTRAINT "sink_deliveries_event_id_sink_id_pk" PRIMARY KEY("event_id","sink_id")
);
--> statement-breakpoint
ALTER TABLE "sink_deliveries" ADD CONSTRAINT "sink_deliveries_event_id_events_id_fk" FOREIGN KEY ("event_id") REFERENCES "public"."events"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "sink_deliveries" ADD CONSTRAINT "sink_deliveries_sink_id_event_sinks_id_fk" FOREIGN KEY ("sink_id") REFERENCES "public"."event_sinks"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "sink_deliveries_due_idx" ON "sink_deliveries" USING btree ("next_attempt_at") WHERE status = 'pending';--> statement-breakpoint
CREATE INDEX "sink_deliveries_order_idx" ON "sink_deliveries" USING btree ("sink_id","session_id","seq") WHERE status = 'pending';