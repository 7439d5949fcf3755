CREATE TABLE "message_stats" (
	"tenant_id" text NOT NULL,
	"session_id" text NOT NULL,
	"hour" timestamp with time zone NOT NULL,
	"total" bigint DEFAULT 0 NOT NULL,
	"queued" bigint DEFAULT 0 NOT NULL,
	"sent" bigint DEFAULT 0 NOT NULL,
	"delivered" bigint DEFAULT 0 NOT NULL,
	"read" bigint DEFAULT 0 NOT NULL,
	"failed" bigint DEFAULT 0 NOT NULL,
	"inbound" bigint DEFAULT 0 NOT NULL,
	"last_success_at" timestamp with time zone,
	"last_failure_at" timestamp with time zone,
	CONSTRAINT "message_stats_tenant_id_session_id_hour_pk" PRIMARY KEY("tenant_id","session_id","hour")
);
--> statement-breakpoint
ALTER TABLE "messages" ADD COLUMN "error_code" text;--> statement-breakpoint
ALTER TABLE "sessions" ADD COLUMN "external_id" text;--> statement-breakpoint
ALTER TABLE "tenants" ADD COLUMN "default_country" text;--> statement-breakpoint
ALTER TABLE "tenants" ADD COLUMN "time_zone" text;--> statement-breakpoint
CREATE INDEX "message_stats_tenant_hour_idx" ON "message_stats" USING btree ("tenant_id","hour");--> statement-breakpoint
CREATE UNIQUE INDEX "sessions_external_id_idx" ON "sessions" USING btree ("tenant_id","external_id");